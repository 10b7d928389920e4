"""From pixels to landslides: polygons, their attributes, files and density maps (chapter 9).

A change map is a grid of pixels; a landslide map is a set of objects. :func:`polygons` turns a
mask into one polygon per 4-connected group of pixels (``rasterio.features.shapes``) with its
area, perimeter, mean slope and distance to the epicentre, dropping groups smaller than a
*minimum mapping unit*. :func:`inventory` gives a real inventory the same columns, so that
mapped, simulated and published landslides are compared with the same code. The map leaves the
notebook as a GeoPackage (:func:`write_geopackage`) and a Cloud-Optimised GeoTIFF
(:func:`write_cog`), and as an interactive web map (:func:`web_map`).

Seed 003's *spatial density maps*: :func:`density_grid` (landslides and landslide area per
km2 on a grid) and :func:`density_by_distance` (density against distance from the epicentre).
:func:`mapping_effects` measures how a mapping distorts an inventory against its truth:
landslides missed (by size), and true landslides merged into one mapped polygon.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from s2slide.errors import InvalidInputError, NoValidDataError, ShapeMismatchError

#: Columns of :func:`polygons` and :func:`inventory`.
COLUMNS = ("area_m2", "perimeter_m", "mean_slope_deg", "distance_km")
FOUR = ndimage.generate_binary_structure(2, 1)  # 4-connectivity, as rasterio's shapes default


def _label(mask: np.ndarray, min_pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """4-connected labels of ``mask`` without groups under ``min_pixels``; and the kept ids."""
    labels, n = ndimage.label(mask, structure=FOUR)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    small = sizes < min_pixels
    small[0] = True
    labels[small[labels]] = 0
    return labels, np.flatnonzero(~small)


def _metric(gdf: Any) -> Any:
    """``gdf`` in metres: its own CRS if projected, else its UTM zone."""
    if gdf.crs is None:
        raise InvalidInputError("the polygons have no CRS; set one with gdf.set_crs(...)")
    return gdf if gdf.crs.is_projected else gdf.to_crs(gdf.estimate_utm_crs())


def _distance_km(gdf: Any, epicentre_lonlat: tuple[float, float] | None) -> np.ndarray:
    if epicentre_lonlat is None:
        return np.full(len(gdf), np.nan)
    from pyproj import Transformer

    ex, ey = Transformer.from_crs(4326, gdf.crs, always_xy=True).transform(*epicentre_lonlat)
    cent = gdf.geometry.centroid
    return np.hypot(cent.x.values - ex, cent.y.values - ey) / 1000.0


def polygons(mask: Any, *, transform: Any, crs: Any, min_area_m2: float = 0.0,
             slope: Any = None, epicentre_lonlat: tuple[float, float] | None = None) -> Any:
    """Landslide polygons from a mask, one per 4-connected group of pixels.

    Parameters
    ----------
    mask : array-like of bool, (y, x)
        Landslide pixels.
    transform, crs
        Affine transform and CRS of the grid (projected, metres), e.g. ``ds.rio.transform()``.
    min_area_m2 : float
        Minimum mapping unit: groups smaller than this are dropped.
    slope : array-like, (y, x), optional
        Slope in degrees: ``mean_slope_deg`` is its mean over each polygon's pixels.
    epicentre_lonlat : (float, float), optional
        ``distance_km`` is the distance from it to each polygon's centroid.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns :data:`COLUMNS` and ``n_pixels``, in ``crs``; area = pixel count x pixel area.
    """
    import geopandas as gpd
    from rasterio import features
    from shapely.geometry import shape

    mask = np.asarray(mask, bool)
    if mask.ndim != 2:
        raise InvalidInputError(f"mask has shape {mask.shape}; give one (y, x) layer")
    px_m2 = abs(transform.a * transform.e)
    labels, ids = _label(mask, int(np.ceil(min_area_m2 / px_m2 - 1e-9)))
    geoms = {int(v): shape(g) for g, v in features.shapes(labels.astype(np.int32), mask=labels > 0,
                                                          transform=transform, connectivity=4)}
    gdf = gpd.GeoDataFrame({"label": ids}, geometry=[geoms[int(i)] for i in ids], crs=crs)
    gdf["n_pixels"] = np.bincount(labels.ravel())[ids] if ids.size else np.zeros(0, int)
    gdf["area_m2"] = gdf.geometry.area
    gdf["perimeter_m"] = gdf.geometry.length
    if slope is not None:
        if np.shape(slope) != mask.shape:
            raise ShapeMismatchError(f"slope {np.shape(slope)} and mask {mask.shape} differ")
        gdf["mean_slope_deg"] = ndimage.mean(np.asarray(slope, float), labels, ids) if ids.size else []
    else:
        gdf["mean_slope_deg"] = np.nan
    gdf["distance_km"] = _distance_km(gdf, epicentre_lonlat)
    return gdf.drop(columns="label")


def from_scene(mask: Any, ds: xr.Dataset, *, min_area_m2: float = 0.0,
               epicentre_lonlat: tuple[float, float] | None = None) -> Any:
    """:func:`polygons` of a mask on the grid of a scene (its transform, CRS and slope)."""
    slope = ds["slope"].values if "slope" in ds else None
    return polygons(mask, transform=ds.rio.transform(), crs=ds.rio.crs, min_area_m2=min_area_m2,
                    slope=slope, epicentre_lonlat=epicentre_lonlat)


def inventory(gdf: Any, *, epicentre_lonlat: tuple[float, float] | None = None) -> Any:
    """A real inventory with the columns of :func:`polygons` (in metres; no slope).

    Empty and zero-area geometries are dropped.
    """
    out = _metric(gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].copy())
    out["area_m2"] = out.geometry.area
    out = out[out["area_m2"] > 0].copy()
    out["perimeter_m"] = out.geometry.length
    out["mean_slope_deg"] = np.nan
    out["distance_km"] = _distance_km(out, epicentre_lonlat)
    return out


def areas_km2(gdf: Any) -> np.ndarray:
    """Polygon areas in km2 (float64), from ``area_m2``."""
    return np.asarray(gdf["area_m2"], dtype=np.float64) / 1e6


def write_geopackage(gdf: Any, path: str | Path, *, layer: str = "landslides") -> Path:
    """Write polygons to a GeoPackage (one layer, replaced if it exists); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gdf.to_file(path, layer=layer, driver="GPKG", mode="w")
    return path


