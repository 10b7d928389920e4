"""HazMapper's rdNDVI and slope mask against hand-computed values; chapter 9's one-call recipe."""

from __future__ import annotations

import numpy as np
import pytest

from s2slide import indices, rapid
from s2slide.data import events
from s2slide.errors import (
    InvalidInputError,
    NetworkUnavailableError,
    NoValidDataError,
    SceneNotFoundError,
)


def test_rdndvi_by_hand():
    pre = np.array([[0.8, 0.5], [0.3, -0.2]])
    post = np.array([[0.2, 0.5], [0.1, 0.1]])
    expect = [[100 * -0.6 / np.sqrt(1.0), 0.0], [100 * -0.2 / np.sqrt(0.4), np.nan]]  # sum <= 0: NaN
    np.testing.assert_allclose(indices.rdndvi(pre, post), expect, rtol=1e-6)
    assert indices.rdndvi(pre, post).dtype == np.float32
    assert np.isnan(indices.rdndvi(np.array([0.5, np.nan]), np.array([np.nan, 0.5]))).all()


def test_the_same_loss_counts_more_on_sparse_cover():
    dense, sparse = indices.rdndvi(np.array([0.8]), np.array([0.6])), indices.rdndvi(np.array([0.3]), np.array([0.1]))
    assert sparse[0] < dense[0] < 0  # dNDVI is -0.2 for both


def test_rdndvi_mask_with_the_slope_mask_by_hand():
    pre = np.array([[0.8, 0.8, 0.8, 0.8]])
    post = np.array([[0.2, 0.2, 0.7, np.nan]])   # rdNDVI -60, -60, -7.7, NaN
    slope = np.array([[35.0, 5.0, 35.0, 35.0]])
    mask = indices.rdndvi_mask(pre, post, slope, threshold=-20, min_slope_deg=10)
    assert mask.tolist() == [[True, False, False, False]]
    flat_too = indices.rdndvi_mask(pre, post, slope, threshold=-20, min_slope_deg=0)
    assert flat_too.tolist() == [[True, True, False, False]]
    with pytest.raises(InvalidInputError, match="negative"):
        indices.rdndvi_mask(pre, post, slope, threshold=5)
    with pytest.raises(InvalidInputError, match="0-90"):
        indices.rdndvi_mask(pre, post, slope, min_slope_deg=95)


@pytest.fixture(scope="module")
def luding_map(tmp_path_factory):
    """The recipe once, offline (simulated Luding), on a small stack to keep the test quick."""
    from s2slide.data import simulate, stacks

    stack = simulate.scene_series("luding", shape=(128, 144), pre_days=45, post_days=30, seed=1,
                                  bands=list(stacks.DEFAULT_BANDS))
    return rapid.map_event("luding-2022", stack=stack, out_dir=tmp_path_factory.mktemp("maps"))


def test_map_event_offline_runs_the_whole_recipe(luding_map):
    em = luding_map
    assert em.stack.attrs["source"] == "simulated" and "composite" in em.scene.attrs["label"]
    assert set(em.masks) >= {"dndvi", "rdndvi", "kmeans"} and em.method == "rdndvi"
    assert len(em.polygons) > 0 and em.polygons["area_m2"].min() >= rapid.MMU_M2
    assert em.statistics["landslides"] == len(em.polygons)
    assert {p.suffix for p in em.files.values()} == {".gpkg", ".tif"}
    assert all(p.is_file() for p in em.files.values()) and "landslides" in em.summary()
    truth = em.scene["truth"].values == 1
    hits = (em.masks["rdndvi"] & truth).sum() / truth.sum()
    assert hits > 0.5  # the recipe finds most simulated landslide pixels


def test_map_event_without_unet_weights_says_how_to_get_them(luding_map):
    assert rapid.unet_weights() is None
    assert any("chapter 6" in n for n in luding_map.notes)
    with pytest.raises(NoValidDataError, match="run chapter 6"):
        rapid.map_event("luding-2022", method="unet", stack=luding_map.stack)


