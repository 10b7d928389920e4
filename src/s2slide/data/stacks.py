"""Observation stacks around an event: every acquisition of two windows, lazily (chapter 9).

A *stack* is what a multi-temporal composite is made from (:mod:`s2slide.composite`): an
:class:`xarray.Dataset` with

- ``reflectance``: float32 surface reflectance 0-1, dims (time, band, y, x), NaN where nodata,
  harmonised per acquisition (BOA offset);
- ``scl``: uint8 scene classification, dims (time, y, x);
- ``dem`` (m) and ``slope`` (degrees), dims (y, x); ``truth`` where known (simulated);
- attrs ``source`` ("live" / "simulated"), ``label``, ``event``, ``event_date``, provenance.

Routes:

- **live, no account** (:func:`stac_stack`): every Sentinel-2 L2A item of both windows from a
  STAC API, read *lazily* with odc-stac into Dask arrays on the event's grid; nothing is read
  until the composite is computed, and then only the window of each COG (HTTP range reads). It
  builds on chapter 1's :mod:`s2slide.data.live.stac` (catalogue, client, search, and its
  per-item BOA offset rule, checked against the pixels as chapter 1 does).
- **simulated** (:func:`simulated_stack`): :func:`s2slide.data.simulate.scene_series`, for
  events that have a simulation (Luding), with exact truth.
- **Earth Engine** (:func:`gee_composites`): the same median composite computed server-side on
  ``COPERNICUS/S2_SR_HARMONIZED``: a region of any size never leaves Google's machines;
  :func:`gee_scene` brings a small one back as pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import xarray as xr

from s2slide.data import bands as s2bands
from s2slide.data import events as ev_mod
from s2slide.data import harmonize
from s2slide.data.events import Event
from s2slide.errors import (
    InvalidInputError,
    NetworkUnavailableError,
    NoValidDataError,
    SceneNotFoundError,
)

#: Bands of a stack: blue, green, red, NIR (10 m, for the U-Net), narrow NIR and SWIR1 (20 m,
#: seed 000's NDVI and BSI).
DEFAULT_BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B08", "B8A", "B11")
#: SCL classes a composite leaves out: the not-clear classes of chapter 1 and snow (11).
NOT_CLEAR: tuple[int, ...] = (*s2bands.SCL_INVALID, 11)
#: Sources accepted by :func:`load_stack`.
SOURCES = ("auto", "live", "simulated")
#: Items whose tile-wide cloud cover (``eo:cloud_cover``, %) exceeds this are not read at all.
MAX_ITEM_CLOUD = 80.0


# ----------------------------------------------------------------------------- choosing
def _choose(event: Event, source: str, catalog: str) -> str:
    """``"live"`` or ``"simulated"`` for a request; errors say what to do instead."""
    from s2slide.data.live import stac

    if source not in SOURCES:
        raise InvalidInputError(f"source={source!r}; use one of {', '.join(SOURCES)}")
    if source == "simulated" and event.simulation is None:
        raise _no_simulation(event)
    if source != "auto":
        return source
    if stac.reachable(catalog):
        return "live"
    if event.simulation is not None:
        return "simulated"
    raise NetworkUnavailableError(
        f"{event.name} needs live Sentinel-2 data and the {catalog} catalogue is not reachable "
        "(offline, or no network); run with internet, or map 'luding-2022', which the course "
        "can simulate offline")


def _no_simulation(event: Event) -> SceneNotFoundError:
    return SceneNotFoundError(
        f"there is no simulation of {event.name}: offline, the course simulates only "
        "'luding-2022'; use that event, or source='live' on a machine with internet")


def load_stack(event: str | Event, *, source: str = "auto", pre_days: int = 90,
               post_days: int = 60, bands: Sequence[str] = DEFAULT_BANDS,
               catalog: str = "earth-search", resolution_m: float = 20.0, seed: int = 0,
               clouds: float = 0.4, chunk: int = 512, today: date | None = None) -> xr.Dataset:
    """The observation stack of an event's two windows (see the module docstring).

    Parameters
    ----------
    event : str or Event
        A catalogue name (:data:`s2slide.data.events.EVENTS`) or :func:`events.custom`.
    source : {"auto", "live", "simulated"}
        ``"auto"``: live when the catalogue answers, else the event's simulation.
    pre_days, post_days : int
        Window lengths before and after the event (:func:`s2slide.data.events.windows`).
    bands : sequence of str
        Sentinel-2 band names.
    catalog, resolution_m, chunk
        Live route: STAC catalogue name, grid pixel size (m), Dask chunk side (px).
    seed, clouds
        Simulated route: random seed, mean cloud fraction of a date.

    Raises
    ------
    SceneNotFoundError, InvalidInputError, NetworkUnavailableError
        Unknown event, bad dates or radius, no data route (messages say what to do).
    """
    ev = ev_mod.get_event(event)
    pre, post = ev_mod.windows(ev, pre_days=pre_days, post_days=post_days, today=today)
    if _choose(ev, source, catalog) == "simulated":
        return simulated_stack(ev, pre_days=pre_days, post_days=post_days, seed=seed,
                               clouds=clouds, bands=bands)
    return stac_stack(ev, pre=pre, post=post, bands=bands, catalog=catalog,
                      resolution_m=resolution_m, chunk=chunk)


def simulated_stack(event: str | Event, *, pre_days: int = 90, post_days: int = 60,
                    seed: int = 0, clouds: float = 0.4,
                    bands: Sequence[str] = DEFAULT_BANDS) -> xr.Dataset:
    """The simulated stack of an event that has a simulation (on the simulation's grid)."""
    from s2slide.data import simulate

    ev = ev_mod.get_event(event)
    if ev.simulation is None:
        raise _no_simulation(ev)
    ds = simulate.scene_series(ev.simulation, seed=seed, event_date=ev.date, pre_days=pre_days,
                               post_days=post_days, clouds=clouds, bands=list(bands))
    ds.attrs.update(event=ev.name)
    return ds


# ----------------------------------------------------------------------------- live (STAC)
def _resampling(bands: Sequence[str], resolution_m: float, cat: Any) -> dict[str, str]:
    """Average finer bands onto the grid, bilinear for coarser ones, nearest for SCL."""
    out = {cat.asset(b): "average" if s2bands.BANDS[b].resolution_m < resolution_m else "bilinear"
           for b in bands}
    out[cat.asset("SCL")] = "nearest"
    return out


def _geobox(spec: Any) -> Any:
    from affine import Affine
    from odc.geo.geobox import GeoBox

    return GeoBox(spec.shape, Affine(spec.resolution_m, 0.0, spec.left, 0.0, -spec.resolution_m,
                                     spec.top), f"EPSG:{spec.epsg}")


def _search(client: Any, cat: Any, spec: Any, pre: tuple[date, date],
            post: tuple[date, date]) -> list:
    """Items of both windows under :data:`MAX_ITEM_CLOUD` (the event day is left out)."""
    from s2slide.data.live import stac

    items = stac.search_items(client, cat, collection=cat.collection, bbox=spec.bbox_lonlat(),
                              start=pre[0], end=post[1], max_items=2000)
    day_after, day_before = post[0], pre[1] + timedelta(days=1)
    keep = [it for it in items if (it.properties.get("eo:cloud_cover") or 0.0) <= MAX_ITEM_CLOUD
            and not day_before <= it.datetime.date() < day_after]
    if not keep:
        raise SceneNotFoundError(
            f"{cat.name} has no Sentinel-2 L2A item under {MAX_ITEM_CLOUD:g}% cloud over "
            f"{spec.name} between {pre[0]} and {post[1]} ({len(items)} found in all); lengthen "
            "the windows, check the area, or (before 2017-2018) the archive may be sparse there")
    return keep


def _item_offsets(items: Sequence, spec: Any, cat: Any, bands: Sequence[str]) -> list[dict]:
    """Each item's BOA offset: chapter 1's rule from its metadata, then checked on its pixels.

    Decided per item, never per day (two tiles of one day can need different offsets), as
    :func:`s2slide.data.live.stac.harmonised_day` does; the pixels are the dark references of
    :func:`s2slide.data.live.stac.check_item_offset` (vegetation in blue and red, water in SWIR),
    read from the COGs' overviews on an 8x coarser grid, so the check costs a few small reads.
    A warning says where the pixels overrule the metadata.

    Returns
    -------
    list of dict
        ``id``, ``baseline``, ``offset``, ``note`` per item, in the order of ``items``.
    """
    import odc.stac

    from s2slide.data.live import _grid, stac

    dark = sorted({b for names in _grid.DARK_REFERENCES.values() for b in names} & set(bands)) or ["B04"]
    keys, scl = [cat.asset(b) for b in dark], cat.asset("SCL")
    coarse = odc.stac.load(items, bands=[*keys, scl], crs=f"EPSG:{spec.epsg}", groupby="id",
                           resolution=spec.resolution_m * 8, bbox=spec.bbox_lonlat(),
                           resampling="nearest", chunks=None, fail_on_error=True)
    return [stac.item_decision(item, np.stack([coarse[k].values[i] for k in keys]), dark,
                               coarse[scl].values[i], what=spec.name)
            for i, item in enumerate(items)]


def _lazy_stack(items: Sequence, offsets: Sequence[dict], spec: Any, cat: Any,
                bands: Sequence[str], chunk: int) -> xr.Dataset:
    """Every item as its own time step (odc-stac ``groupby="id"``), lazily: reflectance
    (time, band, y, x) with each item's offset, and SCL (time, y, x)."""
    import odc.stac

    keys = [cat.asset(b) for b in bands]
    ds = odc.stac.load(items, bands=[*keys, cat.asset("SCL")], geobox=_geobox(spec), groupby="id",
                       resampling=_resampling(bands, spec.resolution_m, cat),
                       chunks={"x": chunk, "y": chunk}, fail_on_error=True)
    if ds.sizes["time"] != len(items):
        raise NoValidDataError(f"odc-stac returned {ds.sizes['time']} time steps for "
                               f"{len(items)} items; the item order cannot be trusted")
    dn = ds[keys].to_array("band").transpose("time", "band", "y", "x").assign_coords(band=list(bands))
    offset = xr.DataArray(np.asarray([d["offset"] for d in offsets], np.int32), dims="time")
    return xr.Dataset({"reflectance": lazy_reflectance(dn, offset),
                       "scl": ds[cat.asset("SCL")].astype(np.uint8)})


def lazy_reflectance(dn: xr.DataArray, offset: xr.DataArray) -> xr.DataArray:
    """:func:`s2slide.data.harmonize.dn_to_reflectance` chunk by chunk, each acquisition with its
    own offset: the same conversion as the other routes (NaN where DN is 0, negatives clipped).

    Parameters
    ----------
    dn : xarray.DataArray of int, dims (time, band, y, x)
        L2A digital numbers, NumPy- or Dask-backed (Dask stays lazy).
    offset : xarray.DataArray of int, dims (time,)
        ``BOA_ADD_OFFSET`` of each acquisition.

    Returns
    -------
    xarray.DataArray, float32, dims (time, band, y, x)
        Surface reflectance 0-1.
    """
    return xr.apply_ufunc(lambda d, o: harmonize.dn_to_reflectance(d, offset=o), dn, offset,
                          dask="parallelized", output_dtypes=[np.float32])


def stac_stack(event: str | Event, *, pre: tuple[date, date], post: tuple[date, date],
               bands: Sequence[str] = DEFAULT_BANDS, catalog: str = "earth-search",
               resolution_m: float = 20.0, chunk: int = 512, timeout: float = 20.0) -> xr.Dataset:
    """Every L2A acquisition of both windows over the event's grid, lazily (odc-stac + Dask).

    Every item is its own time step (odc-stac ``groupby="id"``: a day with two tiles gives two
    steps, each NaN outside its tile), converted to reflectance with the offset decided for it
    (:func:`_item_offsets`); the Copernicus DEM of the same catalogue gives ``dem`` and
    ``slope`` (read at once).

    Raises
    ------
    NetworkUnavailableError
        The catalogue or its files do not answer (bounded by ``timeout`` and GDAL's timeout).
    SceneNotFoundError
        No item in the windows.
    """
    from s2slide.data import simulate
    from s2slide.data.live import _grid, stac

    ev = ev_mod.get_event(event)
    spec = ev.grid(resolution_m)
    cat = stac.get_catalog(catalog)
    client = stac.open_client(cat, timeout=timeout)
    items = sorted(_search(client, cat, spec, pre, post), key=lambda it: (it.datetime, it.id))
    stac._configure_gdal(timeout)  # the STAC route's GDAL time limits
    offsets = _item_offsets(items, spec, cat, bands)
    stack = _lazy_stack(items, offsets, spec, cat, bands, chunk)
    dem, dem_prov = stac.load_dem(client, cat, spec, timeout=timeout)
    y, x = _grid.grid_coords(spec)
    stack = stack.assign_coords(y=y, x=x)
    stack["dem"] = (("y", "x"), dem)
    stack["slope"] = (("y", "x"), simulate.slope_aspect(dem, res_m=spec.resolution_m)[0])
    stack.attrs.update(source="live", scene=ev.name, event=ev.name, event_date=ev.date,
                       resolution_m=float(resolution_m),
                       label=f"{ev.title}, live Sentinel-2 L2A ({cat.name}, {len(items)} items)",
                       provenance=_provenance(cat, items, offsets, dem_prov))
    return stack.rio.write_crs(f"EPSG:{spec.epsg}").rio.write_transform(_geobox(spec).transform)


def _provenance(cat: Any, items: Sequence, offsets: Sequence[dict], dem_prov: dict) -> str:
    import json

    from s2slide.data.live import _grid

    days = sorted({it.datetime.date().isoformat() for it in items})
    return json.dumps({"route": "stac (odc-stac, Dask, lazy; every item its own time step)",
                       "catalog": cat.name, "catalog_url": cat.url, "collection": cat.collection,
                       "items": list(offsets), "dem": dem_prov,
                       "harmonisation": "per-item BOA offset: chapter 1's rule from the metadata, "
                                        "checked on the item's pixels (COG overviews)",
                       "licence": _grid.licence(*days)}, default=str)


# ----------------------------------------------------------------------------- Earth Engine
def _ee_clear(image: Any) -> Any:
    """An image with its not-clear SCL classes (:data:`NOT_CLEAR`) masked (server-side)."""
    scl = image.select("SCL")
    keep = scl.neq(NOT_CLEAR[0])
    for code in NOT_CLEAR[1:]:
        keep = keep.And(scl.neq(code))
    return image.updateMask(keep)


def gee_composites(event: str | Event, *, pre_days: int = 90, post_days: int = 60,
                   bands: Sequence[str] = DEFAULT_BANDS, method: str = "median",
                   today: date | None = None) -> dict[str, Any]:
    """Median (or greenest-pixel) composites of both windows, computed by Earth Engine.

    ``COPERNICUS/S2_SR_HARMONIZED`` (already harmonised: reflectance = DN / 10000), SCL-masked
    per image as :data:`NOT_CLEAR`, items over :data:`MAX_ITEM_CLOUD` % cloud dropped, then
    ``median()`` (or ``qualityMosaic`` on NDVI). Nothing is computed until a result is asked
    for; :func:`gee_scene` fetches a small region, ``ee.batch.Export`` a large one.
    Earth Engine must be initialised (:func:`s2slide.data.live.gee.initialize`).

    Returns
    -------
    dict
        ``pre``, ``post`` (ee.Image, bands named as ``bands``, reflectance 0-1),
        ``n_clear_pre``, ``n_clear_post`` (ee.Image), ``region`` (ee.Geometry), ``spec``
        (the event's grid) and ``windows``.
    """
    from s2slide.data.live import gee

    ee = gee._require_initialized()
    ev = ev_mod.get_event(event)
    pre, post = ev_mod.windows(ev, pre_days=pre_days, post_days=post_days, today=today)
    spec = ev.grid(20.0)
    region = ee.Geometry.Rectangle(list(spec.bbox_lonlat()), "EPSG:4326", False)
    names = [gee.ee_band(b) for b in bands]

    def window(start: date, end: date) -> tuple[Any, Any]:
        col = (ee.ImageCollection(gee.COLLECTION).filterBounds(region)
               .filterDate(start.isoformat(), (end + timedelta(days=1)).isoformat())
               .filter(ee.Filter.lte("CLOUDY_PIXEL_PERCENTAGE", MAX_ITEM_CLOUD))
               .map(_ee_clear).select(names, list(bands)))
        if method == "median":
            comp = col.median()
        else:
            comp = col.map(lambda im: im.addBands(im.normalizedDifference(["B8A", "B04"])
                                                  .rename("ndvi"))).qualityMosaic("ndvi")
        return comp.select(list(bands)).divide(10_000).toFloat(), col.select(bands[0]).count()

    (pre_img, n_pre), (post_img, n_post) = window(*pre), window(*post)
    return {"pre": pre_img, "post": post_img, "n_clear_pre": n_pre, "n_clear_post": n_post,
            "region": region, "spec": spec, "windows": (pre, post), "event": ev,
            "bands": tuple(bands)}


_NODATA = -9999.0  # masked pixels of a server-side composite, NaN once fetched


def gee_scene(comps: dict[str, Any]) -> xr.Dataset:
    """Bring the composites of :func:`gee_composites` back as a scene (data contract).

    ``ee.data.computePixels`` on the event's grid; one request per image is limited to about
    48 MB, so this is for areas of at most about 1,000 x 1,000 px: export larger ones.
    """
    from s2slide.data.live import _grid, gee

    spec, ev = comps["spec"], comps["event"]
    if spec.width * spec.height > 1_100_000:
        raise InvalidInputError(f"{spec.width} x {spec.height} px is too large to bring back in "
                                "one request; use a smaller radius_km, or export the composites "
                                f"(ee.batch.Export.image.toDrive); {ev_mod.LARGE_AREA_HINT}")
    arrays = {}
    for key in ("pre", "post", "n_clear_pre", "n_clear_post"):
        image = comps[key].unmask(_NODATA if key in ("pre", "post") else 0)  # JSON has no NaN
        names = list(image.bandNames().getInfo())
        arr = gee.structured_to_stack(_compute(image, spec), names).astype(np.float32)
        arrays[key] = np.where(arr == _NODATA, np.nan, arr) if key in ("pre", "post") else arr
    dem, _ = gee.load_dem(spec)
    return _gee_dataset(spec, ev, comps, arrays, dem, _grid.grid_coords(spec))


def _compute(image: Any, spec: Any) -> np.ndarray:
    import ee

    from s2slide.data.live import gee

    try:
        return ee.data.computePixels({"expression": image, "fileFormat": "NUMPY_NDARRAY",
                                      "grid": gee.pixel_grid(spec)})
    except ee.EEException as err:
        raise NoValidDataError(f"Earth Engine could not compute the composite: {err}") from err


def _gee_dataset(spec: Any, ev: Event, comps: dict, arrays: dict, dem: np.ndarray,
                 coords: tuple[np.ndarray, np.ndarray]) -> xr.Dataset:
    from s2slide.data import simulate

    names = list(comps["bands"])
    n_pre, n_post = arrays["n_clear_pre"][0], arrays["n_clear_post"][0]
    valid = (n_pre > 0) & (n_post > 0)
    (pre0, pre1), (post0, post1) = comps["windows"]
    ds = xr.Dataset({"pre": (("band", "y", "x"), arrays["pre"].astype(np.float32)),
                     "post": (("band", "y", "x"), arrays["post"].astype(np.float32)),
                     "valid": (("y", "x"), valid), "dem": (("y", "x"), dem),
                     "slope": (("y", "x"), simulate.slope_aspect(dem, res_m=spec.resolution_m)[0]),
                     "n_clear_pre": (("y", "x"), n_pre.astype(np.int16)),
                     "n_clear_post": (("y", "x"), n_post.astype(np.int16))},
                    coords={"band": names, "y": coords[0], "x": coords[1]})
    ds.attrs.update(source="live", scene=ev.name, event=ev.name, event_date=ev.date,
                    composite="median (Earth Engine)", resolution_m=float(spec.resolution_m),
                    pre_date=f"{pre0}/{pre1}", post_date=f"{post0}/{post1}",
                    label=f"{ev.title}, Earth Engine median composites (S2_SR_HARMONIZED)")
    return ds.rio.write_crs(f"EPSG:{spec.epsg}").rio.write_transform(_geobox(spec).transform)
