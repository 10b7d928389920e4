"""s2slide.cluster: clusters with known answers, the naming rule, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from s2slide import cluster
from s2slide.errors import InvalidInputError, MissingBandError, NoValidDataError, ShapeMismatchError


@pytest.fixture
def blobs(rng) -> tuple[np.ndarray, np.ndarray]:
    """Two well-separated groups of 2-D points and their true group (0 / 1)."""
    truth = np.repeat([0, 1], [300, 100])
    centres = np.array([[0.7, -0.3], [0.1, 0.2]])  # vegetation: high NDVI; scar: low NDVI
    return centres[truth] + rng.normal(scale=0.03, size=(400, 2)), truth


@pytest.mark.parametrize("method", cluster.METHODS)
def test_fit_predict_finds_known_groups(blobs, method):
    x, truth = blobs
    kwargs = {"batch_size": 150, "init_size": 300} if method == "minibatch" else {}
    labels = cluster.fit_predict(x, method=method, k=2, seed=0, **kwargs)
    assert labels.shape == (400,) and labels.dtype.kind == "i"
    agree = (labels == truth).mean()
    assert max(agree, 1 - agree) == 1.0  # same partition, whatever the label order


def test_fit_on_a_sample_labels_every_pixel(blobs):
    x, truth = blobs
    labels = cluster.fit_predict(x, method="gmm", k=2, max_fit_pixels=50)
    assert labels.shape == (400,) and max((labels == truth).mean(), (labels != truth).mean()) == 1.0


def test_fit_predict_is_deterministic(blobs):
    x, _ = blobs
    a = cluster.fit_predict(x, method="gmm", k=3, seed=1)
    b = cluster.fit_predict(x, method="gmm", k=3, seed=1)
    assert np.array_equal(a, b) and set(np.unique(a)) == {0, 1, 2}


def test_landslide_cluster_rule_known_answer():
    labels = np.array([[0, 0, 1], [2, 2, -1]])
    dndvi = np.array([[0.0, 0.1, -0.5], [-0.1, -0.2, -9.0]])  # -9 is outside valid (-1)
    assert cluster.landslide_cluster(labels, dndvi) == 1
    valid = np.array([[1, 1, 0], [1, 1, 1]], bool)  # without the only pixel of cluster 1
    assert cluster.landslide_cluster(labels, dndvi, valid=valid) == 2
    assert cluster.landslide_mask(labels, dndvi).sum() == 1


def test_cluster_image_on_blobs_names_the_scar_group(blobs):
    x, truth = blobs
    stack = x.T.reshape(2, 20, 20)
    valid = np.ones((20, 20), bool)
    valid[0, :5] = False
    labels = cluster.cluster_image(stack, valid, method="kmeans", k=2)
    assert (labels[~valid] == -1).all() and (labels[valid] >= 0).all()
    scar = cluster.landslide_mask(labels, stack[0])  # lowest NDVI
    assert np.array_equal(scar[valid], truth.reshape(20, 20)[valid] == 1)


def test_to_pixels_and_label_image_round_trip():
    stack = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    stack[0, 0, 0] = np.nan
    x, keep = cluster.to_pixels(stack, min_pixels=1)
    assert x.shape == (11, 2) and not keep[0, 0]
    img = cluster.label_image(np.arange(11), keep)
    assert img[0, 0] == -1 and img[2, 3] == 10


def test_index_features_on_a_simulated_scene():
    from s2slide.data import simulate

    ds = simulate.scene("luding", shape=(32, 40))
    f = cluster.index_features(ds)
    assert f.shape == (4, 32, 40) and f.dtype == np.float32
    assert np.nanmax(np.abs(f)) <= 1.0
    with pytest.raises(MissingBandError, match="B11"):
        cluster.index_features(ds.sel(band=["B02", "B04", "B8A"]))


def test_bad_input(blobs):
    x, _ = blobs
    with pytest.raises(InvalidInputError, match="at least 2 clusters"):
        cluster.fit_predict(x, k=1)
    with pytest.raises(InvalidInputError, match="NaN"):
        cluster.fit_predict(np.where(np.eye(400, 2) > 0, np.nan, x), k=2)
    with pytest.raises(InvalidInputError, match="pixels, features"):
        cluster.fit_predict(x.ravel(), k=2)
    with pytest.raises(InvalidInputError, match="method="):
        cluster.fit_predict(x, method="dbscan", k=2)
    with pytest.raises(NoValidDataError, match="as many valid pixels as clusters"):
        cluster.fit_predict(x[:2], k=3)
    with pytest.raises(NoValidDataError, match="valid pixels"):
        cluster.to_pixels(np.full((2, 5, 5), np.nan))
    with pytest.raises(ShapeMismatchError):
        cluster.to_pixels(np.zeros((2, 5, 5)), np.ones((4, 5), bool))
    with pytest.raises(ShapeMismatchError):
        cluster.landslide_cluster(np.zeros((2, 2), int), np.zeros(4))
    with pytest.raises(NoValidDataError):
        cluster.landslide_cluster(np.full((2, 2), -1), np.zeros((2, 2)))


def test_change_features_known_answer_and_bad_shape():
    stack = np.zeros((4, 2, 3), np.float32)
    stack[0], stack[1], stack[2], stack[3] = 0.8, -0.2, 0.1, 0.15  # vegetation -> bare soil
    stack[2, 0, 0] = np.nan
    out = cluster.change_features(stack)
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 1], -0.7, atol=1e-6)  # dNDVI: vegetation lost
    np.testing.assert_allclose(out[1, 1], 0.35, atol=1e-6)  # dBSI: bare soil gained
    assert np.isnan(out[0, 0, 0]) and not np.isnan(out[1, 0, 0])
    assert cluster.CHANGE_FEATURES == ("dndvi", "dbsi")
    with pytest.raises(InvalidInputError, match="index_features"):
        cluster.change_features(np.zeros((3, 2, 2)))


def test_cluster_image_equals_the_three_steps(blobs):
    """Chapter 4 calls cluster_image where it used to_pixels, fit_predict and label_image."""
    x, _ = blobs
    stack = x.T.reshape(2, 20, 20).copy()
    stack[1, 3, 4] = np.nan
    valid = np.ones((20, 20), bool)
    valid[5, :7] = False
    px, keep = cluster.to_pixels(stack, valid)
    fitted = cluster.fit_predict(px, method="gmm", k=3, seed=2, max_fit_pixels=100)
    steps = cluster.label_image(fitted, keep)
    one = cluster.cluster_image(stack, valid, method="gmm", k=3, seed=2, max_fit_pixels=100)
    assert np.array_equal(one, steps) and np.array_equal(one >= 0, keep)


def test_cluster_each_date_known_answer(rng):
    """Vegetated (NDVI 0.7) and bare (0.1) ground on two dates: a new scar is bare only after."""
    bare_pre = np.zeros((20, 20), bool)
    bare_pre[:5] = True                                   # old bare ground: bare on both dates
    bare_post = bare_pre.copy()
    bare_post[10:14, 5:15] = True                         # 40 new scars
    stack = np.empty((4, 20, 20), np.float32)
    for i, bare in ((0, bare_pre), (2, bare_post)):
        stack[i] = np.where(bare, 0.1, 0.7) + rng.normal(0, 0.02, (20, 20))       # NDVI
        stack[i + 1] = np.where(bare, 0.2, -0.3) + rng.normal(0, 0.02, (20, 20))  # BSI
    valid = np.ones((20, 20), bool)
    valid[19, 19] = False
    stack[1, 0, 0] = np.nan                               # not finite on one date: not used
    new, before, after = cluster.cluster_each_date(stack, valid, method="gmm", k=2)
    expect = bare_post & ~bare_pre
    assert np.array_equal(new, expect) and new.sum() == 40
    assert np.array_equal(before[1:], bare_pre[1:]) and not before[0, 0] and not after[19, 19]
    joint = cluster.landslide_mask(cluster.cluster_image(stack, valid, k=2),
                                   cluster.change_features(stack)[0], valid=valid)
    assert joint.sum() != 40                              # the joint reading splits land cover
    with pytest.raises(InvalidInputError, match="index_features"):
        cluster.cluster_each_date(stack[:2], valid)
