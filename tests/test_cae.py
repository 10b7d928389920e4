"""s2slide.models.cae: Table 2 of Shahabi et al. (2021), a tiny training, save and reload."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from s2slide import patches  # noqa: E402
from s2slide.errors import InvalidInputError, NoValidDataError  # noqa: E402
from s2slide.models import cae  # noqa: E402

#: Table 2: (layer, output shape) for D = 5 input layers.
TABLE2 = [("cnn1", (5, 5, 8)), ("cnn2_bn", (3, 3, 12)), ("encoded", (1, 1, 12)),
          ("cnn3_bn", (1, 1, 8)), ("cnn4_bn", (1, 1, 5)), ("upsampling", (7, 7, 5))]


def _expected_params(d: int) -> int:
    """Weights + biases of each convolution, one PReLU slope per channel, 4 per BN channel."""
    conv = (3 * 3 * d * 8 + 8) + (3 * 3 * 8 * 12 + 12) + (12 * 8 + 8) + (8 * d + d)
    prelu = 8 + 12 + 8 + d
    bn = 4 * (12 + 8 + d)
    return conv + prelu + bn


@pytest.fixture(scope="module")
def scene():
    """A 5-layer standardized stack of 24 x 24 pixels with smooth structure, padded."""
    from scipy import ndimage

    rng = np.random.default_rng(0)
    raw = np.stack([ndimage.gaussian_filter(rng.normal(size=(24, 24)), 2) for _ in range(5)])
    stack, _, _ = patches.standardize(raw)
    return stack, patches.pad(stack)


@pytest.mark.parametrize("depth", [5, 3])
def test_layer_shapes_and_parameter_count_match_table2(depth):
    model = cae.build_cae(depth)
    assert tuple(model.input.shape[1:]) == (7, 7, depth)
    for name, shape in TABLE2:
        if name in ("cnn4_bn", "upsampling"):
            shape = shape[:2] + (depth,)
        assert tuple(model.get_layer(name).output.shape[1:]) == shape, name
    assert model.count_params() == _expected_params(depth)
    assert model.count_params() == 1526 if depth == 5 else True
    assert model.loss.__class__.__name__ == "Huber"
    assert model.optimizer.__class__.__name__ == "Adam"
    assert np.isclose(float(model.optimizer.learning_rate), 0.1)


def test_dataset_cuts_the_same_patches_as_numpy(scene):
    stack, padded = scene
    valid = np.zeros(stack.shape[1:], bool)
    valid[[0, 3, 23], [0, 17, 23]] = True
    rows, cols = patches.centres(valid)
    x, y = next(iter(cae.patch_dataset(padded, rows, cols, batch_size=8)))
    np.testing.assert_array_equal(x.numpy(), patches.extract(stack, valid=valid))
    np.testing.assert_array_equal(x.numpy(), y.numpy())


def _train(padded, rows, cols, seed):
    model = cae.build_cae(5, learning_rate=0.01, seed=seed)
    ds = cae.patch_dataset(padded, rows, cols, batch_size=64, shuffle=True, seed=seed)
    return model, cae.train(model, ds, epochs=4)


def test_tiny_training_reduces_loss_and_is_reproducible(scene):
    stack, padded = scene
    rows, cols = patches.centres(np.ones(stack.shape[1:], bool))
    model, hist = _train(padded, rows, cols, seed=1)
    assert len(hist["loss"]) == 4 and hist["loss"][-1] < 0.8 * hist["loss"][0]
    model2, hist2 = _train(padded, rows, cols, seed=1)
    np.testing.assert_allclose(hist["loss"], hist2["loss"], rtol=1e-5)
    for a, b in zip(model.get_weights(), model2.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_save_and_reload_give_the_same_features(scene, tmp_path):
    stack, padded = scene
    valid = np.ones(stack.shape[1:], bool)
    valid[:2] = False
    model = cae.build_cae(5, seed=3)
    ds = cae.patch_dataset(padded, *patches.centres(valid), batch_size=128, shuffle=True)
    cae.train(model, ds, epochs=1)
    feats = cae.deep_features(model, padded, valid)
    assert feats.shape == (12, 24, 24) and np.isnan(feats[:, :2]).all() and np.isfinite(feats[:, 2:]).all()
    path = cae.save_weights(model, tmp_path / "cae.weights.h5")
    again = cae.load_cae(path, 5)
    np.testing.assert_allclose(cae.deep_features(again, padded, valid), feats, equal_nan=True, atol=1e-6)
    batch = patches.extract(stack)[:10]
    np.testing.assert_allclose(again.predict(batch, verbose=0), model.predict(batch, verbose=0), atol=1e-6)


def test_bad_input(scene, tmp_path):
    _, padded = scene
    with pytest.raises(InvalidInputError, match="odd patch size >= 7"):
        cae.build_cae(5, patch=5)
    with pytest.raises(InvalidInputError, match="number of input layers"):
        cae.build_cae(0)
    with pytest.raises(NoValidDataError, match="patch centres"):
        cae.patch_dataset(padded, np.array([], int), np.array([], int))
    with pytest.raises(InvalidInputError, match=".weights.h5"):
        cae.save_weights(cae.build_cae(5), tmp_path / "cae.h5")
    with pytest.raises(FileNotFoundError, match="save_weights"):
        cae.load_cae(tmp_path / "none.weights.h5", 5)


def test_numpy_huber_is_keras_huber():
    import keras

    rng = np.random.default_rng(1)
    y, p = rng.normal(size=(2, 30, 7, 7, 5)) * 1.5
    expected = float(keras.losses.Huber()(y.astype(np.float32), p.astype(np.float32)))
    assert cae.huber(y - p) == pytest.approx(expected, rel=1e-5)


def test_decoder_output_is_constant_over_the_patch(scene):
    """UpSampling2D repeats one value per layer: the reconstruction has no texture at all."""
    stack, _ = scene
    out = cae.build_cae(5, seed=0).predict(patches.extract(stack)[:50], verbose=0)
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1, :1], out.shape))


def test_constant_patch_losses_bound_the_trained_cae(scene):
    stack, padded = scene
    batch = patches.extract(stack)
    ref = cae.constant_patch_losses(batch)
    mean_loss = cae.huber(batch - batch.mean(axis=(1, 2), keepdims=True))
    assert ref["best_constant"] <= mean_loss + 1e-12 and ref["best_constant"] < ref["zeros"]
    assert ref["zeros"] == pytest.approx(cae.huber(batch))
    centre = batch.mean(axis=(1, 2), keepdims=True)
    rng = np.random.default_rng(0)
    for _ in range(5):  # no other constant patch does better: the floor is the optimum
        shifted = centre + 0.05 * rng.normal(size=centre.shape)
        assert cae.huber(batch - shifted) > ref["best_constant"]
    model, _ = _train(padded, *patches.centres(np.ones(stack.shape[1:], bool)), seed=2)
    assert cae.huber(batch - model.predict(batch, verbose=0)) >= ref["best_constant"]
    with pytest.raises(InvalidInputError, match="p, p, D"):
        cae.constant_patch_losses(batch[0])


def test_matched_settings_make_the_papers_number_of_updates():
    assert cae.weight_updates(105_000, batch_size=10_000, epochs=100) == 1_100
    s = cae.matched_settings(105_000, n_patches=20_000, batch_size=256)
    assert s == {"patches": 20_000, "batch_size": 256, "epochs": 14, "learning_rate": 0.1}
    assert 1_100 <= cae.weight_updates(20_000, batch_size=256, epochs=14) < 1_100 + 79
    assert cae.matched_settings(500, n_patches=20_000, batch_size=256)["patches"] == 500
    with pytest.raises(InvalidInputError, match="at least 1"):
        cae.weight_updates(0, batch_size=10, epochs=1)


def test_train_features_repeats_the_steps_and_the_seed(scene):
    stack, padded = scene
    valid = np.ones(stack.shape[1:], bool)
    valid[:, :3] = False
    kw = {"n_patches": 300, "batch_size": 64, "epochs": 2, "learning_rate": 0.01}
    _, hist, feats = cae.train_features(stack, valid, seed=5, **kw)
    assert feats.shape == (12, 24, 24) and np.isnan(feats[:, :, :3]).all()
    rows, cols = patches.sample_centres(valid, n=300, seed=5)  # the same steps by hand
    manual = cae.build_cae(5, learning_rate=0.01, seed=5)
    cae.train(manual, cae.patch_dataset(padded, rows, cols, batch_size=64, shuffle=True, seed=5), epochs=2)
    np.testing.assert_allclose(cae.deep_features(manual, padded, valid), feats, atol=1e-5, equal_nan=True)
    _, hist6, _ = cae.train_features(stack, valid, seed=6, **kw)
    assert hist6["loss"] != hist["loss"]
