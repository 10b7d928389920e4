"""The tiers of :func:`load_scene`: live, mirror, simulated (chapter 1); see :mod:`s2slide.data`."""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Sequence

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor on every Dataset returned here)
import xarray as xr

from s2slide import checks, config
from s2slide.data.cache import cache_key, cached_or_make, source_hash
from s2slide.errors import InvalidInputError, MissingBandError, NetworkUnavailableError, SceneNotFoundError

#: Accepted values of ``source``.
SOURCES = ("auto", "live", "mirror", "simulated")
_LIVE_ROUTE = "stac"


# ----------------------------------------------------------------------------- load_scene
def _mirror_scenes() -> dict[str, Callable[[], xr.Dataset]]:
    """Scenes the mirror holds in the load_scene contract (none for Luding or Barhabise)."""
    from s2slide.data.mirror import iburi_scene

    return {"iburi": iburi_scene}


def scene_names() -> list[str]:
    """Every name :func:`load_scene` accepts (course scenes and mirror scenes)."""
    from s2slide.data.scenes import SCENES

    return sorted(set(SCENES) | set(_mirror_scenes()))


def _check_request(name: Any, source: Any) -> str:
    if not isinstance(name, str) or name.lower() not in scene_names():
        raise SceneNotFoundError(
            f"unknown scene {name!r}; load_scene knows {', '.join(scene_names())}")
    if source not in SOURCES:
        raise InvalidInputError(
            f"unknown source {source!r}; use one of {', '.join(map(repr, SOURCES))}")
    return name.lower()


def live_status(route: str = _LIVE_ROUTE, *, catalog: str | None = None) -> tuple[bool, str]:
    """Whether a live route (``"stac"``, ``"cdse"``, ``"gee"``) can be used now, and why (not).

    Answers at once offline (``S2SLIDE_OFFLINE`` or ``CI``), else asks
    :func:`s2slide.data.live.reachable`, which waits about two seconds at most.

    ``catalog`` names the STAC catalogue to probe (``"earth-search"`` by default,
    ``"planetary-computer"``), as ``load_scene(..., catalog=...)`` will use it.

    Returns
    -------
    (bool, str)
        Reachable or not, and a short reason to print.
    """
    if config.offline():
        flag = "S2SLIDE_OFFLINE" if os.environ.get("S2SLIDE_OFFLINE") else "CI"
        return False, f"offline: {flag} is set"
    try:
        from s2slide.data import live
    except ImportError as err:
        return False, f"live tier unavailable ({err})"
    try:
        ok = bool(live.reachable(route, **({"catalog": catalog} if catalog else {})))
    except Exception as err:  # a probe must never stop a chapter
        return False, f"live route {route!r} probe failed ({type(err).__name__})"
    if ok:
        return True, f"live route {route!r} is reachable"
    return False, f"live route {route!r} did not answer within 2 s"


def _choose(name: str, source: str, route: str, catalog: str | None = None) -> tuple[str, str]:
    """The tier to use and a short reason for it; the live route is probed here, once.

    Raises NetworkUnavailableError for ``source="live"`` when the route cannot be used.
    """
    from s2slide.data.scenes import SCENES

    if source in ("mirror", "simulated"):
        return source, "requested"
    ok, why = (live_status(route, catalog=catalog) if source == "live" or name in SCENES
               else (False, "no live route for this scene"))
    if source == "live":
        if not ok:
            raise NetworkUnavailableError(
                f"source='live' for {name!r} is not possible ({why}); use source='mirror' (real "
                "sample files, where the mirror holds the scene) or source='simulated'")
        return "live", "requested"
    if ok:
        return "live", why
    if name in _mirror_scenes():
        return "mirror", f"{why}; the mirror holds real {name.title()} files"
    return "simulated", f"{why}; the mirror has no {name.title()} scene"


