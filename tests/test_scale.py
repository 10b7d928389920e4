"""s2slide.scale: chunked results equal the in-memory computation; memory stays bounded."""

from __future__ import annotations

import threading
import time

import dask
import numpy as np
import psutil
import pytest

from s2slide import indices, scale
from s2slide.errors import InvalidInputError, NetworkUnavailableError


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
    assert sorted(out) == ["dndvi_density", "dndvi_pixels", "kmeans_density", "kmeans_pixels"]
    assert int(out["dndvi_pixels"]) == int(scale.dndvi_mask(computed).values.sum())
    with pytest.raises(InvalidInputError, match="weights=None"):
        scale.unet_predict_array(feat.values[:, :64, :64], weights=None)


def test_stac_tile_takes_the_offset_from_the_item(monkeypatch):
    """boa_offset_applied means offset 0; no baseline falls back to the date (no error)."""
    import datetime
    import types

    import odc.stac
    import xarray as xr

    from s2slide.data import net
    from s2slide.data.live import stac

    def item(name, when, cloud, tile="MGRS-47RQQ", **props):
        return types.SimpleNamespace(id=name, datetime=datetime.datetime(*when), properties={
            "eo:cloud_cover": cloud, "grid:code": tile, **props})

    post = item("post", (2022, 11, 20), 5.0, **{"s2:processing_baseline": "05.00",
                                                "earthsearch:boa_offset_applied": True})
    pre = item("pre", (2021, 11, 5), 3.0)  # no baseline: the date (before 2022-01-25) gives 0
    found = {2021: [item("cloudy", (2021, 11, 1), 50.0), pre,
                    item("other tile", (2021, 11, 2), 1.0, tile="X")], 2022: [post]}
    asked = []

    def load(items, bands, **kw):
        asked.append(bands)
        dn = xr.DataArray(np.full((1, 4, 4), 2000, np.uint16), dims=("time", "y", "x"))
        return xr.Dataset({b: dn for b in bands}).chunk(x=kw["chunks"]["x"], y=kw["chunks"]["y"])

    monkeypatch.setattr(net, "reachable", lambda url, **kw: (True, "reachable"))
    monkeypatch.setattr(stac, "open_client", lambda cat, **kw: None)
    monkeypatch.setattr(stac, "search_items", lambda client, cat, *, start, **kw: found[start.year])
    monkeypatch.setattr(odc.stac, "load", load)
    ds = scale.stac_tile(chunk=2)
    assert ds.attrs["items"] == ["pre", "post"] and "truth" not in ds
    assert asked[0] == ["red", "nir"]  # Earth Search's asset names of B04, B08
    np.testing.assert_allclose(ds["pre"].values, 0.2)
    np.testing.assert_allclose(ds["post"].values, 0.2)  # not 0.1: the catalogue applied it


def test_stac_tile_offline(monkeypatch):
    monkeypatch.setenv("S2SLIDE_OFFLINE", "1")
    with pytest.raises(NetworkUnavailableError, match="simulated_tile"):
        scale.stac_tile()