def test_offline_an_event_without_simulation_is_refused_clearly():
    with pytest.raises(NetworkUnavailableError, match="luding-2022"):
        rapid.map_event("iburi-2018")
    with pytest.raises(SceneNotFoundError, match="no simulation"):
        rapid.map_event("iburi-2018", source="simulated")
    with pytest.raises(SceneNotFoundError, match="unknown event"):
        rapid.map_event("atlantis-2020")
    with pytest.raises(InvalidInputError, match="method"):
        rapid.map_event("luding-2022", method="magic")


def test_an_area_with_no_landslide_found_says_so(luding_map, tmp_path):
    """A stack whose post-event window shows the pre-event landscape: no change, no statistics."""
    import xarray as xr

    stack = luding_map.stack
    event = np.datetime64(stack.attrs["event_date"], "ns")
    pre = stack.sel(time=stack["time"] < event)
    post = pre.assign_coords(time=pre["time"] + np.timedelta64(120, "D"))
    quiet = xr.concat([pre, post], dim="time", data_vars="minimal")
    quiet.attrs.update(stack.attrs)
    em = rapid.map_event("luding-2022", stack=quiet, out_dir=tmp_path)
    assert em.statistics["landslides"] < 50 and "at least 50" in em.statistics["note"]
    assert "rho" not in em.statistics


def test_custom_event_windows_are_checked_before_any_data():
    ev = events.custom(102.1, 29.6, "2022-09-05", 5)
    with pytest.raises(InvalidInputError, match="post_days"):
        rapid.map_event(ev, post_days=0)


def test_unet_width_is_read_from_the_weights_and_the_unet_map_is_made(luding_map, tmp_path):
    """Chapter 6's checkpoint in the cache and, beside it, the record of its input moments that
    training writes (an untrained network here: only the plumbing is tested): the network is
    rebuilt with the file's width and the moments, and the recipe adds the U-Net's map."""
    import json

    from s2slide import config
    from s2slide.models import unet

    path = config.cache_dir() / "checkpoints" / rapid.UNET_CHECKPOINTS[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    mean, std = np.linspace(-0.5, 0.5, 6), np.linspace(0.5, 1.5, 6)
    for base in (8, 16):
        model = unet.build_unet(6, base_filters=base, seed=0, input_mean=mean, input_std=std)
        model.save_weights(str(path))
        assert rapid.unet_width(path) == base
    assert rapid.unet_weights() is None  # weights without their record: not usable
    assert "without a record" in rapid.unet_missing() and "run chapter 6 again" in rapid.unet_missing()
    with pytest.raises(NoValidDataError, match="without a record.*run chapter 6 again"):
        rapid.map_event("luding-2022", stack=luding_map.stack, method="unet", out_dir=tmp_path)
    record = unet.model_record(model)
    assert record["channels"] == 6 and np.allclose(record["input_std"], std)
    unet.model_record_path(path).write_text(json.dumps(record))  # no checksum: not trusted
    assert rapid.unet_weights() is None
    unet.write_model_record(model, path)
    checkpoint = rapid.unet_weights()
    assert checkpoint.path == path and np.allclose(checkpoint.input_std, std)
    assert np.allclose(checkpoint.input_mean, mean)
    stack = luding_map.stack.isel(x=slice(0, 128))
    em = rapid.map_event("luding-2022", stack=stack, method="unet", out_dir=tmp_path)
    assert em.masks["unet"].shape == (128, 128) and not em.notes
    assert 0.0 <= float(em.scores["unet"].min()) <= float(em.scores["unet"].max()) <= 1.0
    unet.build_unet(6, base_filters=16, seed=1, input_mean=mean, input_std=std).save_weights(str(path))
    assert rapid.unet_weights() is None  # the weights were replaced after the record: not theirs
    path.write_bytes(b"not a weights file")
    with pytest.raises(InvalidInputError, match="run chapter 6 again"):
        rapid.unet_width(path)
