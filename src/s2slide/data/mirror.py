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
from s2slide.errors import InvalidInputError, NoValidDataError, S2SlideError, SceneNotFoundError

#: Band names of the Kaikoura change rasters (the files call the first one "rg"), as
#: :func:`load_kaikoura` returns them: every band post-event minus pre-event (see _KAIKOURA_FILE).
KAIKOURA_CHANGE_BANDS = ("red_green_ratio_change", "ndvi_change", "brightness_change")

#: How the source made each band of ``diff_landslide_<n>.tif``, read in its Earth Engine script
#: (mhscience/landslides_detection @ 9f93913a, ``pre_processingGEE/pre_processing_thesis_mh.js``,
#: ``subtract_band`` and ``run_normalization``), from Sentinel-2 Level-1C DNs (B2, B3, B4, B8;
#: cloud-masked, least cloudy image or a median composite). Before NDVI and brightness, each
#: pre-event band is multiplied by mean(post) / mean(pre) over the region; the ratio is not.
#: (formula in the file, sign and offset load_kaikoura applies to make it post minus pre)
_KAIKOURA_FILE: dict[str, tuple[str, float, float]] = {
    "red_green_ratio_change": ("B4/B3 (post) - B4/B3 (pre) + 0.5", 1.0, -0.5),
    "ndvi_change": ("NDVI(pre) - NDVI(post), NDVI = (B8 - B4) / (B8 + B4)", -1.0, 0.0),
    "brightness_change": ("brightness(pre) - brightness(post), brightness = (B4 + B3 + B2) / 3 "
                          "/ 1000 (L1C DN, i.e. 10 x TOA reflectance)", -1.0, 0.0),
}


_IBURI_BANDS = {"B02": "B2", "B03": "B3", "B04": "B4"}


L2A_TILE = "l2a-29RKH-2020/"  #: the mirror's real L2A tile 29RKH of 2020-02-19 (COGs downsampled 10x)
L2A_ITEM = L2A_TILE + "S2A_29RKH_20200219_0_L2A.json"  #: its real Earth Search STAC item


