"""s2slide.models.unet: shape, parameter count, metrics, a training step, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from s2slide.models import inputs
from s2slide.errors import InvalidInputError, TrainingError
from s2slide.models import unet


def test_output_shape_and_parameter_count():
    model = unet.build_unet(6, size=64, base_filters=4)
    out = model(np.zeros((2, 64, 64, 6), np.float32))
    assert tuple(out.shape) == (2, 64, 64, 1)
    assert model.count_params() == unet.parameter_count(6, base_filters=4)
    # the classic 3-channel U-Net (16 -> 256 filters) has 1,941,105 weights
    assert unet.parameter_count(3) == 1_941_105
    assert unet.parameter_count(6) == 1_941_537


def test_input_standardisation_layer():
    """input_mean/input_std: the model standardises its input itself, and copies of it do too."""
    rng = np.random.default_rng(0)
    mean, std = np.array([1.2, 0.3, 5.0]), np.array([0.2, 0.5, 2.0])
    x = (mean + std * rng.normal(size=(1, 32, 32, 3))).astype(np.float32)
    model = unet.build_unet(3, size=32, base_filters=4, depth=3, input_mean=mean, input_std=std)
    first = model.get_layer("standardise")
    np.testing.assert_allclose(np.asarray(first(x)), (x - mean) / std, rtol=1e-4, atol=1e-5)
    assert model.count_params() == unet.parameter_count(3, base_filters=4, depth=3)
    copy = unet.build_unet(3, size=32, base_filters=4, depth=3, input_mean=mean, input_std=std)
    copy.set_weights(model.get_weights())
    np.testing.assert_allclose(np.asarray(copy(x)), np.asarray(model(x)), rtol=1e-5)
    with pytest.raises(InvalidInputError, match="one per channel"):
        unet.build_unet(3, size=32, depth=3, input_mean=mean[:2], input_std=std[:2])
    with pytest.raises(InvalidInputError, match="positive"):
        unet.build_unet(3, size=32, depth=3, input_mean=mean, input_std=np.zeros(3))


def test_bad_architecture():
    with pytest.raises(InvalidInputError, match="multiple of 16"):
        unet.build_unet(6, size=100)
    with pytest.raises(InvalidInputError, match="positive integer"):
        unet.build_unet(0)
    with pytest.raises(InvalidInputError, match="loss"):
        unet.make_loss("hinge")
    with pytest.raises(InvalidInputError, match="pos_weight"):
        unet.weighted_bce(-1.0)


def test_weighted_bce_and_f1_known_values():
    y = np.array([[[[1.0], [0.0]]]], np.float32)
    p = np.array([[[[0.5], [0.5]]]], np.float32)
    loss = float(np.mean(unet.weighted_bce(3.0)(y, p)))
    assert loss == pytest.approx(-(3 * np.log(0.5) + np.log(0.5)) / 2, rel=1e-5)
    f1 = unet.BinaryF1()
    f1.update_state(np.array([1, 1, 0, 0.0]), np.array([0.9, 0.2, 0.8, 0.1]))
    assert float(f1.result()) == pytest.approx(0.5, abs=1e-5)  # tp 1, fp 1, fn 1


def _tiny(n=8, size=32):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(n, size, size, 2)).astype(np.float32)
    masks = (images[..., 0] > 1.0).astype(np.uint8)
    return images, masks


def test_training_lowers_the_loss_and_keeps_best_checkpoint(tmp_path):
    images, masks = _tiny()
    model = unet.compile_unet(unet.build_unet(2, size=32, base_filters=4, depth=3),
                              loss="weighted_bce", pos_weight=3.0, learning_rate=1e-2)
    train = inputs.make_dataset(images, masks, batch_size=8, shuffle=True)
    val = inputs.make_dataset(images, masks, batch_size=8)
    hist = unet.train_unet(model, train, val, epochs=6, checkpoint=tmp_path / "b.weights.h5",
                           monitor="val_loss", verbose=0)
    assert hist["loss"][-1] < hist["loss"][0]
    assert (tmp_path / "b.weights.h5").exists()
    best = float(model.evaluate(val, verbose=0)[0])
    assert best == pytest.approx(min(hist["val_loss"]), rel=1e-3)  # best weights reloaded
    record = unet.read_model_record(tmp_path / "b.weights.h5")  # written beside the weights
    assert {k: v for k, v in record.items() if k != "weights_sha256"} == {
        "channels": 2, "size": 32, "input_mean": None, "input_std": None}


def test_the_record_beside_a_checkpoint_describes_the_run_that_ended(tmp_path):
    """The input moments (not in the weights file) are written once training ends; a run that
    stops (here: NaN loss) removes the old run's record, so its weights are not taken for it."""
    import tensorflow as tf

    images, masks = _tiny()
    checkpoint = tmp_path / "m.weights.h5"
    mean, std = [0.5, -1.0], [2.0, 0.25]
    model = unet.compile_unet(unet.build_unet(2, size=32, base_filters=4, depth=3,
                                              input_mean=mean, input_std=std))
    data = inputs.make_dataset(images, masks, batch_size=8)
    unet.train_unet(model, data, data, epochs=1, checkpoint=checkpoint, verbose=0)
    assert unet.model_record_path(checkpoint).name == "m.model.json"
    record = unet.read_model_record(checkpoint)
    assert np.allclose(record["input_mean"], mean) and np.allclose(record["input_std"], std)
    bad = masks[..., None].astype(np.float32)
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(TrainingError):
        unet.train_unet(model, tf.data.Dataset.from_tensor_slices((images, bad)).batch(2), data,
                        epochs=1, checkpoint=checkpoint, verbose=0)
    assert checkpoint.exists() and unet.read_model_record(checkpoint) is None


