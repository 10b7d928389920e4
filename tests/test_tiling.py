"""s2slide.tiling: tiles, blending (exact for an identity model) and object counts."""

from __future__ import annotations

import numpy as np
import pytest

from s2slide import tiling
from s2slide.errors import InvalidInputError, ShapeMismatchError


def test_tile_starts_cover_the_axis():
    assert tiling.tile_starts(300, tile=128, overlap=32) == [0, 96, 172]
    assert tiling.tile_starts(128, tile=128, overlap=32) == [0]
    with pytest.raises(InvalidInputError, match="smaller than one.*pad"):
        tiling.tile_starts(100, tile=128)
    with pytest.raises(InvalidInputError, match="overlap"):
        tiling.tile_starts(300, tile=128, overlap=128)


def test_identity_model_reconstructs_the_scene_exactly():
    rng = np.random.default_rng(0)
    scene = rng.random((200, 300, 2)).astype(np.float32)
    calls = []

    def identity(batch):
        calls.append(len(batch))
        return batch[..., 0]

    out = tiling.predict_tiled(scene, identity, tile=64, overlap=16, batch_size=5)
    np.testing.assert_allclose(out, scene[..., 0], rtol=1e-6)
    assert sum(calls) == 4 * 6 and max(calls) == 5  # 4 x 6 tiles in batches of 5


def test_blending_removes_seams():
    # a model that is wrong (0) at a tile's edges, right (1) inside: blending favours centres
    def edgy(batch):
        out = np.ones(batch.shape[:3], np.float32)
        out[:, :4], out[:, -4:], out[:, :, :4], out[:, :, -4:] = 0, 0, 0, 0
        return out

    out = tiling.predict_tiled(np.zeros((256, 256, 1)), edgy, tile=64, overlap=32)
    assert out[8:-8, 8:-8].min() > 0.9  # a plain average would give 0.5 on the seams


def test_small_scene_and_bad_shape():
    with pytest.raises(InvalidInputError, match="smaller than one"):
        tiling.predict_tiled(np.zeros((100, 300, 3)), lambda b: b[..., 0])
    with pytest.raises(InvalidInputError, match="channels"):
        tiling.predict_tiled(np.zeros((300, 300)), lambda b: b)


def test_object_counts_known_mask():
    truth = np.zeros((20, 20), np.uint8)
    truth[1:4, 1:4] = 1      # A, 9 px: fully found
    truth[10:12, 10:15] = 1  # B, 10 px: one pixel predicted
    truth[16:18, 2:4] = 1    # C, 4 px: missed
    pred = np.zeros_like(truth)
    pred[1:4, 1:4] = 1
    pred[10, 10] = 1
    pred[15:18, 15:18] = 1   # a false alarm
    counts = tiling.object_counts(truth, pred)
    assert counts == {"landslides": 3, "found": 2, "missed": 1, "predicted_objects": 3,
                      "false_alarm_objects": 1}
    assert tiling.object_counts(truth, pred, min_overlap=0.5)["found"] == 1  # B has 10 %
    valid = np.ones_like(truth, bool)
    valid[15:, 15:] = False
    assert tiling.object_counts(truth, pred, valid=valid)["false_alarm_objects"] == 0
    with pytest.raises(ShapeMismatchError, match="same grid"):
        tiling.object_counts(truth, pred[:10])


def test_landslide_hits_per_object():
    truth = np.zeros((20, 20), np.uint8)
    truth[1:4, 1:4] = 1      # 9 px, all predicted
    truth[10:12, 10:15] = 1  # 10 px, one predicted (or none where invalid)
    truth[16:18, 2:4] = 1    # 4 px, missed
    pred = np.zeros_like(truth)
    pred[1:4, 1:4] = 1
    pred[10, 10] = 1
    sizes, share = tiling.landslide_hits(truth, pred)
    assert sizes.tolist() == [9, 10, 4]
    np.testing.assert_allclose(share, [1.0, 0.1, 0.0])
    valid = np.ones_like(truth, bool)
    valid[10, 10] = False
    np.testing.assert_allclose(tiling.landslide_hits(truth, pred, valid=valid)[1], [1, 0, 0])
    empty = tiling.landslide_hits(np.zeros((5, 5)), np.ones((5, 5)))
    assert empty[0].size == empty[1].size == 0
    with pytest.raises(ShapeMismatchError, match="same grid"):
        tiling.landslide_hits(truth, pred[:10])


def test_match_codes_and_plot():
    truth = np.array([[1, 1], [0, 0]])
    pred = np.array([[1, 0], [1, 0]])
    assert tiling.match_codes(truth, pred).tolist() == [[1, 2], [3, 0]]
    fig = tiling.plot_matches(truth, pred, title="t")
    assert fig.axes[0].get_title() == "t"
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "match", "missed", "false alarm"]
