"""The real sample files of the mirror as data: Iburi, Kaikoura, inventories (chapters 1-4).

Every file comes through :mod:`s2slide.data.registry` (public address and SHA-256).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from s2slide import checks
from s2slide.data import harmonize, registry
from s2slide.errors import InvalidInputError, SceneNotFoundError

#: Band names of the Kaikoura change rasters (the files call the first one "rg").
KAIKOURA_CHANGE_BANDS = ("red_green_ratio_change", "ndvi_change", "brightness_change")


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


def iburi_scene() -> xr.Dataset:
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

    checks.xarray_object("ds", ds, kinds=("Dataset", "DataArray"), georeferenced=True,
                         example="data.load_kaikoura(69)")
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

    checks.xarray_object("like", like, kinds=("Dataset", "DataArray"),
                         example="the scene whose grid to burn onto, ds")
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