def test_a_record_no_longer_describes_weights_replaced_after_it(tmp_path):
    """The record carries the checksum of the weights it describes: a checkpoint replaced after
    the record was written (copied from elsewhere, overwritten by another run) has no record."""
    images, masks = _tiny()
    data = inputs.make_dataset(images, masks, batch_size=8)
    checkpoint = tmp_path / "m.weights.h5"
    old = unet.compile_unet(unet.build_unet(2, size=32, base_filters=4, depth=3, seed=1,
                                            input_mean=[0.0, 0.0], input_std=[1.0, 1.0]))
    unet.train_unet(old, data, data, epochs=1, checkpoint=checkpoint, monitor="val_loss", verbose=0)
    assert unet.read_model_record(checkpoint)["input_std"] == [1.0, 1.0]
    unet.build_unet(2, size=32, base_filters=4, depth=3, seed=2, input_mean=[0.5, -1.0],
                    input_std=[2.0, 0.25]).save_weights(str(checkpoint))
    assert unet.read_model_record(checkpoint) is None
    unet.write_model_record(old, checkpoint)  # now the record describes what the file holds
    assert unet.read_model_record(checkpoint)["input_mean"] == [0.0, 0.0]


def test_a_run_that_saves_no_epoch_neither_loads_nor_describes_an_older_file(tmp_path, monkeypatch):
    """A ModelCheckpoint that starts from an infinite best (as Keras 2's did; 3.15 saves the first
    epoch always) saves no epoch when ``monitor`` is NaN throughout (here forced: the
    callback is told never to save); the file left there is an older run's, so this run's model
    keeps its own weights and the older weights get no record of this run's moments."""
    import keras

    images, masks = _tiny()
    data = inputs.make_dataset(images, masks, batch_size=8)
    checkpoint = tmp_path / "m.weights.h5"
    old = unet.build_unet(2, size=32, base_filters=4, depth=3, seed=1)
    old.save_weights(str(checkpoint))
    monkeypatch.setattr(keras.callbacks.ModelCheckpoint, "_should_save_model", lambda *a: False)
    new = unet.compile_unet(unet.build_unet(2, size=32, base_filters=4, depth=3, seed=2,
                                            input_mean=[0.5, -1.0], input_std=[2.0, 0.25]))
    unet.train_unet(new, data, data, epochs=1, checkpoint=checkpoint, verbose=0)
    assert unet.read_model_record(checkpoint) is None
    assert not np.array_equal(new.get_weights()[0], old.get_weights()[0])


def test_empty_data_and_nan_loss(tmp_path):
    import tensorflow as tf

    images, masks = _tiny(4)
    model = unet.compile_unet(unet.build_unet(2, size=32, base_filters=4, depth=3))
    empty = tf.data.Dataset.from_tensor_slices((images[:0], masks[:0, ..., None] * 1.0)).batch(2)
    good = inputs.make_dataset(images, masks, batch_size=2)
    with pytest.raises(TrainingError, match="empty"):
        unet.train_unet(model, empty, good, epochs=1, checkpoint=tmp_path / "c.weights.h5")
    bad = masks[..., None].astype(np.float32)
    bad[0, 0, 0, 0] = np.nan  # bypass the pipeline's own checks to reach the loss
    nan_ds = tf.data.Dataset.from_tensor_slices((images, bad)).batch(2)
    with pytest.raises(TrainingError, match="NaN in the inputs"):
        unet.train_unet(model, nan_ds, good, epochs=1, checkpoint=tmp_path / "c.weights.h5",
                        verbose=0)
    with pytest.raises(InvalidInputError, match="weights.h5"):
        unet.train_unet(model, good, good, epochs=1, checkpoint=tmp_path / "c.keras")


def test_patience_stops_when_validation_stalls(tmp_path):
    """With a learning rate of 0 nothing improves: training stops after 1 + patience epochs."""
    images, masks = _tiny(4)
    model = unet.compile_unet(unet.build_unet(2, size=32, base_filters=2, depth=2),
                              learning_rate=0.0)
    data = inputs.make_dataset(images, masks, batch_size=4)
    hist = unet.train_unet(model, data, data, epochs=10, patience=2, monitor="val_loss",
                           checkpoint=tmp_path / "p.weights.h5", verbose=0)
    assert len(hist["loss"]) == 3