def load_scene(name: str, source: str = "auto", *, seed: int = 0, refresh: bool = False,
               route: str = _LIVE_ROUTE, bands: Sequence[str] | None = None,
               quiet: bool = False, **options: Any) -> xr.Dataset:
    """Load a bitemporal scene from the best tier available (module docstring: the contract).

    Parameters
    ----------
    name : str
        ``"luding"``, ``"barhabise"`` or ``"iburi"`` (mirror only); see :func:`scene_names`.
    source : str
        ``"auto"`` (live, else mirror, else simulated), ``"live"``, ``"mirror"`` or ``"simulated"``.
    seed : int
        Random seed of a simulated scene.
    refresh : bool
        Ignore the disk cache and load (download, simulate) again.
    route : str
        Live route: ``"stac"`` (no account), ``"cdse"`` or ``"gee"`` (see :mod:`s2slide.data.live`).
    bands : sequence of str, optional
        Keep only these bands of ``pre`` and ``post``.
    quiet : bool
        Do not print the line naming the source chosen.
    **options
        Passed on to :func:`s2slide.data.live.load_live` or :func:`s2slide.data.simulate.scene`
        (e.g. ``clouds=0.1``, ``misregistration=(0.6, -0.4)``), among them ``scl_mask``: the
        SCL classes that make a pixel not ``valid`` on either date (default
        :data:`s2slide.data.bands.SCL_INVALID`; chapter 3 measures adding shadow, SCL 2).

    Returns
    -------
    xarray.Dataset
        ``pre``, ``post`` (float32 reflectance, (band, y, x)), ``dem``, ``slope``, ``valid``,
        ``truth`` where known; attrs ``source``, ``label``, ``provenance`` ...

    Raises
    ------
    SceneNotFoundError
        Unknown scene, or a tier that does not hold it.
    InvalidInputError
        Unknown ``source`` or option.
    NetworkUnavailableError
        ``source="live"`` while offline.
    MissingBandError
        A band of ``bands`` is not in the scene.
    """
    name = _check_request(name, source)
    seed = checks.integer("seed", seed, minimum=0)
    bands = None if bands is None else _check_bands(bands)
    tier, why = _choose(name, source, route, options.get("catalog"))
    if tier != "live":
        options, why = _set_aside_live_options(options, why)
    start = time.perf_counter()
    if tier == "live" and bands is not None:  # read only the bands asked for
        options = {**options, "bands": [bands] if isinstance(bands, str) else list(bands)}
    loaders = {"live": _load_live, "mirror": _load_mirror, "simulated": _load_simulated}
    ds, cached = loaders[tier](name, seed=seed, refresh=refresh, route=route, options=options)
    if bands is not None:
        ds = _select_bands(ds, bands)
    if not quiet:
        how = "from the disk cache" if cached else "loaded"
        print(f"load_scene({name!r}): {tier} ({why}); {how} in "
              f"{time.perf_counter() - start:.1f} s: {ds.attrs.get('label', '')}")
    return ds


def _check_bands(bands: Any) -> list[str]:
    """``bands`` as a non-empty list of band names (one name may be given as a string)."""
    wanted = [bands] if isinstance(bands, str) else bands
    if not isinstance(wanted, (list, tuple)) or not wanted or not all(isinstance(b, str)
                                                                      for b in wanted):
        raise InvalidInputError(f"bands={bands!r}: name at least one band, e.g. bands=['B04', "
                                "'B8A'], or leave bands out to keep them all.")
    return list(wanted)


def _set_aside_live_options(options: dict, why: str) -> tuple[dict, str]:
    """Drop the options only the live tier takes (``catalog=``...) when another tier is used,
    and say so: ``load_scene('luding', catalog='planetary-computer')`` is documented and must
    still run offline."""
    from s2slide.data import live

    live_only = sorted(set(options) & live.option_names())
    if not live_only:
        return options, why
    kept = {k: v for k, v in options.items() if k not in live_only}
    return kept, f"{why}; {', '.join(live_only)} set aside (live data only)"


def _select_bands(ds: xr.Dataset, bands: Sequence[str]) -> xr.Dataset:
    have = [str(b) for b in ds["band"].values]
    wanted = [bands] if isinstance(bands, str) else list(bands)
    missing = [b for b in wanted if b not in have]
    if missing:
        raise MissingBandError(f"band(s) {', '.join(map(repr, missing))} not in this "
                               f"{ds.attrs.get('source', '')} scene; it has {', '.join(have)}")
    return ds.sel(band=wanted)


def _load_live(name: str, *, seed: int, refresh: bool, route: str,
               options: dict) -> tuple[xr.Dataset, bool]:
    """The live scene (cached); :func:`_choose` has already checked that the route answers."""
    from s2slide.data import live

    key = cache_key("live", name, {"route": route, **options})
    return cached_or_make(key, refresh, lambda: live.load_live(name, route=route, **options))