def write_cog(layer: xr.DataArray, path: str | Path) -> Path:
    """Write a georeferenced (y, x) layer as a Cloud-Optimised GeoTIFF; returns the path."""
    if layer.rio.crs is None:
        raise InvalidInputError("the layer has no CRS; write one with .rio.write_crs(...)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = layer.astype(np.uint8) if layer.dtype == bool else layer
    data.rio.to_raster(path, driver="COG", compress="DEFLATE")
    return path


def density_grid(gdf: Any, *, cell_km: float = 1.0,
                 bounds: tuple[float, float, float, float] | None = None) -> xr.Dataset:
    """Landslides per km2 and landslide area share on a grid of ``cell_km`` cells.

    Each polygon counts once, in the cell of its centroid (its whole area goes there too).

    Returns
    -------
    xarray.Dataset
        ``landslides`` (count per cell), ``density_per_km2``, ``area_share`` (landslide area /
        cell area, 0-1), dims (y, x) with cell-centre coordinates in the polygons' CRS (m).
    """
    metric = _metric(gdf)
    if cell_km <= 0:
        raise InvalidInputError(f"cell_km={cell_km}: give a positive cell size in km, e.g. 1")
    left, bottom, right, top = bounds or tuple(metric.total_bounds)
    step = cell_km * 1000.0
    xe = left + step * np.arange(max(int(np.ceil((right - left) / step)), 1) + 1)
    ye = bottom + step * np.arange(max(int(np.ceil((top - bottom) / step)), 1) + 1)
    cent = metric.geometry.centroid
    count, _, _ = np.histogram2d(cent.y.values, cent.x.values, bins=(ye, xe))
    area, _, _ = np.histogram2d(cent.y.values, cent.x.values, bins=(ye, xe),
                                weights=metric.geometry.area.values)
    coords = {"y": 0.5 * (ye[:-1] + ye[1:]), "x": 0.5 * (xe[:-1] + xe[1:])}
    ds = xr.Dataset({"landslides": (("y", "x"), count), "density_per_km2": (("y", "x"), count / cell_km ** 2),
                     "area_share": (("y", "x"), area / step ** 2)}, coords=coords)
    return ds.isel(y=slice(None, None, -1))                # north up


def density_by_distance(gdf: Any, *, epicentre_lonlat: tuple[float, float],
                        bounds: tuple[float, float, float, float] | None = None,
                        bin_km: float = 2.0) -> Any:
    """Landslide density against distance from the epicentre, per ring of ``bin_km``.

    The area of each ring is the part of the mapped rectangle ``bounds`` (default: the
    polygons' extent, in their metric CRS) that lies in it, measured on a grid of 50 x 50 m;
    a ring outside the mapped area is left out rather than counted as empty.

    Returns
    -------
    pandas.DataFrame
        ``distance_km`` (ring centre), ``count``, ``mapped_km2``, ``density_per_km2``,
        ``area_share`` (landslide area / mapped area).
    """
    import pandas as pd
    from pyproj import Transformer

    metric = _metric(gdf)
    left, bottom, right, top = bounds or tuple(metric.total_bounds)
    ex, ey = Transformer.from_crs(4326, metric.crs, always_xy=True).transform(*epicentre_lonlat)
    gx, gy = np.meshgrid(np.arange(left + 25.0, right, 50.0), np.arange(bottom + 25.0, top, 50.0))
    ring = lambda d: np.floor(d / (bin_km * 1000.0)).astype(int)
    cells = np.bincount(ring(np.hypot(gx - ex, gy - ey)).ravel()) * 0.0025  # km2 per 50 m cell
    cent = metric.geometry.centroid
    idx = ring(np.hypot(cent.x.values - ex, cent.y.values - ey))
    n = max(cells.size, int(idx.max()) + 1 if idx.size else 0)
    count = np.bincount(idx, minlength=n)[: cells.size]
    area = np.bincount(idx, weights=metric.geometry.area.values, minlength=n)[: cells.size] / 1e6
    df = pd.DataFrame({"distance_km": (np.arange(cells.size) + 0.5) * bin_km, "count": count,
                       "mapped_km2": cells})
    df = df[df["mapped_km2"] > 0].copy()
    df["density_per_km2"] = df["count"] / df["mapped_km2"]
    df["area_share"] = area[df.index] / df["mapped_km2"]
    return df.reset_index(drop=True)


def mapping_effects(truth: Any, mapped: Any, *, small_m2: float = 1600.0) -> dict[str, Any]:
    """How a mapping distorts an inventory, measured against its truth polygons.

    Returns
    -------
    dict
        ``truth_landslides``, ``mapped_polygons``; ``found_share`` (true landslides touched by
        a mapped polygon); ``small_found_share`` and ``large_found_share`` (the same for true
        landslides below and above ``small_m2``); ``merged_polygons`` (mapped polygons that
        touch two or more true landslides) and ``merged_truth_share`` (true landslides inside
        such a polygon); ``false_polygons`` (mapped polygons touching none).
    """
    import geopandas as gpd

    if len(truth) == 0:
        raise NoValidDataError("the truth holds no landslide: nothing to measure a mapping against")
    t = truth.reset_index(drop=True).assign(t_id=lambda d: d.index)[["t_id", "area_m2", "geometry"]]
    m = mapped.to_crs(truth.crs).reset_index(drop=True).assign(m_id=lambda d: d.index)[["m_id", "geometry"]]
    pairs = gpd.sjoin(t, m, how="inner", predicate="intersects")[["t_id", "m_id"]]
    per_mapped = pairs.groupby("m_id")["t_id"].nunique()
    merged = per_mapped[per_mapped >= 2].index
    found = t["t_id"].isin(pairs["t_id"])
    small = t["area_m2"] < small_m2
    share = lambda sel: float(found[sel].mean()) if sel.any() else float("nan")
    return {"truth_landslides": len(t), "mapped_polygons": len(m), "found_share": float(found.mean()),
            "small_found_share": share(small), "large_found_share": share(~small),
            "merged_polygons": int(merged.size),
            "merged_truth_share": float(pairs[pairs["m_id"].isin(merged)]["t_id"].nunique() / len(t)),
            "false_polygons": int(len(m) - per_mapped.size)}


def _rgb_overlay(ds: xr.Dataset, when: str) -> tuple[str, list[list[float]]]:
    """True colour of ``ds[when]`` reprojected to EPSG:4326, as a PNG data URL, and its bounds.

    Reflectance 0-0.25 is stretched to 0-255 (the same for both dates); nodata is transparent.
    """
    import base64
    import io

    from PIL import Image

    rgb = ds[when].sel(band=["B04", "B03", "B02"]).rio.write_crs(ds.rio.crs)
    rgb = rgb.rio.write_nodata(np.nan).rio.reproject("EPSG:4326")
    arr = rgb.values.transpose(1, 2, 0)
    alpha = np.isfinite(arr).all(-1)
    img = np.dstack([np.clip(np.nan_to_num(arr) / 0.25, 0, 1), alpha]) * 255
    buf = io.BytesIO()
    image = Image.fromarray(img.astype(np.uint8), "RGBA").quantize(128, method=Image.Quantize.FASTOCTREE)
    image.save(buf, format="PNG", optimize=True)  # 128 colours: a third of the bytes, same picture
    w, s, e, n = rgb.rio.bounds()
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(), [[s, w], [n, e]]


def _web_polygons(gdf: Any) -> Any:
    """Polygons in EPSG:4326 for a web page: collinear vertices dropped, 1e-5 degree (~1 m) precision."""
    import shapely

    shown = gdf[["area_m2", "mean_slope_deg", "geometry"]].copy()
    shown["geometry"] = shown.geometry.simplify(0.0)
    shown = shown.to_crs(4326)
    shown["geometry"] = shapely.set_precision(shown.geometry.values, 1e-5)
    return shown.round(1)


def web_map(ds: xr.Dataset, gdf: Any, *, epicentre_lonlat: tuple[float, float] | None = None,
            title: str = "landslides") -> Any:
    """An interactive folium map: both images of a scene and the landslide polygons.

    Returns
    -------
    folium.Map
        Layers: pre- and post-event true colour (reprojected to EPSG:4326), the polygons (a
        tooltip gives area and mean slope), the epicentre; a layer control switches them.
    """
    import folium

    (pre_img, bounds), (post_img, _) = _rgb_overlay(ds, "pre"), _rgb_overlay(ds, "post")
    (s, w), (n, e) = bounds
    fmap = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=12, control_scale=True)
    for name, img in ((f"before ({ds.attrs.get('pre_date', 'pre')})", pre_img),
                      (f"after ({ds.attrs.get('post_date', 'post')})", post_img)):
        folium.raster_layers.ImageOverlay(img, bounds=bounds, name=name, opacity=1.0).add_to(fmap)
    if len(gdf):
        folium.GeoJson(_web_polygons(gdf), name=title,
                       style_function=lambda _: {"color": "#ff2d2d", "weight": 1.5, "fillOpacity": 0.25},
                       tooltip=folium.GeoJsonTooltip(["area_m2", "mean_slope_deg"])).add_to(fmap)
    if epicentre_lonlat is not None:
        folium.Marker([epicentre_lonlat[1], epicentre_lonlat[0]], tooltip="epicentre").add_to(fmap)
    folium.LayerControl().add_to(fmap)
    return fmap
