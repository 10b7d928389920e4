"""The live tier of :func:`s2slide.data.load_scene`: real Sentinel-2 L2A pixels over the network.

Three routes, one contract (see :mod:`s2slide.data`):

``"stac"`` (default, no account)
    Earth Search (or ``catalog="planetary-computer"``): windowed reads of Cloud-Optimised
    GeoTIFFs with pystac-client + odc-stac; :mod:`s2slide.data.live.stac`.
``"cdse"`` (Copernicus Data Space account, the route of seed 000)
    OData search, resumable download of the SAFE zip, band files cropped with rasterio;
    credentials from ``CDSE_USERNAME``/``CDSE_PASSWORD`` or a getpass prompt;
    :mod:`s2slide.data.live.cdse`.
``"gee"`` (Google Earth Engine account and Cloud project, the route of seed 001)
    ``COPERNICUS/S2_SR_HARMONIZED`` pixels with ``ee.data.computePixels``; project from
    ``EE_PROJECT`` or a prompt; :mod:`s2slide.data.live.gee`.

Chapters normally call ``data.load_scene("luding", source="live")``, which calls
:func:`load_live` and caches the result on disk. Each catalogue's address is a setting
(:data:`s2slide.config.ENDPOINTS`: ``S2SLIDE_EARTH_SEARCH_URL``, ``CDSE_ODATA_URL``...), read
at every call; every request of the ``stac`` and ``cdse`` routes has an overall deadline
(:mod:`s2slide.data.net`). Direct use::

    from s2slide.data import live
    live.reachable("stac")                      # True / False within about 2 s
    ds = live.load_live("luding")               # Earth Search, the seed's dates
    ds = live.load_live("luding", route="cdse")  # asks for the CDSE password if not in env
"""

from __future__ import annotations

from typing import Any, Collection, Sequence

from s2slide import config
from s2slide.data import bands as s2bands
from s2slide.errors import InvalidInputError, NetworkUnavailableError

__all__ = ["ROUTES", "load_live", "reachable", "option_names"]

#: Live routes and what each needs.
ROUTES: dict[str, str] = {
    "stac": "STAC API (Earth Search or Planetary Computer), no account",
    "cdse": "Copernicus Data Space Ecosystem, free account (CDSE_USERNAME / CDSE_PASSWORD)",
    "gee": "Google Earth Engine, account + Cloud project (EE_PROJECT)",
}


def _check_route(route: str) -> str:
    if route not in ROUTES:
        raise InvalidInputError(f"unknown live route {route!r}; use one of "
                                + ", ".join(f"{k!r} ({v})" for k, v in ROUTES.items()))
    return route


def reachable(route: str = "stac", *, timeout: float = 2.0, **options: Any) -> bool:
    """Whether a live route answers now (within about ``timeout`` seconds).

    Answers False at once when :func:`s2slide.config.offline` is true (``S2SLIDE_OFFLINE`` or
    ``CI`` set). It only checks that the service answers, not that credentials work.

    Examples
    --------
    >>> from s2slide.data import live
    >>> live.reachable("stac")   # doctest: +SKIP
    True
    """
    _check_route(route)
    if config.offline():
        return False
    if route == "stac":
        from s2slide.data.live import stac

        return stac.reachable(options.get("catalog", "earth-search"), timeout=timeout)
    if route == "cdse":
        from s2slide.data.live import cdse

        return cdse.reachable(timeout=timeout)
    from s2slide.data.live import gee

    return bool(gee.available(timeout=timeout))


