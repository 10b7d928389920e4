"""One call for every chapter's data: :func:`load_scene` (chapter 1).

CONTRACT (every chapter relies on it; tests hold each tier to it)
-----------------------------------------------------------------
``load_scene(name, source="auto", **options) -> xarray.Dataset``, georeferenced with rioxarray
(``ds.rio.crs``, ``ds.rio.transform()``), with

- ``pre``, ``post``: float32, dims ``(band, y, x)``, surface reflectance 0-1 *after*
  processing-baseline harmonisation, NaN where nodata; coordinate ``band`` holds Sentinel-2
  names (``"B02"``, ``"B8A"``, ...; see :mod:`s2slide.bands`).
- ``dem`` (m, float32, ``(y, x)``), ``slope`` (degrees, float32), ``valid`` (bool: clear,
  non-nodata on both dates), and where known ``truth`` (uint8 0/1: new landslides).
- ``attrs``: ``source`` ("live" / "mirror" / "simulated"), ``scene``, ``label`` (a short
  human title naming the source, e.g. "Luding, simulated (s2slide.simulate, seed 0)"),
  ``pre_date``, ``post_date`` (ISO), ``pre_baseline``, ``post_baseline`` (e.g. "03.01"),
  ``resolution_m``, ``provenance`` (a JSON string: where every array came from, licences,
  attribution). Simulated scenes add ``seed`` and ``misregistration_px`` ([dx, dy] of the
  post image relative to the pre image, in pixels).

Scenes: ``luding`` (20 m, bands B02 B03 B04 B8A B11 live; all 12 L2A bands simulated),
``barhabise`` (10 m). The mirror adds ``iburi`` (real pixels, see :func:`load_iburi`).

Tiers of ``source="auto"``: *live* when :func:`s2slide.live.reachable` answers yes (never when
``S2SLIDE_OFFLINE`` or ``CI`` is set), else the *mirror* when it holds the scene, else
*simulated*. Live and simulated scenes are cached on disk (``<S2SLIDE_CACHE>/scenes``) as a
GeoTIFF with a JSON sidecar (attributes, provenance) and a SHA-256 sidecar.

Mirror loaders (real files of the registry, :mod:`s2slide.registry`), used by chapters 2-4:
:func:`load_iburi`, :func:`load_kaikoura`, :func:`load_kaikoura_points`, :func:`points_in`,
:func:`load_inventory`, :func:`rasterize_inventory`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor on every Dataset returned here)
import xarray as xr

from s2slide import config, harmonize, registry
from s2slide.errors import (ChecksumError, InvalidInputError, MissingBandError,
                            NetworkUnavailableError, SceneNotFoundError)

__all__ = ["SOURCES", "INVENTORIES", "KAIKOURA_CHANGE_BANDS", "load_scene", "scene_names",
           "load_iburi", "load_kaikoura", "load_kaikoura_points", "points_in", "load_inventory",
           "rasterize_inventory", "describe_bands", "live_status", "rgb"]

#: Accepted values of ``source``.
SOURCES = ("auto", "live", "mirror", "simulated")
#: Band names of the Kaikoura change rasters (the files call the first one "rg").
KAIKOURA_CHANGE_BANDS = ("red_green_ratio_change", "ndvi_change", "brightness_change")
_LIVE_ROUTE = "stac"
_SCENE_VARS = ("pre", "post", "dem", "slope", "valid", "truth")


# ----------------------------------------------------------------------------- load_scene
def _mirror_scenes() -> dict[str, Callable[[], xr.Dataset]]:
    """Scenes the mirror holds in the load_scene contract (none for Luding or Barhabise)."""
    return {"iburi": _iburi_scene}


def scene_names() -> list[str]:
    """Every name :func:`load_scene` accepts (course scenes and mirror scenes)."""
    from s2slide.scenes import SCENES

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
    :func:`s2slide.live.reachable`, which waits about two seconds at most.

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
        from s2slide import live
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
    from s2slide.scenes import SCENES

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
        Live route: ``"stac"`` (no account), ``"cdse"`` or ``"gee"`` (see :mod:`s2slide.live`).
    bands : sequence of str, optional
        Keep only these bands of ``pre`` and ``post``.
    quiet : bool
        Do not print the line naming the source chosen.
    **options
        Passed on to :func:`s2slide.live.load_live` or :func:`s2slide.simulate.scene`
        (e.g. ``clouds=0.1``, ``misregistration=(0.6, -0.4)``).

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
    tier, why = _choose(name, source, route, options.get("catalog"))
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
    from s2slide import live

    key = _cache_key("live", name, {"route": route, **options})
    return _cached_or_make(key, refresh, lambda: live.load_live(name, route=route, **options))


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
    from s2slide import simulate

    if name not in simulate.PRESETS:
        raise SceneNotFoundError(f"no simulated {name!r} scene; simulated scenes: "
                                 f"{', '.join(sorted(simulate.PRESETS))}")
    params = {"seed": int(seed), "generator": _source_hash(simulate.__file__), **options}

    def make() -> xr.Dataset:
        try:
            return simulate.scene(name, seed=seed, **options)
        except TypeError as err:
            raise InvalidInputError(f"bad option for a simulated scene: {err}; see "
                                    "help(s2slide.simulate.scene)") from err

    return _cached_or_make(_cache_key("simulated", name, params), refresh, make)


# ----------------------------------------------------------------------------- disk cache
def _source_hash(path: str) -> str:
    """Short hash of a module's source, so that a changed generator invalidates its cache."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def _cache_key(tier: str, name: str, params: dict) -> str:
    text = json.dumps(params, sort_keys=True, default=str)
    return f"{name}-{tier}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _cache_paths(key: str) -> tuple[Path, Path, Path]:
    folder = config.cache_dir() / "scenes"
    return folder / f"{key}.tif", folder / f"{key}.json", folder / f"{key}.tif.sha256"