def l2a_item() -> Any:
    """The real Earth Search STAC item (:class:`pystac.Item`) of the mirror's tile 29RKH, 2020-02-19.

    Read through :func:`s2slide.data.registry.fetch` (checksum-verified, offline from the mirror);
    chapter 1 describes it, chapter 8 reads its files in chunks.
    """
    import pystac

    return pystac.Item.from_dict(json.loads(registry.fetch(L2A_ITEM).read_text()))


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
        ``change``: float32, dims (band, y, x), bands :data:`KAIKOURA_CHANGE_BANDS`, each
        **post-event minus pre-event** as everywhere in the course (a landslide: NDVI change
        < 0, brightness and red/green ratio change > 0). The files do not all store that:
        the source's script writes ``ndvi_change`` and ``brightness_change`` as pre minus post
        and the ratio change plus 0.5 (:data:`_KAIKOURA_FILE`; each band's ``formula``
        attribute quotes the file's formula and ``to_post_minus_pre`` what was applied).
        Brightness is in the file's unit, 10 x TOA reflectance. NaN kept (tile 70: ~6 %);
        ``truth``: uint8,
        the label polygons rasterised at pixel centres (134 px for 69, 20 px for 70; they
        mark only the 6 / 9 landslides drawn by the source, not every landslide of the tile);
        ``valid``: finite in every band. EPSG:32759, 10 m.
    """
    import rasterio

    n = _check_kaikoura(n)
    with rasterio.open(registry.fetch(f"kaikoura-2016/diff_landslide_{n}.tif")) as src:
        change, transform, crs = src.read().astype(np.float32), src.transform, src.crs
    change = _to_post_minus_pre(change)
    labels = _read_labels(n)
    x, y = _grid_coords(transform, change.shape[1:])
    ds = xr.Dataset(
        {"change": (("band", "y", "x"), change, {"long_name": "bitemporal change (post - pre)"}),
         "valid": (("y", "x"), np.isfinite(change).all(0))},
        coords={"band": list(KAIKOURA_CHANGE_BANDS), "y": y, "x": x}, attrs=_kaikoura_attrs(n))
    ds = ds.rio.write_crs(crs).rio.write_transform(transform)
    ds["band"].attrs["formula"] = [_KAIKOURA_FILE[b][0] for b in KAIKOURA_CHANGE_BANDS]
    ds["band"].attrs["to_post_minus_pre"] = [
        f"{_KAIKOURA_FILE[b][1]:+g} x file {_KAIKOURA_FILE[b][2]:+g}" for b in KAIKOURA_CHANGE_BANDS]
    ds["truth"] = rasterize_inventory(labels, like=ds)
    ds.attrs["n_label_polygons"] = len(labels)
    return ds


def _to_post_minus_pre(change: np.ndarray) -> np.ndarray:
    """The file's three bands (float32, (band, y, x)) turned into post minus pre, in place."""
    for i, band in enumerate(KAIKOURA_CHANGE_BANDS):
        _, sign, shift = _KAIKOURA_FILE[band]
        change[i] = sign * change[i] + np.float32(shift)
    return change


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
                  "formulas": {b: v[0] for b, v in _KAIKOURA_FILE.items()},
                  "formula_source": "mhscience/landslides_detection @ 9f93913a, "
                                    "pre_processingGEE/pre_processing_thesis_mh.js",
                  "processing": "bands renamed (rg -> red_green_ratio_change); ndvi_change and "
                                "brightness_change negated (the file holds pre - post) and 0.5 "
                                "taken from the ratio change, so every band is post - pre; labels "
                                "rasterised with rasterio.features.rasterize at pixel centres"}
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
        "mesetas-2019": ("inventories/mesetas-2019/colombia_landslides.gpkg", None, "mesetas"),
        "luding-2022": ("inventories/luding-2022/china_landslides.gpkg", None, "luding-inventory")}
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
    """A real landslide inventory of the mirror (or, online, of its public address) as polygons.

    Parameters
    ----------
    name : str
        ``"mesetas-2019"`` (838 polygons, USGS), ``"luding-2022"`` (seed 004's Luding county
        inventory; not in the mirror: downloaded on first use, which needs the network, and
        pinned by SHA-256 then, see :data:`s2slide.data.registry.ONLINE_FILES`),
        ``"wenchuan-<year>"`` (2009: 10,335 polygons),
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
    gdf.attrs.update(source="mirror" if relpath in registry.FILES else "online", inventory=name,
                     file=relpath + (f"!{layer}" if layer else ""), licence=src.licence,
                     attribution=src.attribution, sha256=registry.info(relpath)["sha256"])
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



def with_inventory_truth(ds: xr.Dataset, inventory: str = "luding-2022") -> xr.Dataset:
    """A copy of a scene whose ``truth`` is a real inventory burnt onto its grid (pixel centres).

    For a live scene, which has no truth of its own: the inventory is then an independent
    truth of the real window, mapped by people from other imagery (chapters 3 and 4).

    Parameters
    ----------
    ds : xarray.Dataset
        A scene on a georeferenced grid (``ds.rio.crs``), e.g. ``load_scene("luding")``.
    inventory : str
        A name of :data:`INVENTORIES`; ``"luding-2022"`` needs the network on first use.

    Returns
    -------
    xarray.Dataset
        ``ds`` with ``truth`` (uint8, (y, x)) whose attrs name the inventory, its licence and
        the number of polygons in the window; ``attrs["truth_source"]`` says the same.

    Raises
    ------
    NoValidDataError
        No polygon of the inventory lies in the window (it would score every map as 0).
    NetworkUnavailableError, DownloadError, ChecksumError
        From :func:`s2slide.data.registry.fetch`.
    """
    gdf = load_inventory(inventory)
    left, bottom, right, top = ds.rio.bounds()
    inside = gdf.to_crs(ds.rio.crs).cx[left:right, bottom:top]
    if inside.empty:
        raise NoValidDataError(f"the {inventory} inventory has no polygon in this window "
                               f"({ds.attrs.get('label', '')}); score against another truth")
    truth = rasterize_inventory(inside, like=ds)
    note = (f"real inventory {inventory} ({len(inside)} polygons in the window; "
            f"{gdf.attrs['attribution']})")
    out = ds.copy()
    out["truth"] = truth.assign_attrs(long_name="landslides of a real inventory", source=note,
                                      licence=gdf.attrs["licence"])
    out.attrs["truth_source"] = note
    return out


#: The real inventory that can serve as the independent truth of a live scene, per scene name.
LIVE_TRUTH: dict[str, str] = {"luding": "luding-2022"}


def scene_truth(ds: xr.Dataset) -> tuple[xr.Dataset, str]:
    """A scene with the independent truth it can have, and one sentence saying what it is.

    Simulated scenes carry their exact truth; a live scene gets the real inventory of
    :data:`LIVE_TRUTH` (:func:`with_inventory_truth`, which needs the network on first use);
    otherwise the scene is returned as it is and the sentence says why there is no truth.

    Returns
    -------
    (xarray.Dataset, str)
        The scene (a copy when a truth was added) and the sentence, for the chapter to print.
    """
    if "truth" in ds:
        what = ("the simulation's exact truth (every new landslide pixel)"
                if ds.attrs.get("source") == "simulated" else ds["truth"].attrs.get("source", "its truth"))
        return ds, f"Independent truth: {what}."
    inventory = LIVE_TRUTH.get(str(ds.attrs.get("scene")))
    if ds.attrs.get("source") != "live" or inventory is None:
        return ds, "No independent truth for this scene: only the reference mask can score it."
    try:
        out = with_inventory_truth(ds, inventory)
    except S2SlideError as err:
        return ds, (f"No independent truth: the {inventory} inventory could not be used "
                    f"({type(err).__name__}: {err}).")
    return out, f"Independent truth: {out.attrs['truth_source']}."