def load_live(name: str, *, route: str = "stac", catalog: str = "earth-search",
              bands: Sequence[str] | None = None, pre_date: str | None = None,
              post_date: str | None = None, max_cloud: float = 0.2, search_days: int = 10,
              scl_mask: Collection[int] | None = None, **options: Any):
    """Load a live bitemporal scene in the :mod:`s2slide.data` contract (no disk cache here).

    Parameters
    ----------
    name : str
        ``"luding"`` or ``"barhabise"`` (grids and seed dates in :mod:`s2slide.data.scenes`).
    route : str
        ``"stac"``, ``"cdse"`` or ``"gee"`` (see :data:`ROUTES`).
    catalog : str
        STAC route only: ``"earth-search"`` or ``"planetary-computer"``.
    bands : sequence of str, optional
        Sentinel-2 band names; default the scene's bands (Luding: B02 B03 B04 B8A B11).
    pre_date, post_date : str, optional
        ISO dates (default the seed's); the nearest clear acquisition within ``search_days``.
    max_cloud : float
        Largest cloud/shadow fraction (0-1) of the scene window (from SCL).
    search_days : int
        Days searched either side of each date.
    scl_mask : collection of int, optional
        SCL classes that make a pixel not ``valid`` (either date); default
        :data:`s2slide.data.bands.SCL_INVALID`. ``{*bands.SCL_INVALID, *bands.SCL_SHADOW}``
        also masks dark area / topographic shadow.
    **options
        Route options, e.g. ``download_dir=`` or ``credentials=`` (cdse), ``project=`` (gee).

    Returns
    -------
    xarray.Dataset
        ``pre``/``post`` float32 reflectance (band, y, x), ``dem``, ``slope``, ``valid``; attrs
        ``source="live"``, ``label``, ``pre_date``/``post_date``, baselines, ``provenance``.

    Raises
    ------
    NetworkUnavailableError
        Offline (``S2SLIDE_OFFLINE``/``CI``) or the service does not answer; use
        ``source="mirror"`` or ``source="simulated"`` instead.
    SceneNotFoundError, CloudCoverError, MissingBandError, AuthenticationError, DownloadError

    Examples
    --------
    >>> ds = load_live("luding")                                  # doctest: +SKIP
    >>> ds = load_live("luding", catalog="planetary-computer")    # doctest: +SKIP
    >>> ds = load_live("luding", route="cdse")                    # doctest: +SKIP
    """
    _check_route(route)
    scl_mask = s2bands.scl_classes(scl_mask)
    if config.offline():
        raise NetworkUnavailableError(
            "live data is switched off (S2SLIDE_OFFLINE or CI is set); unset it to use the "
            "network, or use load_scene(..., source='mirror') or source='simulated'")
    common = dict(bands=bands, pre_date=pre_date, post_date=post_date, max_cloud=max_cloud,
                  search_days=search_days, scl_mask=scl_mask)
    if route == "stac":
        from s2slide.data.live import stac

        loader, common = stac.load_stac, {**common, "catalog": catalog}
    elif route == "cdse":
        from s2slide.data.live import cdse

        loader = cdse.load_cdse
    else:
        from s2slide.data.live import gee

        loader = gee.load_gee
    _check_options(loader, options, route)
    return loader(name, **common, **options)


def _loader(route: str) -> Any:
    if route == "stac":
        from s2slide.data.live import stac

        return stac.load_stac
    if route == "cdse":
        from s2slide.data.live import cdse

        return cdse.load_cdse
    from s2slide.data.live import gee

    return gee.load_gee


def option_names(route: str | None = None) -> set[str]:
    """Options only the live tier takes (``catalog``, ``pre_date``, ``download_dir``...), of one
    route or of all; ``load_scene`` sets them aside when it falls back to the mirror or a
    simulated scene."""
    import inspect

    routes = [_check_route(route)] if route else list(ROUTES)
    names: set[str] = set()
    for r in routes:
        names |= set(inspect.signature(_loader(r)).parameters)
    return names - {"name", "bands", "scl_mask"}  # scl_mask: the simulated tier takes it too


def _check_options(loader: Any, options: dict[str, Any], route: str) -> None:
    """Unknown options get an InvalidInputError listing the route's options."""
    import inspect

    accepted = [p for p in inspect.signature(loader).parameters if p != "name"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InvalidInputError(f"unknown option(s) {', '.join(unknown)} for the {route!r} "
                                f"route; it accepts {', '.join(accepted)}")