def _cached_or_make(key: str, refresh: bool,
                    make: Callable[[], xr.Dataset]) -> tuple[xr.Dataset, bool]:
    """Read the cache entry ``key`` if intact, else ``make()`` the scene and cache it."""
    if not refresh:
        try:
            ds = _read_cache(key)
        except ChecksumError as err:
            warnings.warn(f"{err}; loading the scene again", stacklevel=4)
            ds = None
        if ds is not None:
            return ds, True
    ds = make()
    try:
        _write_cache(ds, key)
    except OSError as err:  # a full or read-only disk must not stop a chapter
        warnings.warn(f"could not cache the scene ({err}); it will be loaded again next time",
                      stacklevel=4)
    return ds, False


def _layers(ds: xr.Dataset) -> list[tuple[str, str | None, str]]:
    """(variable, band or None, dtype) of every 2-D layer written to the cache GeoTIFF."""
    out: list[tuple[str, str | None, str]] = []
    for var, da in ds.data_vars.items():
        if da.dims == ("band", "y", "x"):
            out += [(str(var), str(b), str(da.dtype)) for b in da["band"].values]
        elif da.dims == ("y", "x"):
            out.append((str(var), None, str(da.dtype)))
    return out


def _write_cache(ds: xr.Dataset, key: str) -> None:
    """Write ``ds`` as one float32 GeoTIFF (+ JSON sidecar, + SHA-256 sidecar), atomically."""
    import rasterio

    tif, meta, digest = _cache_paths(key)
    tif.parent.mkdir(parents=True, exist_ok=True)
    layers = _layers(ds)
    profile = dict(driver="GTiff", width=ds.sizes["x"], height=ds.sizes["y"], count=len(layers),
                   dtype="float32", crs=ds.rio.crs, transform=ds.rio.transform(), nodata=None)
    fd, tmp = tempfile.mkstemp(dir=tif.parent, suffix=".tif")
    os.close(fd)
    with rasterio.open(tmp, "w", **profile) as dst:
        for i, (var, band, _) in enumerate(layers, start=1):
            arr = ds[var].sel(band=band) if band is not None else ds[var]
            dst.write(arr.values.astype(np.float32), i)
            dst.set_band_description(i, var if band is None else f"{var}:{band}")
    sidecar = {"layers": layers, "attrs": ds.attrs, "x": ds["x"].values.tolist(),
               "y": ds["y"].values.tolist(),
               "var_attrs": {str(k): v.attrs for k, v in ds.data_vars.items()}}
    meta.write_text(json.dumps(sidecar, default=_json_default))
    digest.write_text(registry.sha256(Path(tmp)) + "\n")
    os.replace(tmp, tif)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _read_cache(key: str) -> xr.Dataset | None:
    """The cached scene, None when absent; ChecksumError when the GeoTIFF was altered."""
    import rasterio

    tif, meta, digest = _cache_paths(key)
    if not (tif.is_file() and meta.is_file() and digest.is_file()):
        return None
    if registry.sha256(tif) != digest.read_text().strip():
        tif.unlink()
        raise ChecksumError(f"cached scene {tif} does not match its SHA-256 sidecar")
    side = json.loads(meta.read_text())
    with rasterio.open(tif) as src:
        stack, crs, transform = src.read(), src.crs, src.transform
    return _from_layers(stack, side, crs, transform)