def _load_mirror(name: str, *, seed: int, refresh: bool, route: str,
                 options: dict) -> tuple[xr.Dataset, bool]:
    scenes = _mirror_scenes()
    if name not in scenes:
        raise SceneNotFoundError(
            f"the mirror holds no {name!r} scene (it holds {', '.join(scenes)}; no openly "
            "licensed Sentinel-2 copy of Luding or Barhabise is small enough to mirror): use "
            "source='simulated' offline, or source='live' with a network")
    if options:
        raise InvalidInputError(f"the mirror tier takes no options; got {sorted(options)}")
    return scenes[name](), False


def _load_simulated(name: str, *, seed: int, refresh: bool, route: str,
                    options: dict) -> tuple[xr.Dataset, bool]:
    from s2slide.data import simulate

    if name not in simulate.PRESETS:
        raise SceneNotFoundError(f"no simulated {name!r} scene; simulated scenes: "
                                 f"{', '.join(sorted(simulate.PRESETS))}")
    from s2slide.data.bands import SCL_INVALID  # the default mask decides ``valid``

    params = {"seed": int(seed), "generator": source_hash(simulate.__file__),
              "scl_invalid": sorted(SCL_INVALID), **options}

    def make() -> xr.Dataset:
        try:
            return simulate.scene(name, seed=seed, **options)
        except TypeError as err:
            raise InvalidInputError(f"bad option for a simulated scene: {err}; see "
                                    "help(s2slide.data.simulate.scene)") from err

    return cached_or_make(cache_key("simulated", name, params), refresh, make)



# ----------------------------------------------------------------------------- statistics
def describe_bands(ds: xr.Dataset, *, variables: Sequence[str] = ("pre", "post")):
    """Per-band statistics (reflectance) of ``pre``/``post``: valid fraction, mean, percentiles.

    Returns
    -------
    pandas.DataFrame
        One row per (variable, band): ``valid_fraction``, ``mean``, ``std``, ``p02``, ``p50``,
        ``p98`` over finite pixels.
    """
    import pandas as pd

    rows = []
    for var in variables:
        for band in ds["band"].values:
            arr = ds[var].sel(band=band).values
            good = arr[np.isfinite(arr)]
            p02, p50, p98 = (np.percentile(good, [2, 50, 98]) if good.size else (np.nan,) * 3)
            rows.append({"variable": var, "band": str(band), "valid_fraction": good.size / arr.size,
                         "mean": float(good.mean()) if good.size else np.nan,
                         "std": float(good.std()) if good.size else np.nan,
                         "p02": float(p02), "p50": float(p50), "p98": float(p98)})
    return pd.DataFrame(rows).set_index(["variable", "band"])


def rgb(ds: xr.Dataset, when: str = "post", *, bands: Sequence[str] = ("B04", "B03", "B02"),
        percentiles: tuple[float, float] = (2.0, 98.0)) -> np.ndarray:
    """A true-colour image for display: three bands stretched between two percentiles.

    The same stretch limits (taken over ``pre`` and ``post`` together) are used for both
    dates, so that a brighter post-event image looks brighter.

    Returns
    -------
    ndarray
        float32, dims (y, x, 3), values 0-1; NaN pixels (nodata) stay NaN.
    """
    if when not in ("pre", "post"):
        raise InvalidInputError(f"when={when!r}: use 'pre' or 'post'")
    if not isinstance(percentiles, (tuple, list)) or len(percentiles) != 2:
        raise InvalidInputError(f"percentiles={percentiles!r}: give (low, high), e.g. (2, 98).")
    low, high = (checks.number("percentiles", p, minimum=0, maximum=100) for p in percentiles)
    if not low < high:
        raise InvalidInputError(f"percentiles={tuple(percentiles)}: the low percentile must come "
                                "first and be smaller, e.g. (2, 98); the other way round turns "
                                "the image into black and white.")
    stack = _select_bands(ds, _check_bands(bands))
    both = np.concatenate([stack["pre"].values.ravel(), stack["post"].values.ravel()])
    lo, hi = np.nanpercentile(both, percentiles)
    img = (stack[when].values - lo) / max(hi - lo, 1e-6)
    return np.clip(np.moveaxis(img, 0, -1), 0, 1).astype(np.float32)
