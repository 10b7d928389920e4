"""Live Sentinel-2 L2A scenes from a STAC API, no account needed (chapter 1).

Earth Search (Element 84) is the default catalogue; Microsoft Planetary Computer is the
alternative (its asset addresses are signed with the ``planetary_computer`` package).
:func:`load_stac` searches items with pystac-client around each date, picks the nearest
acquisition whose window is clear enough (SCL), and reads *only the window* of the needed
Cloud-Optimised GeoTIFFs with odc-stac (HTTP range requests; no tile is downloaded whole)
onto the grid of :mod:`s2slide.data.scenes`. The Copernicus DEM GLO-30 of the same catalogue gives
``dem`` (bilinear) and ``slope``.

Harmonisation -- what this module decided
-----------------------------------------
odc-stac loads raw digital numbers: it does *not* apply the STAC ``raster:bands``
scale/offset, so nothing is applied twice. The BOA offset is taken per item:

1. Earth Search items with ``earthsearch:boa_offset_applied: true`` already hold
   ``DN - 1000`` in their COGs, so reflectance = DN / 10000 (offset 0), whatever
   ``raster:bands`` says.
2. Otherwise the offset follows ``s2:processing_baseline`` (-1000 from 04.00 on, else 0;
   the acquisition date when the baseline is missing), see :mod:`s2slide.data.harmonize`.
3. Because that flag is known to be wrong on some items (Element84/earth-search issues 66
   and 71), a -1000 offset is checked on the pixels: if clear land is mostly below DN 1000,
   the offset was evidently applied already; a warning says so and offset 0 is used.

The choice is recorded per date in the provenance (``offset``, ``offset_note``).

Example
-------
>>> from s2slide.data.live import stac
>>> ds = stac.load_stac("luding")                               # doctest: +SKIP
>>> ds = stac.load_stac("luding", catalog="planetary-computer")  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Collection, Sequence

import numpy as np

from s2slide.data import bands as s2bands
from s2slide.data import harmonize
from s2slide.config import ENDPOINTS
from s2slide.errors import InvalidInputError, NoValidDataError
from s2slide.data.live import _grid
from s2slide.data.live._grid import Acquisition
from s2slide.data.scenes import SceneSpec

EARTH_SEARCH_URL = ENDPOINTS["Earth Search STAC"]
PLANETARY_COMPUTER_URL = ENDPOINTS["Planetary Computer STAC"]


@dataclass(frozen=True)
class Catalog:
    """A STAC API holding Sentinel-2 L2A and the Copernicus DEM.

    Attributes
    ----------
    name : str
        Human name for labels and messages.
    url : str
        STAC API root.
    collection, dem_collection : str
        Collection ids of Sentinel-2 L2A and of the Copernicus DEM GLO-30.
    dem_asset : str
        Asset key of the DEM COG.
    asset_style : str
        ``"common"`` when assets are named by common name (``blue``, ``nir08``, ``scl``:
        Earth Search) or ``"band"`` when by band name (``B02``, ``B8A``, ``SCL``: Planetary
        Computer).
    signed : bool
        Asset addresses must be signed with ``planetary_computer.sign_inplace``.
    """

    name: str
    url: str
    collection: str = "sentinel-2-l2a"
    dem_collection: str = "cop-dem-glo-30"
    dem_asset: str = "data"
    asset_style: str = "common"
    signed: bool = False

    def asset(self, band: str) -> str:
        """Asset key of a band name (``"B8A"``) or of ``"SCL"`` in this catalogue."""
        if self.asset_style == "band":
            return band
        return "scl" if band == "SCL" else s2bands.BANDS[band].common_name


#: The catalogues ``catalog=`` accepts by name.
CATALOGS: dict[str, Catalog] = {
    "earth-search": Catalog("Earth Search", EARTH_SEARCH_URL),
    "planetary-computer": Catalog("Planetary Computer", PLANETARY_COMPUTER_URL,
                                  asset_style="band", signed=True),
}


def get_catalog(catalog: str | Catalog) -> Catalog:
    """A :class:`Catalog` from its name in :data:`CATALOGS` (or a Catalog itself)."""
    if isinstance(catalog, Catalog):
        return catalog
    try:
        return CATALOGS[str(catalog).lower()]
    except KeyError:
        raise InvalidInputError(f"unknown STAC catalog {catalog!r}; use one of "
                                f"{', '.join(CATALOGS)} or a stac.Catalog(...)") from None


def open_client(cat: Catalog, *, timeout: float = 20.0):
    """Open the catalogue with pystac-client (signing assets on Planetary Computer).

    Raises
    ------
    NetworkUnavailableError
        The API does not answer.
    """
    import pystac_client
    import requests

    modifier = None
    if cat.signed:
        import planetary_computer

        modifier = planetary_computer.sign_inplace
    try:
        return pystac_client.Client.open(cat.url, modifier=modifier, timeout=timeout)
    except (requests.RequestException, pystac_client.exceptions.APIError, OSError) as err:
        raise _grid.network_error(f"the {cat.name} STAC API at {cat.url}", err) from err


def search_items(client: Any, cat: Catalog, *, collection: str,
                 bbox: tuple[float, float, float, float], start: date | None = None,
                 end: date | None = None, max_items: int = 500) -> list:
    """Items of ``collection`` intersecting ``bbox`` (lon/lat), optionally between two dates."""
    import pystac_client
    import requests

    when = None if start is None else f"{start.isoformat()}T00:00:00Z/{end.isoformat()}T23:59:59Z"
    try:
        search = client.search(collections=[collection], bbox=list(bbox), datetime=when,
                               max_items=max_items)
        return list(search.items())
    except (requests.RequestException, pystac_client.exceptions.APIError, OSError) as err:
        raise _grid.network_error(f"the {cat.name} STAC search", err) from err


def items_by_day(items: Sequence, lon: float) -> dict[date, list]:
    """Group items by local solar day (the day odc-stac's ``groupby="solar_day"`` uses)."""
    days: dict[date, list] = {}
    for item in items:
        days.setdefault(_grid.solar_day(item.datetime, lon), []).append(item)
    return days


def _day_cloud(items: Sequence) -> float | None:
    covers = [it.properties.get("eo:cloud_cover") for it in items]
    covers = [c for c in covers if c is not None]
    return float(np.mean(covers)) if covers else None


def item_offset(item: Any) -> tuple[int, str | None, str]:
    """(BOA_ADD_OFFSET to apply, processing baseline, reason) for one STAC item."""
    props = item.properties
    baseline = props.get("s2:processing_baseline") or props.get("sentinel:processing_baseline")
    applied = props.get("earthsearch:boa_offset_applied",
                        props.get("sentinel:boa_offset_applied"))
    if applied is True:
        return 0, baseline, "catalogue already applied BOA_ADD_OFFSET (boa_offset_applied)"
    offset = harmonize.boa_add_offset(baseline=baseline, acquired=item.datetime.date())
    why = f"processing baseline {baseline}" if baseline else "acquisition date (no baseline)"
    return offset, baseline, f"BOA_ADD_OFFSET {offset} from {why}"


def _hrefs(items: Sequence, key: str) -> list[str]:
    return [it.assets[key].href.split("?")[0] for it in items if key in it.assets]


def read_window(items: Sequence, assets: Sequence[str], spec: SceneSpec, *,
                resampling: dict[str, str], what: str) -> dict[str, np.ndarray]:
    """Read only the scene window of ``assets`` of one day's ``items`` (odc-stac).

    Returns
    -------
    dict
        Asset key -> ndarray (y, x) on the scene grid, native dtype (DN), items of the same
        solar day mosaicked (first valid pixel wins).
    """
    import odc.stac
    from odc.geo.geobox import GeoBox
    from rasterio.errors import RasterioError

    missing = [a for a in assets if not any(a in it.assets for it in items)]
    if missing:
        raise NoValidDataError(f"the items of {what} have no asset {', '.join(missing)}; "
                               "this catalogue does not serve those bands")
    odc.stac.configure_rio(cloud_defaults=True, aws={"aws_unsigned": True})
    gbox = GeoBox(spec.shape, _grid.grid_transform(spec), f"EPSG:{spec.epsg}")
    try:
        ds = odc.stac.load(items, bands=list(assets), geobox=gbox, groupby="solar_day",
                           resampling=resampling, chunks=None, fail_on_error=True)
    except (RasterioError, OSError) as err:
        raise _grid.network_error(f"the image files of {what}", err) from err
    return {a: ds[a].isel(time=0).values for a in assets}


def _resampling(spec: SceneSpec, bands: Sequence[str], cat: Catalog) -> dict[str, str]:
    """Per asset: :func:`_grid.band_resampling` for the bands, nearest for SCL."""
    out = {cat.asset(b): _grid.band_resampling(b, spec.resolution_m) for b in bands}
    out[cat.asset("SCL")] = "nearest"
    return out


def _check_offset(dn: np.ndarray, scl: np.ndarray, offset: int, note: str,
                  day: date) -> tuple[int, str]:
    if offset == 0 or not _grid.offset_looks_applied(dn, scl):
        return offset, note
    warnings.warn(f"{day}: the catalogue says BOA_ADD_OFFSET was not applied, but clear land is "
                  "mostly below DN 1000, so it evidently was (a known catalogue error); using "
                  "offset 0", stacklevel=3)
    return 0, note + "; pixels show it was already applied: offset 0 used"


def load_date(client: Any, cat: Catalog, spec: SceneSpec, bands: Sequence[str], target: date,
              *, search_days: int, max_cloud: float, max_candidates: int,
              scl_mask: Collection[int] | None = None
              ) -> tuple[np.ndarray, np.ndarray, Acquisition]:
    """Harmonised reflectance (band, y, x), clear mask (y, x) and provenance for one date."""
    bbox = spec.bbox_lonlat()
    lon = 0.5 * (bbox[0] + bbox[2])
    items = search_items(client, cat, collection=cat.collection, bbox=bbox,
                         start=target - timedelta(days=search_days),
                         end=target + timedelta(days=search_days))
    if not items:
        raise _nearest_dates_error(client, cat, spec, target, search_days)
    days = items_by_day(items, lon)
    scl_key = cat.asset("SCL")

    def read_scl(day: date) -> tuple[np.ndarray, None]:  # SCL only: bands once a day is chosen
        return read_window(days[day], [scl_key], spec, resampling={scl_key: "nearest"},
                           what=f"{spec.name} {day}")[scl_key], None

    day, scl, _, frac = _grid.choose_day(days, target, cloud_of=lambda d: _day_cloud(days[d]),
                                         read=read_scl, max_cloud=max_cloud,
                                         max_candidates=max_candidates, where=spec.name)
    keys = [cat.asset(b) for b in bands]
    arrays = read_window(days[day], keys, spec, resampling=_resampling(spec, bands, cat),
                         what=f"{spec.name} {day}")
    dn = np.stack([arrays[k] for k in keys])
    offset, baseline, note = item_offset(days[day][0])
    offset, note = _check_offset(dn, scl, offset, note, day)
    acq = Acquisition(date=day.isoformat(), baseline=baseline, offset=offset, offset_note=note,
                      ids=[it.id for it in days[day]], cloud_fraction=frac,
                      hrefs={b: _hrefs(days[day], k) for b, k in zip(bands, keys, strict=True)}
                      | {"SCL": _hrefs(days[day], scl_key)})
    refl = harmonize.dn_to_reflectance(dn, offset=offset, nodata=0)
    return refl, _grid.valid_from_scl(scl, scl_mask=scl_mask), acq


def _nearest_dates_error(client: Any, cat: Catalog, spec: SceneSpec, target: date,
                         search_days: int) -> Exception:
    bbox = spec.bbox_lonlat()
    wide = search_items(client, cat, collection=cat.collection, bbox=bbox,
                        start=target - timedelta(days=_grid.NEAREST_SEARCH_DAYS),
                        end=target + timedelta(days=_grid.NEAREST_SEARCH_DAYS))
    days = items_by_day(wide, 0.5 * (bbox[0] + bbox[2]))
    return _grid.no_scene_error(
        where=f"{spec.name} (lon/lat bbox {', '.join(f'{v:.3f}' for v in bbox)})",
        target=target, search_days=search_days, how=f"{cat.name} ({cat.collection})",
        nearby=[(d, _day_cloud(v)) for d, v in days.items()])


def load_dem(client: Any, cat: Catalog, spec: SceneSpec) -> tuple[np.ndarray, dict[str, Any]]:
    """Copernicus DEM GLO-30 (m, float32, (y, x)) resampled bilinearly onto the scene grid."""
    items = search_items(client, cat, collection=cat.dem_collection, bbox=spec.bbox_lonlat())
    if not items:
        raise NoValidDataError(f"{cat.name} has no {cat.dem_collection} tile over {spec.name}")
    arr = read_window(items, [cat.dem_asset], spec, resampling={cat.dem_asset: "bilinear"},
                      what=f"the DEM of {spec.name}")[cat.dem_asset]
    dem = arr.astype(np.float32)
    return dem, {"collection": cat.dem_collection, "ids": [it.id for it in items],
                 "hrefs": _hrefs(items, cat.dem_asset), "resampling": "bilinear",
                 "attribution": _grid.DEM_ATTRIBUTION}


def load_stac(name: str | SceneSpec, *, catalog: str | Catalog = "earth-search",
              bands: Sequence[str] | None = None, pre_date: str | None = None,
              post_date: str | None = None, max_cloud: float = 0.2, search_days: int = 10,
              max_candidates: int = 4, timeout: float = 20.0,
              scl_mask: Collection[int] | None = None) -> Any:
    """Load a live bitemporal scene from a STAC API in the :mod:`s2slide.data` contract.

    Parameters
    ----------
    name : str or SceneSpec
        Scene name (``"luding"``, ``"barhabise"``) or a :class:`~s2slide.data.scenes.SceneSpec`.
    catalog : str or Catalog
        ``"earth-search"`` (default) or ``"planetary-computer"``.
    bands : sequence of str, optional
        Band names (default: the scene's bands, e.g. B02 B03 B04 B8A B11 for Luding).
    pre_date, post_date : str, optional
        ISO dates wanted (default: the scene's seed dates); the nearest acquisition within
        ``search_days`` whose window is clear enough is used.
    max_cloud : float
        Largest fraction (0-1) of the *window* in SCL cloud/shadow/cirrus classes.
    search_days : int
        Days searched either side of each date.
    max_candidates : int
        Acquisitions whose SCL is read before giving up with CloudCoverError.
    timeout : float
        Seconds to wait for the STAC API.
    scl_mask : collection of int, optional
        SCL classes that make a pixel not ``valid``; default
        :data:`s2slide.data.bands.SCL_INVALID` (see there why dark area / shadow, 2, is kept).

    Returns
    -------
    xarray.Dataset
        ``pre``, ``post`` (float32 reflectance, (band, y, x)), ``dem``, ``slope``, ``valid``;
        attrs ``source="live"``, ``label``, dates, baselines, ``provenance`` (JSON).

    Raises
    ------
    MissingBandError, SceneNotFoundError (lists the nearest dates with a scene),
    CloudCoverError, NetworkUnavailableError.

    Examples
    --------
    >>> ds = load_stac("luding", pre_date="2021-11-05", post_date="2022-11-20")  # doctest: +SKIP
    >>> ds.attrs["label"]                                                          # doctest: +SKIP
    'Luding, live Sentinel-2 L2A (Earth Search, 2021-11-05 / 2022-11-20)'
    """
    spec, bands, pre_day, post_day = _grid.resolve_request(name, bands, pre_date, post_date, max_cloud)
    cat = get_catalog(catalog)
    client = open_client(cat, timeout=timeout)
    opts = dict(search_days=search_days, max_cloud=max_cloud, max_candidates=max_candidates,
                scl_mask=s2bands.scl_classes(scl_mask))
    pre, valid_pre, pre_acq = load_date(client, cat, spec, bands, pre_day, **opts)
    post, valid_post, post_acq = load_date(client, cat, spec, bands, post_day, **opts)
    dem, dem_prov = load_dem(client, cat, spec)
    prov = {"route": "stac", "catalog": cat.name, "catalog_url": cat.url,
            "collection": cat.collection, "reader": "odc-stac (COG windows, HTTP range reads)",
            "harmonisation": "raw DNs (raster:bands scale/offset not applied by odc-stac); "
                             "per-date BOA_ADD_OFFSET, see pre/post offset_note",
            "dem": dem_prov, "scl_mask": sorted(opts["scl_mask"])}
    return _grid.assemble(spec, bands=bands, pre=pre, post=post, valid=valid_pre & valid_post,
                          dem=dem, pre_acq=pre_acq, post_acq=post_acq, label_source=cat.name,
                          provenance=prov)


def reachable(catalog: str | Catalog = "earth-search", *, timeout: float = 2.0) -> bool:
    """Whether the catalogue's landing page answers within ``timeout`` seconds."""
    import requests

    from s2slide import config

    if config.offline():
        return False
    try:
        return requests.get(get_catalog(catalog).url, timeout=timeout).ok
    except requests.RequestException:
        return False