def _from_layers(stack: np.ndarray, side: dict, crs, transform) -> xr.Dataset:
    layers = [tuple(x) for x in side["layers"]]
    data: dict[str, Any] = {}
    bands: list[str] = []
    for var in dict.fromkeys(v for v, _, _ in layers):
        idx = [i for i, (v, _, _) in enumerate(layers) if v == var]
        dtype = np.dtype(layers[idx[0]][2])
        arr = stack[idx].astype(dtype)
        attrs = side["var_attrs"].get(var, {})
        if layers[idx[0]][1] is None:
            data[var] = (("y", "x"), arr[0], attrs)
        else:
            data[var] = (("band", "y", "x"), arr, attrs)
            bands = [layers[i][1] for i in idx]
    coords = {"y": side["y"], "x": side["x"], **({"band": bands} if bands else {})}
    ds = xr.Dataset(data, coords=coords, attrs=side["attrs"])
    return ds.rio.write_crs(crs).rio.write_transform(transform)


# ----------------------------------------------------------------------------- mirror: Iburi
_IBURI_BANDS = {"B02": "B2", "B03": "B3", "B04": "B4"}


def _read_band(relpath: str) -> tuple[np.ndarray, Any, Any]:
    import rasterio

    with rasterio.open(registry.fetch(relpath)) as src:
        return src.read(1), src.transform, src.crs


def _resample_to(relpath: str, *, transform, crs, shape: tuple[int, int]) -> np.ndarray:
    """Read a single-band raster and resample it (bilinear) onto a grid; float32, NaN nodata."""
    import rasterio
    from rasterio.warp import Resampling, reproject

    out = np.full(shape, np.nan, dtype=np.float32)
    with rasterio.open(registry.fetch(relpath)) as src:
        src_arr = src.read(1).astype(np.float32)
        if src.nodata is not None:
            src_arr[src_arr == src.nodata] = np.nan
        reproject(src_arr, out, src_transform=src.transform, src_crs=src.crs, src_nodata=np.nan,
                  dst_transform=transform, dst_crs=crs, dst_nodata=np.nan,
                  resampling=Resampling.bilinear)
    return out


