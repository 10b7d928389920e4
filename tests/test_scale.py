"""s2slide.scale: chunked results equal the in-memory computation; memory stays bounded."""

from __future__ import annotations

import threading
import time

import dask
import numpy as np
import psutil
import pytest

from s2slide import indices, scale
from s2slide.errors import InvalidInputError, NetworkUnavailableError, NoValidDataError


@pytest.fixture(scope="module")
def tile():
    """A 256 x 256 simulated tile in 64 px chunks, lazy and computed."""
    lazy = scale.simulated_tile(size=256, chunk=64, seed=3)
    with dask.config.set(scheduler="synchronous"):
        return lazy, lazy.compute()


def test_tile_is_lazy_deterministic_and_a_crop_of_the_full_tile(tile):
    lazy, computed = tile
    assert lazy["pre"].chunks == ((2,), (64,) * 4, (64,) * 4)
    assert lazy.attrs["source"] == "simulated" and "simulated" in lazy.attrs["label"]
    again = scale.simulated_tile(size=256, chunk=64, seed=3)["post"].values
    np.testing.assert_array_equal(again, computed["post"].values)
    window = scale.tile_block(64, 128, 0, 64, seed=3)  # chunk (1, 0) made directly
    np.testing.assert_array_equal(window[2:4], computed["post"].values[:, 64:128, :64])
    full = scale.simulated_tile(seed=3)  # the full tile: only its graph is built
    assert full["pre"].shape == (2, scale.TILE_PX, scale.TILE_PX)
    assert 0.001 < float(computed["truth"].mean()) < 0.2
    assert 0 < float(computed["pre"].min()) and float(computed["pre"].max()) < 1


def test_chunked_dndvi_mask_equals_in_memory(tile):
    lazy, computed = tile
    pre = indices.ndvi(nir=computed["pre"].sel(band="B08").values, red=computed["pre"].sel(band="B04").values)
    post = indices.ndvi(nir=computed["post"].sel(band="B08").values, red=computed["post"].sel(band="B04").values)
    expected = indices.dndvi_mask(pre, post)
    mask = scale.dndvi_mask(lazy)
    assert mask.chunks is not None  # still lazy
    np.testing.assert_array_equal(mask.values, expected)
    assert expected[computed["truth"].values].all()  # every simulated scar loses NDVI
    np.testing.assert_array_equal(scale.dndvi_mask(computed).values, expected)  # numpy input too


def test_kmeans_fitted_on_a_sample_and_applied_per_chunk_equals_in_memory(tile):
    lazy, computed = tile
    feat = scale.features(lazy)
    sample = scale.sample_pixels(feat, n=2000, n_chunks=3, seed=0)
    assert sample.shape == (2000, 2)
    model = scale.fit_kmeans(sample, seed=0)
    labels = scale.predict_chunks(model, feat).values
    pixels = feat.values.reshape(2, -1).T
    np.testing.assert_array_equal(labels.ravel(), model.predict(pixels))
    scar = labels == scale.scar_cluster(model)
    dndvi = feat.values[0]
    assert dndvi[scar].mean() < -0.2 < dndvi[~scar].mean()  # the scar cluster lost vegetation
    with pytest.raises(InvalidInputError, match="at least k"):
        scale.fit_kmeans(sample[:2], k=3)


def test_tiled_unet_with_overlap_equals_whole_image_inference(tile):
    lazy, computed = tile
    arch = {"base_filters": 4, "depth": 3}
    from s2slide.models.unet import build_unet

    weights = build_unet(2, size=64, seed=0, **arch).get_weights()  # untrained: exactness only
    feat = scale.features(lazy).chunk(y=128, x=128)
    whole = scale.unet_predict_array(feat.values, weights=weights, arch=arch)
    tiled = scale.unet_chunks(feat, weights=weights, arch=arch, overlap=32).values
    no_halo = scale.unet_chunks(feat, weights=weights, arch=arch, overlap=0).values
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    assert np.abs(no_halo - whole).max() > 10 * np.abs(tiled - whole).max() + 1e-4  # seams
    with pytest.raises(InvalidInputError, match="multiple of 4"):
        scale.unet_chunks(feat, weights=weights, arch=arch, overlap=30)
    with pytest.raises(InvalidInputError, match="multiple of 4 px"):
        scale.unet_chunks(feat.chunk(y=90, x=90), weights=weights, arch=arch, overlap=32)
    with pytest.raises(InvalidInputError, match="smaller than overlap"):
        scale.unet_chunks(feat, weights=weights, arch=arch, overlap=160)


