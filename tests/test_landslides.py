"""From pixels to landslides: polygons, files, density maps and mapping effects."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine

from s2slide import data, landslides
from s2slide.errors import InvalidInputError, NoValidDataError

RES = 20.0
TRANSFORM = Affine(RES, 0.0, 500_000.0, 0.0, -RES, 3_300_000.0)
CRS = "EPSG:32647"


def _blobs(seed: int = 0, shape=(120, 150), n=40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, bool)
    for _ in range(n):
        r, c = rng.integers(0, shape[0] - 8), rng.integers(0, shape[1] - 8)
        h, w = rng.integers(1, 8, 2)
        mask[r:r + h, c:c + w] = True
    mask[rng.random(shape) < 0.01] = True  # single pixels and diagonal touches
    return mask


def test_polygonisation_round_trip_preserves_every_area():
    """Each polygon is a 4-connected group: area = its pixels (within one pixel), and rasterised
    back the polygons give the mask again."""
    from rasterio import features
    from scipy import ndimage

    mask = _blobs()
    gdf = landslides.polygons(mask, transform=TRANSFORM, crs=CRS)
    _, n = ndimage.label(mask, structure=landslides.FOUR)
    assert len(gdf) == n and (gdf.geometry.is_valid).all()
    assert np.all(np.abs(gdf["area_m2"] - gdf["n_pixels"] * RES ** 2) <= RES ** 2)
    back = features.rasterize(((g, 1) for g in gdf.geometry), out_shape=mask.shape,
                              transform=TRANSFORM, dtype="uint8")
    assert np.array_equal(back.astype(bool), mask)
    assert gdf["area_m2"].sum() == pytest.approx(mask.sum() * RES ** 2)


def test_minimum_mapping_unit_drops_small_groups():
    mask = _blobs(1)
    every = landslides.polygons(mask, transform=TRANSFORM, crs=CRS)
    kept = landslides.polygons(mask, transform=TRANSFORM, crs=CRS, min_area_m2=4 * RES ** 2)
    assert len(kept) == int((every["n_pixels"] >= 4).sum()) and kept["area_m2"].min() >= 1600


def test_attributes_slope_perimeter_and_distance():
    mask = np.zeros((50, 50), bool)
    mask[10:13, 20:24] = True  # 3 x 4 pixels
    slope = np.full(mask.shape, 10.0)
    slope[10:13, 20:22] = 40.0
    from pyproj import Transformer

    # the epicentre 1 km east of the block's centre
    cx, cy = TRANSFORM * (22, 11.5)
    lonlat = Transformer.from_crs(CRS, 4326, always_xy=True).transform(cx + 1000.0, cy)
    gdf = landslides.polygons(mask, transform=TRANSFORM, crs=CRS, slope=slope, epicentre_lonlat=lonlat)
    row = gdf.iloc[0]
    assert row["area_m2"] == 12 * RES ** 2 and row["perimeter_m"] == 2 * (3 + 4) * RES
    assert row["mean_slope_deg"] == pytest.approx(25.0)
    assert row["distance_km"] == pytest.approx(1.0, abs=1e-3)


def test_empty_mask_gives_no_polygon_and_bad_input_is_refused():
    gdf = landslides.polygons(np.zeros((10, 10), bool), transform=TRANSFORM, crs=CRS, slope=np.ones((10, 10)))
    assert len(gdf) == 0 and list(landslides.COLUMNS) <= list(gdf.columns)
    with pytest.raises(InvalidInputError, match="one \\(y, x\\) layer"):
        landslides.polygons(np.zeros((2, 3, 3), bool), transform=TRANSFORM, crs=CRS)


def test_geopackage_and_cog_are_written_and_read_back(tmp_path):
    import geopandas as gpd

    mask = _blobs(2)
    gdf = landslides.polygons(mask, transform=TRANSFORM, crs=CRS, slope=np.ones(mask.shape))
    path = landslides.write_geopackage(gdf, tmp_path / "out" / "slides.gpkg")
    back = gpd.read_file(path, layer="landslides")
    assert len(back) == len(gdf) and back.crs.to_epsg() == 32647
    layer = xr.DataArray(mask, dims=("y", "x")).rio.write_crs(CRS).rio.write_transform(TRANSFORM)
    tif = landslides.write_cog(layer, tmp_path / "mask.tif")
    with rasterio.open(tif) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert np.array_equal(src.read(1).astype(bool), mask) and src.transform == TRANSFORM
    with pytest.raises(InvalidInputError, match="no CRS"):
        landslides.write_cog(xr.DataArray(mask, dims=("y", "x")), tmp_path / "x.tif")


def test_density_grid_sums_to_the_count():
    gdf = landslides.polygons(_blobs(3), transform=TRANSFORM, crs=CRS)
    grid = landslides.density_grid(gdf, cell_km=0.5)
    assert int(grid["landslides"].sum()) == len(gdf)
    assert float((grid["area_share"] * 0.25e6).sum()) == pytest.approx(gdf["area_m2"].sum())
    assert (np.diff(grid["y"].values) < 0).all()  # north up
    with pytest.raises(InvalidInputError):
        landslides.density_grid(gdf, cell_km=0)


def test_density_by_distance_counts_every_landslide_in_the_mapped_rings():
    from pyproj import Transformer

    gdf = landslides.polygons(_blobs(4), transform=TRANSFORM, crs=CRS)
    left, top = TRANSFORM.c, TRANSFORM.f
    bounds = (left, top - 120 * RES, left + 150 * RES, top)
    lonlat = Transformer.from_crs(CRS, 4326, always_xy=True).transform(left, top)
    df = landslides.density_by_distance(gdf, epicentre_lonlat=lonlat, bounds=bounds, bin_km=0.5)
    assert df["count"].sum() == len(gdf)
    assert df["mapped_km2"].sum() == pytest.approx((150 * RES) * (120 * RES) / 1e6, rel=1e-3)


def test_mapping_effects_misses_and_merges():
    truth = np.zeros((40, 40), bool)
    truth[5:10, 5:10] = truth[5:10, 11:16] = True  # two neighbours 1 px apart
    truth[30, 30] = True                            # a small one
    mapped = np.zeros_like(truth)
    mapped[5:10, 5:16] = True                       # merges the neighbours, misses the small one
    mapped[20:23, 20:23] = True                     # a false alarm
    t = landslides.polygons(truth, transform=TRANSFORM, crs=CRS)
    m = landslides.polygons(mapped, transform=TRANSFORM, crs=CRS)
    fx = landslides.mapping_effects(t, m, small_m2=1000.0)
    assert fx["truth_landslides"] == 3 and fx["mapped_polygons"] == 2
    assert fx["found_share"] == pytest.approx(2 / 3) and fx["small_found_share"] == 0.0
    assert fx["merged_polygons"] == 1 and fx["merged_truth_share"] == pytest.approx(2 / 3)
    assert fx["false_polygons"] == 1
    with pytest.raises(NoValidDataError):
        landslides.mapping_effects(t.iloc[:0], m)


def test_real_inventory_gets_the_same_columns(mirror):
    """Mesetas 2019 (838 real polygons, EPSG:4326): projected to metres, 2.3 km2 in all."""
    inv = landslides.inventory(data.load_inventory("mesetas-2019"), epicentre_lonlat=(-74.01, 3.49))
    assert len(inv) == 838 and inv.crs.is_projected
    assert inv["area_m2"].sum() / 1e6 == pytest.approx(2.3, abs=0.05)
    assert (inv["distance_km"] < 40).all() and set(landslides.COLUMNS) <= set(inv.columns)


def test_web_map_holds_both_images_and_the_polygons():
    from s2slide.data import simulate

    ds = simulate.scene("luding", seed=0, shape=(48, 48))
    gdf = landslides.from_scene(ds["truth"].values == 1, ds)
    html = landslides.web_map(ds, gdf, epicentre_lonlat=(102.08, 29.59)).get_root().render()
    assert html.count("L.imageOverlay") == 2 and "epicentre" in html
    assert ("L.geoJson" in html) == (len(gdf) > 0)