def _grid_coords(transform, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre x and y coordinates of a north-up grid."""
    ny, nx = shape
    x = transform.c + (np.arange(nx) + 0.5) * transform.a
    y = transform.f + (np.arange(ny) + 0.5) * transform.e
    return x, y


def load_iburi() -> xr.Dataset:
    """The real Iburi (Hokkaido) 2018 Sentinel-2 pair of the mirror, with DSM and slope.

    Returns
    -------
    xarray.Dataset
        ``pre``, ``post``: float32 reflectance, dims (band, y, x), bands B02 B03 B04, NaN where
        the DN is 0 (nodata: the pre image is ~40 % swath edge). The files are uint16 DNs that
        look like Level-1C top-of-atmosphere reflectance x 10000 from an Earth Engine mosaic
        (no BOA offset applies; scaled by 1/10000). ``dsm`` (m) and ``slope`` (degrees): the
        ~30 m files resampled bilinearly onto the ~10 m image grid (EPSG:4326, 8.98e-5 deg).
        ``valid``: finite in every band on both dates. No ``truth``: the source has no mask.
    """
    arrays = {}
    for when in ("pre", "post"):
        bands = [_read_band(f"iburi-2018/{when}-event/download.{b}.tif")
                 for b in _IBURI_BANDS.values()]
        arrays[when] = harmonize.dn_to_reflectance(np.stack([b[0] for b in bands]), offset=0,
                                                   nodata=0)
    transform, crs = bands[0][1], bands[0][2]
    shape = arrays["pre"].shape[1:]
    grid = dict(transform=transform, crs=crs, shape=shape)
    dsm = _resample_to("iburi-2018/download.DSM.tif", **grid)
    slope = _resample_to("iburi-2018/download.slope.tif", **grid)
    valid = np.isfinite(arrays["pre"]).all(0) & np.isfinite(arrays["post"]).all(0)
    x, y = _grid_coords(transform, shape)
    ds = xr.Dataset(
        {"pre": (("band", "y", "x"), arrays["pre"], {"units": "1", "long_name": "TOA reflectance, pre-event"}),
         "post": (("band", "y", "x"), arrays["post"], {"units": "1", "long_name": "TOA reflectance, post-event"}),
         "dsm": (("y", "x"), dsm, {"units": "m", "long_name": "surface elevation (DSM), resampled"}),
         "slope": (("y", "x"), slope, {"units": "degrees"}),
         "valid": (("y", "x"), valid)},
        coords={"band": list(_IBURI_BANDS), "y": y, "x": x}, attrs=_iburi_attrs())
    return ds.rio.write_crs(crs).rio.write_transform(transform)


def _iburi_attrs() -> dict[str, Any]:
    files = [p for p in registry.FILES if p.startswith("iburi-2018/") and p.endswith(".tif")]
    src = registry.SOURCES["iburi"]
    provenance = {"files": [registry.info(p) for p in files],
                  "processing": "DN/10000 (looks like L1C TOA from an Earth Engine mosaic); DN 0 "
                                "-> NaN; DSM and slope resampled bilinear from ~30 m to the 10 m grid",
                  "truth": "none: the source has no landslide mask"}
    return {"source": "mirror", "scene": "iburi", "label": "Iburi 2018, real Sentinel-2 (mirror)",
            "event": "2018-09-06 Mw 6.6 Hokkaido Eastern Iburi earthquake, Japan",
            "event_date": "2018-09-06",
            "pre_date": "before 2018-09-06 (exact date not recorded in the source)",
            "post_date": "after 2018-09-06 (exact date not recorded in the source)",
            "pre_baseline": "n/a (L1C-like TOA mosaic)", "post_baseline": "n/a (L1C-like TOA mosaic)",
            "processing_level": "probably Level-1C top-of-atmosphere reflectance x 10000 (Earth "
                                "Engine mosaic); scaled by 1/10000, not surface reflectance",
            "resolution_m": 10.0,
            "resolution_note": "8.98e-5 degree: about 10 m north-south, 7.3 m east-west at 42.7 N",
            "licence": src.licence, "attribution": src.attribution, "has_truth": 0,
            "provenance": json.dumps(provenance)}


def _iburi_scene() -> xr.Dataset:
    """Iburi in the load_scene contract: the DSM doubles as ``dem`` (a surface model, say so)."""
    ds = load_iburi()
    ds["dem"] = ds["dsm"].assign_attrs(note="DSM (surface, not bare-earth) used as the DEM")
    return ds


# ----------------------------------------------------------------------------- mirror: Kaikoura
def _check_kaikoura(n: Any) -> int:
    if n not in (69, 70):
        raise InvalidInputError(f"load_kaikoura(n): n must be 69 or 70 (the two change rasters of "
                                f"the mirror), not {n!r}")
    return int(n)


def load_kaikoura(n: int) -> xr.Dataset:
    """A real Kaikoura 2016 Sentinel-2 change raster of the mirror, with its landslide labels.

    Parameters
    ----------
    n : int
        69 or 70 (the tile numbers of the source repository).

    Returns
    -------
    xarray.Dataset
        ``change``: float32, dims (band, y, x), bands :data:`KAIKOURA_CHANGE_BANDS` (post minus
        pre, made in Earth Engine by the source), NaN kept (tile 70: ~6 %); ``truth``: uint8,
        the label polygons rasterised at pixel centres (134 px for 69, 20 px for 70; they
        mark only the 6 / 9 landslides drawn by the source, not every landslide of the tile);
        ``valid``: finite in every band. EPSG:32759, 10 m.
    """
    import rasterio

    n = _check_kaikoura(n)
    with rasterio.open(registry.fetch(f"kaikoura-2016/diff_landslide_{n}.tif")) as src:
        change, transform, crs = src.read().astype(np.float32), src.transform, src.crs
    labels = _read_labels(n)
    x, y = _grid_coords(transform, change.shape[1:])
    ds = xr.Dataset(
        {"change": (("band", "y", "x"), change, {"long_name": "bitemporal change (post - pre)"}),
         "valid": (("y", "x"), np.isfinite(change).all(0))},
        coords={"band": list(KAIKOURA_CHANGE_BANDS), "y": y, "x": x}, attrs=_kaikoura_attrs(n))
    ds = ds.rio.write_crs(crs).rio.write_transform(transform)
    ds["truth"] = rasterize_inventory(labels, like=ds)
    ds.attrs["n_label_polygons"] = len(labels)
    return ds


def _read_labels(n: int):
    import geopandas as gpd

    stem = f"kaikoura-2016/label_landslide_{n}"
    paths = {ext: registry.fetch(f"{stem}.{ext}") for ext in ("shp", "shx", "dbf", "prj")}
    if len({p.parent for p in paths.values()}) != 1:  # a shapefile needs its parts side by side
        raise InvalidInputError(f"the parts of {stem}.shp are in different folders: {paths}")
    return gpd.read_file(paths["shp"])


def _kaikoura_attrs(n: int) -> dict[str, Any]:
    src = registry.SOURCES["kaikoura-diff"]
    files = [p for p in registry.FILES if f"_{n}." in p]
    provenance = {"files": [registry.info(p) for p in files],
                  "processing": "bands renamed (rg -> red_green_ratio_change); labels rasterised "
                                "with rasterio.features.rasterize at pixel centres"}
    return {"source": "mirror", "scene": f"kaikoura-{n}",
            "label": f"Kaikoura 2016, real Sentinel-2 change raster {n} (mirror)",
            "event": "2016-11-14 Mw 7.8 Kaikoura earthquake, New Zealand",
            "event_date": "2016-11-14", "resolution_m": 10.0,
            "truth_note": "only the landslides drawn as label polygons by the source; others "
                          "in the tile are unlabelled (see load_kaikoura_points)",
            "licence": src.licence, "attribution": src.attribution,
            "provenance": json.dumps(provenance)}


def load_kaikoura_points():
    """The 7,355 Kaikoura 2016 landslide points (GNS Science catalogue), EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        One 2-D point per landslide (the KMZ's zero heights dropped); ``attrs`` holds licence
        and attribution. Read with GDAL's KML driver through ``zip://`` (no unpacking).
    """
    import geopandas as gpd
    import shapely

    path = registry.fetch("kaikoura-2016/Landslides_Kaikoura_2016.kmz")
    raw = gpd.read_file(f"zip://{path}!doc.kml")
    gdf = gpd.GeoDataFrame(geometry=shapely.force_2d(raw.geometry.values), crs=raw.crs)
    src = registry.SOURCES["kaikoura-points"]
    gdf.attrs.update(source="mirror", label="Kaikoura 2016 landslide points (GNS Science, mirror)",
                     licence=src.licence, attribution=src.attribution)
    return gdf


def points_in(ds: xr.Dataset, points=None):
    """The points (default :func:`load_kaikoura_points`) inside a raster, in its CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        The points within ``ds``'s bounds, reprojected to ``ds.rio.crs``, with integer
        ``row`` and ``col`` of the pixel each falls in.
    """
    from rasterio.transform import rowcol

    points = load_kaikoura_points() if points is None else points
    pts = points.to_crs(ds.rio.crs)
    left, bottom, right, top = ds.rio.bounds()
    pts = pts.cx[left:right, bottom:top].copy()
    rows, cols = rowcol(ds.rio.transform(), pts.geometry.x.values, pts.geometry.y.values)
    pts["row"], pts["col"] = np.asarray(rows, dtype=int), np.asarray(cols, dtype=int)
    return pts[(pts["row"] < ds.sizes["y"]) & (pts["col"] < ds.sizes["x"])]


# ----------------------------------------------------------------------------- inventories
def _inventories() -> dict[str, tuple[str, str | None, str]]:
    """name -> (registry path, layer inside the zip or None, source key)."""
    inv: dict[str, tuple[str, str | None, str]] = {
        "mesetas-2019": ("inventories/mesetas-2019/colombia_landslides.gpkg", None, "mesetas")}
    years = {"wenchuan": ("China", (2009, 2011, 2013, 2014, 2017, 2018, 2019, 2021)),
             "rasuwa": ("Nepal", range(2013, 2020)), "porgera": ("PNG", range(2017, 2021))}
    for place, (zipname, yrs) in years.items():
        for year in yrs:
            inv[f"{place}-{year}"] = (f"inventories/bhuyan-2023/{zipname}.zip",
                                      f"{zipname}/{year}.shp", "bhuyan")
    return inv


#: Names accepted by :func:`load_inventory`.
INVENTORIES: tuple[str, ...] = tuple(_inventories())


def load_inventory(name: str):
    """A real landslide inventory of the mirror as polygons.

    Parameters
    ----------
    name : str
        ``"mesetas-2019"`` (838 polygons, USGS), ``"wenchuan-<year>"`` (2009: 10,335 polygons),
        ``"rasuwa-<year>"`` (2013-2019) or ``"porgera-<year>"`` (2017-2020); the Bhuyan et al.
        (2023) inventories were mapped by a CNN, not drawn by hand. See :data:`INVENTORIES`.

    Returns
    -------
    geopandas.GeoDataFrame
        Polygons in the file's CRS; ``attrs`` holds source, licence and attribution.
    """
    import geopandas as gpd

    inv = _inventories()
    if name not in inv:
        raise SceneNotFoundError(f"unknown inventory {name!r}; the mirror holds "
                                 f"{', '.join(INVENTORIES)}")
    relpath, layer, key = inv[name]
    path = registry.fetch(relpath)
    gdf = gpd.read_file(f"zip://{path}!{layer}" if layer else path)
    src = registry.SOURCES[key]
    gdf.attrs.update(source="mirror", inventory=name, file=relpath + (f"!{layer}" if layer else ""),
                     licence=src.licence, attribution=src.attribution)
    return gdf


def rasterize_inventory(gdf, *, like: xr.Dataset, all_touched: bool = False) -> xr.DataArray:
    """Burn polygons into a uint8 0/1 mask on the grid of ``like`` (reprojected as needed).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Landslide polygons with a CRS.
    like : xarray.Dataset or DataArray
        Grid to burn onto (``like.rio.crs``, ``like.rio.transform()``, dims (y, x)).
    all_touched : bool
        Burn every pixel a polygon touches instead of pixels whose centre is inside.

    Returns
    -------
    xarray.DataArray
        uint8, dims (y, x), 1 inside a polygon.
    """
    from rasterio import features

    if gdf.crs is None:
        raise InvalidInputError("the polygons have no CRS; set one with gdf.set_crs(...)")
    if like.rio.crs is None:
        raise InvalidInputError("`like` has no CRS; write one with ds.rio.write_crs(...)")
    shape = (like.sizes["y"], like.sizes["x"])
    geoms = [g for g in gdf.to_crs(like.rio.crs).geometry if g is not None and not g.is_empty]
    mask = (features.rasterize(((g, 1) for g in geoms), out_shape=shape, fill=0, dtype="uint8",
                               transform=like.rio.transform(), all_touched=all_touched)
            if geoms else np.zeros(shape, np.uint8))
    return xr.DataArray(mask, dims=("y", "x"), coords={"y": like["y"], "x": like["x"]},
                        attrs={"long_name": "landslide mask", "units": "1"})


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
    stack = _select_bands(ds, list(bands))
    both = np.concatenate([stack["pre"].values.ravel(), stack["post"].values.ravel()])
    lo, hi = np.nanpercentile(both, percentiles)
    img = (stack[when].values - lo) / max(hi - lo, 1e-6)
    return np.clip(np.moveaxis(img, 0, -1), 0, 1).astype(np.float32)