def _peak_rss_during(work) -> tuple[object, float]:
    """Run ``work()`` and return (result, peak RSS growth in MB), sampled every 20 ms."""
    proc, peak, done = psutil.Process(), [0], threading.Event()
    base = proc.memory_info().rss

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss - base)
            time.sleep(0.02)

    thread = threading.Thread(target=sample)
    thread.start()
    try:
        result = work()
    finally:
        done.set()
        thread.join()
    return result, peak[0] / 2**20


def test_memory_stays_bounded_by_chunks_not_tile():
    lazy = scale.simulated_tile(size=2048, chunk=256, seed=1)
    tile_mb = 5 * 2048 * 2048 * 4 / 2**20  # the tile's arrays, if held in memory: 80 MB
    with dask.config.set(scheduler="synchronous"):
        (count, density), grew_mb = _peak_rss_during(
            lambda: dask.compute(scale.dndvi_mask(lazy).sum(), scale.density_map(scale.dndvi_mask(lazy))))
    assert 0 < int(count) < 2048 * 2048 and density.shape == (33, 33)
    assert grew_mb < 0.5 * tile_mb, f"memory grew by {grew_mb:.0f} MB for a {tile_mb:.0f} MB tile"


def test_errors_say_how_to_fix(monkeypatch):
    with pytest.raises(InvalidInputError, match="10980"):
        scale.simulated_tile(size=20_000)
    with pytest.raises(InvalidInputError, match="at least 16"):
        scale.simulated_tile(size=256, chunk=8)
    with pytest.raises(InvalidInputError, match="positive block"):
        scale.density_map(scale.dndvi_mask(scale.simulated_tile(size=64, chunk=32)), factor=0)
    monkeypatch.setenv(scale.ADDRESS_ENV, "tcp://127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(NetworkUnavailableError, match="unset S2SLIDE_DASK_SCHEDULER"):
        scale.start_client(timeout=1)


def test_pipeline_exclude_leaves_a_window_out_of_the_counts(tile):
    """pipeline(exclude=window): counts cover only pixels outside the window; densities the whole tile."""
    lazy, computed = tile
    feat = scale.features(lazy)
    kmeans = scale.fit_kmeans(scale.sample_pixels(feat, n=2_000, n_chunks=4, seed=0), k=3, seed=0)
    window = {"y": slice(0, 128), "x": slice(0, 128)}
    with dask.config.set(scheduler="synchronous"):
        whole = dask.compute(scale.pipeline(lazy, kmeans=kmeans, weights=None))[0]
        part = dask.compute(scale.pipeline(lazy, kmeans=kmeans, weights=None, exclude=window))[0]
    truth = computed["truth"].values.astype(bool)
    mask = scale.dndvi_mask(computed).values.astype(bool)
    keep = np.ones_like(truth)
    keep[:128, :128] = False
    assert int(part["truth_pixels"]) == int(truth[keep].sum()) < int(whole["truth_pixels"])
    assert int(part["dndvi_pixels"]) == int(mask[keep].sum())
    assert int(part["dndvi_true_positives"]) == int((mask & truth)[keep].sum())
    np.testing.assert_array_equal(part["dndvi_density"], whole["dndvi_density"])


def test_pipeline_without_truth_scores_nothing_but_maps_everything(tile):
    """A real tile (stac_tile) has no truth: pipeline still gives the methods' counts and maps."""
    lazy, computed = tile
    feat = scale.features(lazy)
    kmeans = scale.fit_kmeans(scale.sample_pixels(feat, n=2_000, n_chunks=4, seed=0), k=3, seed=0)
    with dask.config.set(scheduler="synchronous"):
        out = dask.compute(scale.pipeline(lazy.drop_vars("truth"), kmeans=kmeans, weights=None))[0]
    assert sorted(out) == ["dndvi_density", "dndvi_pixels", "kmeans_density", "kmeans_pixels",
                           "masked_pixels"]
    assert int(out["dndvi_pixels"]) == int(scale.dndvi_mask(computed).values.sum())
    assert int(out["masked_pixels"]) == 0  # a simulated tile has no clouds
    with pytest.raises(InvalidInputError, match="weights=None"):
        scale.unet_predict_array(feat.values[:, :64, :64], weights=None)


def test_pipeline_leaves_masked_pixels_unflagged_by_every_method(tile):
    """A real tile's clouds arrive as NaN (stac_tile): they are counted as masked and no method,
    the U-Net included (it reads NaN as 0 and would answer there), flags them."""
    from s2slide.models.unet import build_unet

    lazy, computed = tile
    truth = computed["truth"].values.astype(bool)
    cloud = np.zeros_like(truth)
    cloud[40:100, 30:200] = True
    cloud |= truth & (np.arange(truth.shape[1]) < 128)  # clouds over scars that would be flagged
    hidden = computed.copy()
    hidden["post"] = computed["post"].where(~cloud)
    hidden = hidden.drop_vars("truth").chunk(y=64, x=64)
    feat = scale.features(hidden)
    kmeans = scale.fit_kmeans(scale.sample_pixels(feat, n=2_000, n_chunks=4, seed=0), k=3, seed=0)
    weights = build_unet(2, size=64, seed=0, **scale.UNET_ARCH).get_weights()
    weights[-1] = weights[-1] + 20.0  # the output bias: this untrained U-Net now flags every pixel
    with dask.config.set(scheduler="synchronous"):
        lazy_out = scale.pipeline(hidden, kmeans=kmeans, weights=weights, factor=32)
        out = dask.compute(lazy_out)[0]
        maps = {"dndvi": scale.dndvi_mask(hidden).values,
                "kmeans": scale.predict_chunks(kmeans, feat).values == scale.scar_cluster(kmeans)}
    assert int(out["masked_pixels"]) == int(cloud.sum())
    assert int(out["unet_pixels"]) == int((~cloud).sum())  # everything but the clouds
    def cells(a: np.ndarray) -> np.ndarray:  # pixel counts per 32 px cell
        return a.reshape(8, 32, 8, 32).sum(axis=(1, 3))

    for name, m in maps.items():
        assert not m[cloud].any(), f"{name} flags masked pixels"
        assert int(out[f"{name}_pixels"]) == int(m.sum()) > 0
        # density: the share of the *seen* pixels of each 32 px cell; NaN where a cell is all cloud
        with np.errstate(invalid="ignore"):
            expected = cells(m & ~cloud) / cells(~cloud)
        np.testing.assert_allclose(out[f"{name}_density"].values, expected, rtol=1e-6)
    assert np.isnan(out["dndvi_density"].values[2, 1:6]).all()  # rows 64-96, columns 32-192: cloud


# ----------------------------------------------------------------------------- the live tile
#: Generated surface reflectance of the vegetated tile below, per Earth Search asset.
SURFACE = {"blue": 0.025, "red": 0.03, "nir": 0.30, "swir16": 0.15, "swir22": 0.08}
RECORDED_ITEM = "earth-search/items/sentinel-2-l2a_S2B_24MVV_20250731_0_L2A.json"


def _item(item_id: str, when: str, *, cloud: float, applied: bool | None = None,
          baseline: str | None = None, tile: str = "MGRS-24MVV"):
    """The real recorded Earth Search item of 24MVV (2025-07-31) with its id, date, tile, cloud
    cover, ``boa_offset_applied`` flag and baseline changed (no baseline: every field that
    names one is removed, so that the offset follows the processing date)."""
    import pystac

    import replay

    d = replay.recorded(RECORDED_ITEM)
    props = d["properties"]
    props.update({"datetime": when, "s2:generation_time": when, "grid:code": tile,
                  "eo:cloud_cover": cloud, "s2:processing_baseline": baseline,
                  "earthsearch:boa_offset_applied": applied})
    if baseline is None:
        for key in ("s2:processing_baseline", "s2:product_uri", "s2:granule_id", "s2:tile_id",
                    "s2:datatake_id", "s2:datastrip_id"):
            props.pop(key, None)
    d["id"] = item_id
    return pystac.Item.from_dict(d)


def _fake_odc_load(pixels: dict[str, tuple[bool, str]], calls: list[dict]):
    """``odc.stac.load`` over generated pixels (no network): a vegetated 40 x 40 px corner of
    the real 24MVV grid, each item's DNs plain or carrying +1000, covering the whole grid or its
    left half (nodata 0 elsewhere), on whatever grid is asked for. Records each call's bands,
    laziness and the GDAL options odc-stac captures into the graph."""
    import xarray as xr
    from affine import Affine
    from odc.geo.geobox import GeoBox
    from odc.geo.xr import xr_coords
    from odc.loader import RioDriver

    tile = GeoBox((40, 40), Affine(10, 0, 399_960, 0, -10, 9_500_020), "EPSG:32724")

    def load(items, bands, *, chunks=None, geobox=None, groupby=None, **kw):
        calls.append({"bands": list(bands), "lazy": chunks is not None, "groupby": groupby,
                      "gdal": RioDriver().capture_env().get("GDAL_HTTP_TIMEOUT")})
        gbox = geobox or tile
        coords = xr_coords(gbox, crs_coord_name="spatial_ref")
        left = np.broadcast_to(coords["x"].values < coords["x"].values.mean(), gbox.shape)
        data = {}
        for band in bands:
            layers = []
            for item in items:
                plus1000, cover, *cloud = pixels[item.id]
                value = 4 if band == "scl" else round(SURFACE[band] * 10_000) + 1000 * plus1000
                layer = np.where(left | (cover == "all"), value, 0)
                if cloud and band == "scl":  # SCL 9, cloud (high probability), over the top rows
                    layer = np.where(np.arange(gbox.shape[0])[:, None] < cloud[0], 9, layer)
                layers.append(layer)
            data[band] = xr.DataArray(np.stack(layers).astype(np.uint16), dims=("time", "y", "x"),
                                      coords={"time": np.arange(len(items)), **coords})
        ds = xr.Dataset(data)
        return ds.chunk(x=chunks["x"], y=chunks["y"]) if chunks else ds

    return load


POST_0, POST_1 = "S2B_24MVV_20221120_0_L2A", "S2B_24MVV_20221120_1_L2A"


@pytest.fixture
def catalogue(monkeypatch):
    """A monkeypatched Earth Search: pre- and post-event items, the post-event day's tile split
    into two items (``_0_`` covering the left half, ``_1_`` the whole tile); returns a function
    that sets the second item's flag and DN scale and gives the calls made."""
    import odc.stac

    from s2slide.data import net
    from s2slide.data.live import stac

    def setup(*, flag_1: bool, plus1000_1: bool, cloud_rows_1: int = 0, cloud_rows_pre: int = 0,
              no_scl: tuple = ()) -> dict:
        found = {
            2021: [_item("cloudy", "2021-11-01T04:00:00Z", cloud=50.0),
                   _item("S2A_24MVV_20211105_0_L2A", "2021-11-05T04:00:00Z", cloud=3.0),
                   _item("other tile", "2021-11-02T04:00:00Z", cloud=1.0, tile="MGRS-24MWV")],
            2022: [_item(POST_0, "2022-11-20T04:00:00Z", cloud=5.0, applied=True, baseline="05.00"),
                   _item(POST_1, "2022-11-20T04:00:00Z", cloud=6.0, applied=flag_1,
                         baseline="05.00"),
                   _item("S2B_24MWV_20221120_0_L2A", "2022-11-20T04:00:00Z", cloud=8.0,
                         tile="MGRS-24MWV"),
                   _item("S2B_24MVV_20221110_0_L2A", "2022-11-10T04:00:00Z", cloud=50.0)]}
        for item in (it for year in found.values() for it in year if it.id in no_scl):
            del item.assets["scl"]  # a catalogue item without its scene classification
        pixels = {"S2A_24MVV_20211105_0_L2A": (False, "all", cloud_rows_pre), POST_0: (False, "left"),
                  POST_1: (plus1000_1, "all", cloud_rows_1)}
        seen: dict = {"loads": []}
        monkeypatch.setattr(net, "reachable", lambda url, **kw: (True, "reachable"))
        monkeypatch.setattr(stac, "open_client", lambda cat, **kw: seen.update(client=kw))
        monkeypatch.setattr(stac, "search_items",
                            lambda client, cat, *, start, **kw: found[start.year])
        monkeypatch.setattr(odc.stac, "load", _fake_odc_load(pixels, seen["loads"]))
        return seen

    return setup


def _assert_true_reflectance(ds) -> None:
    for when in ("pre", "post"):
        np.testing.assert_allclose(ds[when].sel(band="B04").values, SURFACE["red"], atol=1e-6)
        np.testing.assert_allclose(ds[when].sel(band="B08").values, SURFACE["nir"], atol=1e-6)


def test_stac_tile_decides_each_items_offset_as_the_route_does(catalogue):
    """Two items of one day and tile with different flags (``_0_`` already offset, ``_1_`` still
    carrying +1000): each is converted with its own offset before the mosaic, so the whole tile
    is right; one offset for the day would leave the right half 0.1 too bright, and one item
    would leave it empty. No baseline (the pre-event item) falls back to the date. Catalogue and
    image-file reads get the route's time limits."""
    import json

    seen = catalogue(flag_1=False, plus1000_1=True)
    ds = scale.stac_tile(chunk=16, timeout=7)
    _assert_true_reflectance(ds)
    assert ds.attrs["items"] == ["S2A_24MVV_20211105_0_L2A", POST_0, POST_1] and "truth" not in ds
    post = {d["id"]: d for d in json.loads(ds.attrs["provenance"])["post"]}
    assert {k: d["offset"] for k, d in post.items()} == {POST_0: 0, POST_1: -1000}
    assert all("pixels agree" in d["note"] for d in post.values())
    assert seen["client"] == {"timeout": 7}
    lazy = [c for c in seen["loads"] if c["lazy"]]
    assert [c["bands"] for c in lazy] == [["red", "nir", "scl"]] * 2  # Earth Search's B04, B08, SCL
    assert {c["gdal"] for c in seen["loads"]} == {"7"} and len(seen["loads"]) == 4
    assert {c["groupby"] for c in seen["loads"]} == {"id"}
    assert ds["post"].data.chunksize == (2, 16, 16)


def test_stac_tile_lets_an_items_pixels_overrule_a_wrong_flag(catalogue):
    """``_1_`` is flagged as already offset but its DNs still carry +1000 (the catalogue error
    of issue 14): its pixels overrule the flag, with a warning naming the item."""
    import json

    catalogue(flag_1=True, plus1000_1=True)
    with pytest.warns(UserWarning, match=f"{POST_1}.*still carrying \\+1000.*-1000"):
        ds = scale.stac_tile(chunk=16)
    _assert_true_reflectance(ds)
    post = {d["id"]: d for d in json.loads(ds.attrs["provenance"])["post"]}
    assert post[POST_1]["offset"] == -1000 and "pixels overrule" in post[POST_1]["note"]


def test_stac_tile_masks_the_clouds_of_the_item_each_pixel_comes_from(catalogue):
    """SCL from the item a pixel is taken from decides: ``_1_`` has a cloud (SCL 9) over its top
    10 rows; only the right half of those rows comes from ``_1_`` (the left half from ``_0_``,
    clear), so only there is the post-event reflectance NaN; the pre-event date is untouched."""
    catalogue(flag_1=True, plus1000_1=False, cloud_rows_1=10)
    ds = scale.stac_tile(chunk=16)
    post = ds["post"].values
    hidden = ~np.isfinite(post).all(0)
    expected = np.zeros((40, 40), bool)
    expected[:10, 20:] = True
    np.testing.assert_array_equal(hidden, expected)
    assert np.isfinite(ds["pre"].values).all()
    np.testing.assert_allclose(post[0][~expected], SURFACE["red"], atol=1e-6)  # band 0: B04
    assert ds.attrs["scl_mask"] == [0, 1, 3, 8, 9, 10, 11]


def test_stac_tile_masks_clouds_of_the_pre_event_date_too(catalogue):
    """A cloud on the pre-event item (SCL 9, top 6 rows) makes ``pre`` NaN there, and the
    pipeline counts those pixels as masked: dNDVI needs both dates."""
    catalogue(flag_1=True, plus1000_1=False, cloud_rows_pre=6)
    ds = scale.stac_tile(chunk=16)
    expected = np.zeros((40, 40), bool)
    expected[:6] = True
    np.testing.assert_array_equal(~np.isfinite(ds["pre"].values).all(0), expected)
    assert np.isfinite(ds["post"].values).all()
    kmeans = scale.fit_kmeans(scale.sample_pixels(scale.features(ds), n=500, n_chunks=9), k=2)
    with dask.config.set(scheduler="synchronous"):
        out = dask.compute(scale.pipeline(ds, kmeans=kmeans, weights=None, factor=8))[0]
    assert int(out["masked_pixels"]) == 6 * 40


def test_stac_tile_refuses_an_item_without_its_scl(catalogue):
    """An item with no SCL asset would be read with SCL 0 (no data) everywhere and vanish
    unsaid; the tile says which item and what to do instead."""
    seen = catalogue(flag_1=True, plus1000_1=False, no_scl=(POST_1,))
    with pytest.raises(NoValidDataError, match=f"{POST_1}.*'scl'.*dates="):
        scale.stac_tile(chunk=16)
    assert not [c for c in seen["loads"] if c["lazy"]]  # refused before any read


def test_sample_pixels_of_an_all_clouded_tile_says_why():
    """Every pixel masked (a real tile under cloud): the sample fails with the reason."""
    import xarray as xr

    feat = xr.DataArray(np.full((2, 64, 64), np.nan, np.float32), dims=("feature", "y", "x")).chunk(
        y=32, x=32)
    with pytest.raises(InvalidInputError, match="4 sampled chunks .of 4.*SCL.*cloud.*n_chunks"):
        scale.sample_pixels(feat, n=100, n_chunks=4)


def test_stac_tile_offline(monkeypatch):
    monkeypatch.setenv("S2SLIDE_OFFLINE", "1")
    with pytest.raises(NetworkUnavailableError, match="simulated_tile"):
        scale.stac_tile()


# ----------------------------------------------------------------------------- the real 29RKH tile
@pytest.fixture(scope="module")
def rkh():
    """The mirror's real tile 29RKH (B04, B08 at 100 m): lazy, and read whole."""
    return scale.mirror_tile(), scale.mirror_tile(chunked=False)


def test_mirror_tile_chunks_are_the_cog_blocks(rkh):
    import rasterio

    from s2slide.data import registry

    lazy, _ = rkh
    with rasterio.open(registry.fetch(scale.RKH_DIR + "B04.tif")) as src:  # read apart from cog_layout
        (by, bx), = set(src.block_shapes)
        rows, cols = src.shape
    assert lazy.attrs["block"] == (by, bx) and lazy.attrs["source"] == "mirror"
    for chunks, step, size in ((lazy.chunks[1], by, rows), (lazy.chunks[2], bx, cols)):
        starts = np.cumsum((0,) + chunks[:-1])
        assert sum(chunks) == size and all(s % step == 0 for s in starts)  # no block is split
        assert all(c == step for c in chunks[:-1])  # one block per chunk, the last one clipped


def test_mirror_tile_chunked_read_equals_whole_read(rkh):
    import rasterio

    from s2slide.data import harmonize, registry

    lazy, whole = rkh
    assert lazy.attrs["baseline"] == "02.14" and lazy.attrs["offset"] == 0  # item: 02.14, no offset
    chunked = lazy.values
    np.testing.assert_array_equal(chunked, whole.values)
    for i, band in enumerate(("B04", "B08")):  # and a plain rasterio read, converted by hand
        with rasterio.open(registry.fetch(scale.RKH_DIR + f"{band}.tif")) as src:
            ref = harmonize.dn_to_reflectance(src.read(1), offset=0)
        np.testing.assert_array_equal(chunked[i], ref)
    assert 0.05 < float(np.nanmean(chunked)) < 0.6  # desert reflectance, not DNs


def test_mirror_tile_refuses_missing_or_mixed_bands():
    with pytest.raises(InvalidInputError, match="no B13.tif"):
        scale.mirror_tile(bands=("B04", "B13"))
    with pytest.raises(InvalidInputError, match="one resolution"):
        scale.mirror_tile(bands=("B04", "B11"))


def test_cog_layout_refuses_a_striped_tiff(tmp_path):
    """A fake written here: a striped (untiled) GeoTIFF, which no real COG in the mirror is."""
    import rasterio

    path = tmp_path / "strips.tif"
    profile = dict(driver="GTiff", width=64, height=64, count=1, dtype="uint16", crs="EPSG:32629",
                   transform=rasterio.transform.from_origin(199_980, 2_800_020, 100, 100))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ones((1, 64, 64), np.uint16))
    with pytest.raises(InvalidInputError, match="not one tiling"):
        scale.cog_layout(path)
