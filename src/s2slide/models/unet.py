"""The U-Net of seed 001 (Thapa 2024), after Ronneberger et al. (2015), in Keras.

Five levels of two 3 x 3 convolutions (ReLU, He-normal initialisation, dropout between
them) with 16, 32, 64, 128 and 256 filters (``base_filters`` = 16), 2 x 2 max-pooling on the
way down, 2 x 2 transposed convolutions and skip connections (concatenation) on the way up,
and a 1 x 1 convolution with a sigmoid: the probability that a pixel is a landslide.
This is the classic Keras U-Net that seed 001 took from iamtekson's Landslide4Sense notebook.

Training: Adam (learning rate 1e-3), binary cross-entropy or a class-weighted variant
(:func:`weighted_bce`) or Dice (``keras.losses.Dice``); metrics precision, recall and F1 at a
threshold of 0.5. Introduced in chapter 6.

:func:`build_bitemporal_unet` is the change-detection variant of seed 004 (Monopoli et al.,
BBUnet): one encoder shared by the pre- and post-event images, a second encoder for the
DEM-derived channels, their features fused level by level around the difference post - pre.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from s2slide import checks
from s2slide.errors import InvalidInputError, TrainingError

#: Dropout after the first convolution of each level, top to bottom (seed 001's U-Net).
DROPOUT: tuple[float, ...] = (0.1, 0.1, 0.2, 0.2, 0.3)
LOSSES: tuple[str, ...] = ("bce", "weighted_bce", "dice", "bce_dice")


def _block(x, filters: int, dropout: float):
    from keras import layers

    x = layers.Conv2D(filters, 3, activation="relu", kernel_initializer="he_normal",
                      padding="same")(x)
    x = layers.Dropout(dropout)(x)
    return layers.Conv2D(filters, 3, activation="relu", kernel_initializer="he_normal",
                         padding="same")(x)


def build_unet(channels: int, *, size: int = 128, base_filters: int = 16, depth: int = 5,
               dropout: tuple[float, ...] = DROPOUT, seed: int | None = 0,
               input_mean=None, input_std=None):
    """Build (not compile) seed 001's U-Net.

    Parameters
    ----------
    channels : int
        Input channels (seed 001: 6 = red, green, blue, NIR, slope, elevation).
    size : int
        Patch side in pixels; a multiple of ``2 ** (depth - 1)`` (128 for Landslide4Sense).
    base_filters : int
        Filters of the first level; each level doubles them (16 -> 256 in seed 001; the
        chapter's fast mode uses 8 -> 128 to train on a CPU).
    depth : int
        Number of levels (5 in seed 001: four poolings).
    dropout : tuple of float
        Dropout rate of each level (top to bottom), reused on the way up.
    seed : int or None
        Seed of Keras' random initialisation (``keras.utils.set_random_seed``).
    input_mean, input_std : sequence of float, optional
        Per-channel mean and standard deviation of the training images (``channels`` each, in
        the units the images come in): a ``keras.layers.Normalization`` layer in front of the
        network standardises every input with them, so the model carries its input scaling
        with it (training, validation, a new scene alike). None: no such layer. A departure
        from seed 001, whose code scales each patch on its own; used because inputs far from
        mean 0 and spread 1 (as officially normalised Landslide4Sense patches are) slow
        gradient descent down (LeCun et al. 1998, Efficient BackProp; Ioffe and Szegedy 2015).

    Returns
    -------
    keras.Model
        Input (batch, size, size, channels) float32; output (batch, size, size, 1) in 0-1.
    """
    _check_arch(channels, size, base_filters, depth, dropout)
    import keras
    from keras import layers

    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    inputs = keras.Input((size, size, channels), name="image")
    x, skips = _standardise(inputs, input_mean, input_std, channels), []
    for level in range(depth):
        x = _block(x, base_filters * 2 ** level, dropout[level])
        if level < depth - 1:
            skips.append(x)
            x = layers.MaxPooling2D(2)(x)
    outputs = _expanding_path(x, skips, base_filters=base_filters, dropout=dropout)
    return keras.Model(inputs, outputs, name=f"unet_{base_filters}")


def _expanding_path(x, skips: list, *, base_filters: int, dropout: tuple[float, ...]):
    """Transposed convolutions up, each level joined to its skip; returns the probability."""
    from keras import layers

    for level in reversed(range(len(skips))):
        x = layers.Conv2DTranspose(base_filters * 2 ** level, 2, strides=2, padding="same")(x)
        x = layers.concatenate([x, skips[level]])
        x = _block(x, base_filters * 2 ** level, dropout[level])
    return layers.Conv2D(1, 1, activation="sigmoid", name="probability")(x)


def _encoder(channels: int, *, size: int, base_filters: int, depth: int,
             dropout: tuple[float, ...], name: str):
    """The contracting path as a model of its own: the features of every level (a list)."""
    import keras
    from keras import layers

    x = inputs = keras.Input((size, size, channels))
    features = []
    for level in range(depth):
        x = _block(x, base_filters * 2 ** level, dropout[level])
        features.append(x)
        if level < depth - 1:
            x = layers.MaxPooling2D(2)(x)
    return keras.Model(inputs, features, name=name)


def _fuse(pre, post, dem, filters: int):
    """Seed 004's fusion of one level: ``d + conv(conv([d, dem]))`` with ``d = post - pre``."""
    from keras import layers

    diff = layers.Subtract()([post, pre])
    x = layers.concatenate([diff, dem])
    x = layers.Conv2D(filters, 3, activation="relu", kernel_initializer="he_normal",
                      padding="same")(x)
    x = layers.Conv2D(filters, 3, kernel_initializer="he_normal", padding="same")(x)
    return layers.Add()([diff, x])


def build_bitemporal_unet(bands: int, *, dem_channels: int = 4, size: int = 128,
                          base_filters: int = 16, depth: int = 5,
                          dropout: tuple[float, ...] = DROPOUT, seed: int | None = 0):
    """Build (not compile) a bitemporal, DEM-fused U-Net after seed 004's BBUnet.

    The pre- and post-event images go through *one* encoder (shared weights, seed 001's
    convolution blocks), the DEM-derived channels through a second; at every level the
    difference of the two dates' features, post - pre, is fused with the DEM features by two
    3 x 3 convolutions and added back to the difference (seed 004's fusion module); the fused
    features feed seed 001's expanding path. Departures from seed 004: seed 001's plain
    convolution blocks instead of a ResNet-18 encoder (no batch normalisation), and its
    decoder (no attention).

    Parameters
    ----------
    bands : int
        Optical bands per date.
    dem_channels : int
        DEM-derived channels (seed 004: 4 = elevation, slope, sin and cos of the aspect).
    size, base_filters, depth, dropout, seed
        As for :func:`build_unet`.

    Returns
    -------
    keras.Model
        Input (batch, size, size, 2 * bands + dem_channels) float32 in the order of
        :func:`s2slide.models.inputs.bitemporal_inputs` (pre bands, post bands, DEM
        channels); output (batch, size, size, 1) in 0-1.
    """
    _check_arch(bands, size, base_filters, depth, dropout)
    _check_arch(dem_channels, size, base_filters, depth, dropout)
    import keras

    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    kw = dict(size=size, base_filters=base_filters, depth=depth, dropout=dropout)
    optical = _encoder(bands, name="optical_encoder", **kw)
    terrain = _encoder(dem_channels, name="dem_encoder", **kw)
    inputs = keras.Input((size, size, 2 * bands + dem_channels), name="image")
    pre, post = optical(inputs[..., :bands]), optical(inputs[..., bands:2 * bands])
    dem = terrain(inputs[..., 2 * bands:])
    fused = [_fuse(a, b, d, base_filters * 2 ** level)
             for level, (a, b, d) in enumerate(zip(pre, post, dem))]
    outputs = _expanding_path(fused[-1], fused[:-1], base_filters=base_filters, dropout=dropout)
    return keras.Model(inputs, outputs, name=f"bitemporal_unet_{base_filters}")


def _standardise(inputs, mean, std, channels: int):
    """``inputs`` through a fixed per-channel Normalization layer, or unchanged when both are None."""
    if mean is None and std is None:
        return inputs
    import numpy as np
    from keras import layers

    try:
        mean, std = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (mean, std))
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"input_mean and input_std must both be numbers per channel "
                                f"({err}), e.g. from l4s.normalised_moments(reference=...)") from err
    if mean.size != channels or std.size != channels:
        raise InvalidInputError(f"input_mean has {mean.size} and input_std {std.size} values for "
                                f"{channels} channels: give one per channel")
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise InvalidInputError("input_mean must be finite and input_std finite and positive: "
                                "compute them on the training images")
    return layers.Normalization(axis=-1, mean=mean, variance=std ** 2, name="standardise")(inputs)


def _check_arch(channels: int, size: int, base_filters: int, depth: int, dropout) -> None:
    for name, value in (("channels", channels), ("size", size), ("base_filters", base_filters),
                        ("depth", depth)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"{name}={value!r}: give a positive integer")
    if size % 2 ** (depth - 1):
        raise InvalidInputError(f"size={size} is not a multiple of {2 ** (depth - 1)} "
                                f"(depth={depth}): use 128 px tiles, or pad the image")
    if len(dropout) < depth:
        raise InvalidInputError(f"dropout has {len(dropout)} rates for {depth} levels: give one "
                                "per level, e.g. (0.1, 0.1, 0.2, 0.2, 0.3)")


def parameter_count(channels: int, *, base_filters: int = 16, depth: int = 5) -> int:
    """Trainable weights of :func:`build_unet`, counted by hand (to check the model).

    Each 3 x 3 convolution from ``a`` to ``b`` channels has ``9ab + b`` weights, each 2 x 2
    transposed convolution ``4ab + b``, the output convolution ``f0 + 1``.
    """
    f = [base_filters * 2 ** i for i in range(depth)]
    n, prev = 0, channels
    for fi in f:
        n += 9 * prev * fi + fi + 9 * fi * fi + fi
        prev = fi
    for i in reversed(range(depth - 1)):
        n += 4 * f[i + 1] * f[i] + f[i] + 9 * 2 * f[i] * f[i] + f[i] + 9 * f[i] * f[i] + f[i]
    return n + f[0] + 1


def weighted_bce(pos_weight: float):
    """Binary cross-entropy with landslide pixels weighted ``pos_weight`` times.

    ``loss = -mean(w * y * log(p) + (1 - y) * log(1 - p))``. Hand-written because Keras'
    ``BinaryCrossentropy`` has no positive-class weight (TensorFlow's
    ``weighted_cross_entropy_with_logits`` wants logits, and the seed's model ends in a sigmoid).
    """
    if checks.number("pos_weight", pos_weight) <= 0:
        raise InvalidInputError(f"pos_weight={pos_weight!r}: give a positive number, e.g. "
                                "sqrt(background pixels / landslide pixels)")
    from keras import ops

    def loss(y_true, y_pred):
        p = ops.clip(y_pred, 1e-7, 1 - 1e-7)
        y = ops.cast(y_true, p.dtype)
        return -ops.mean(pos_weight * y * ops.log(p) + (1 - y) * ops.log(1 - p), axis=-1)

    loss.__name__ = f"weighted_bce_{pos_weight:.3g}"
    return loss


def make_loss(name: str, *, pos_weight: float = 1.0):
    """The loss called ``name`` (one of :data:`LOSSES`); ``pos_weight`` for weighted BCE."""
    import keras

    if name == "bce":
        return keras.losses.BinaryCrossentropy()
    if name == "weighted_bce":
        return weighted_bce(pos_weight)
    if name == "dice":
        return keras.losses.Dice()
    if name == "bce_dice":
        bce, dice = keras.losses.BinaryCrossentropy(), keras.losses.Dice()
        return lambda y, p: bce(y, p) + dice(y, p)
    raise InvalidInputError(f"loss={name!r}: use one of {', '.join(LOSSES)}")


def compile_unet(model, *, loss: str = "bce", pos_weight: float = 1.0,
                 learning_rate: float = 1e-3):
    """Compile with Adam, the chosen loss and precision, recall, F1 (threshold 0.5)."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=make_loss(loss, pos_weight=pos_weight),
                  metrics=[keras.metrics.Precision(name="precision"),
                           keras.metrics.Recall(name="recall"), BinaryF1()])
    return model


def _f1_class():
    import keras

    class _BinaryF1(keras.metrics.Metric):
        """F1 of the landslide class over all pixels (Keras' F1Score wants (batch, classes))."""

        def __init__(self, name: str = "f1", threshold: float = 0.5, **kwargs: Any):
            super().__init__(name=name, **kwargs)
            self.threshold = threshold
            self.counts = self.add_variable(shape=(3,), initializer="zeros", name="tp_fp_fn")

        def update_state(self, y_true, y_pred, sample_weight=None):
            from keras import ops

            y = ops.reshape(ops.cast(y_true, "float32"), (-1,))
            p = ops.reshape(ops.cast(y_pred > self.threshold, "float32"), (-1,))
            self.counts.assign_add(ops.stack([ops.sum(y * p), ops.sum((1 - y) * p),
                                              ops.sum(y * (1 - p))]))

        def result(self):
            tp, fp, fn = self.counts[0], self.counts[1], self.counts[2]
            return 2 * tp / (2 * tp + fp + fn + 1e-7)

        def reset_state(self):
            self.counts.assign([0.0, 0.0, 0.0])

    return _BinaryF1


def BinaryF1(name: str = "f1", threshold: float = 0.5):  # noqa: N802 (a class factory)
    """Keras metric: F1 of the landslide class, pixels thresholded at ``threshold``."""
    return _f1_class()(name=name, threshold=threshold)


def batch_mean_f1(masks: np.ndarray, probs: np.ndarray, *, batch_size: int = 16,
                  threshold: float = 0.5) -> float:
    """F1 as seed 001 reports it: computed batch by batch, then averaged over the batches.

    Seed 001's code scores with Keras *function* metrics (``f1_m`` of its ``utils.py``: pixel
    counts of one batch, ``2 p r / (p + r + eps)``), which tf.keras 2 averages over the batches,
    each batch counting once; a batch without landslide pixels scores 0. That is not the pixel
    F1 of the whole set (:class:`BinaryF1`, ``metrics.scores``): the two differ whenever batches
    differ in how many landslide pixels they hold.

    Parameters
    ----------
    masks : ndarray
        (n, y, x) 0/1 truth, in the order the batches were drawn.
    probs : ndarray
        (n, y, x) or (n, y, x, 1) predicted probability (0-1).
    batch_size : int
        Patches per batch (seed 001: 16); the last batch may be smaller.
    threshold : float
        Probability above which a pixel is called landslide (``K.round``: 0.5).

    Returns
    -------
    float
        The mean of the per-batch F1 values (0-1).
    """
    masks = checks.mask("masks", masks)
    probs = checks.array("probs", probs)
    if probs.size != masks.size:
        raise InvalidInputError(f"probs {probs.shape} do not match masks {masks.shape}: give one "
                                "probability per mask pixel")
    batch_size = checks.integer("batch_size", batch_size, minimum=1)
    threshold = checks.number("threshold", threshold, minimum=0.0, maximum=1.0)
    pred = probs.reshape(masks.shape) > threshold
    eps = 1e-7  # Keras' K.epsilon()
    scores = []
    for i in range(0, len(masks), batch_size):
        y, p = masks[i:i + batch_size], pred[i:i + batch_size]
        tp = float(np.count_nonzero(y & p))
        precision, recall = tp / (p.sum() + eps), tp / (y.sum() + eps)
        scores.append(2 * precision * recall / (precision + recall + eps))
    if not scores:
        raise InvalidInputError("masks is empty: give at least one (y, x) patch")
    return float(np.mean(scores))


def _nan_guard():
    import keras

    class _StopOnNaN(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                raise TrainingError(
                    f"the loss became {loss} at batch {batch}: the likely causes are NaN in the "
                    "inputs (check np.isfinite(images).all()) or a learning rate too high "
                    "(try 1e-4); fix and train again")

    return _StopOnNaN()


def model_record_path(checkpoint: str | Path) -> Path:
    """The record that :func:`train_unet` writes beside a checkpoint: ``x.weights.h5`` -> ``x.model.json``."""
    path = Path(checkpoint)
    return path.with_name(path.name.removesuffix(".weights.h5") + ".model.json")


def model_record(model) -> dict[str, Any]:
    """What rebuilding ``model`` needs besides its weights: the input shape and the per-channel
    input mean and standard deviation of its ``standardise`` layer (None without one).

    Keras keeps a ``Normalization`` layer's mean and variance out of a ``.weights.h5`` file
    (they are constants, not variables), so a checkpoint alone cannot rebuild the model.
    """
    _, size, _, channels = model.input_shape
    try:
        layer = model.get_layer("standardise")
    except ValueError:
        mean = std = None
    else:
        mean = np.asarray(layer.input_mean, dtype=np.float64).reshape(-1).tolist()
        std = np.sqrt(np.asarray(layer.input_variance, dtype=np.float64)).reshape(-1).tolist()
    return {"channels": int(channels), "size": size, "input_mean": mean, "input_std": std}


def _sha256(path: Path) -> str:
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_model_record(model, checkpoint: str | Path) -> Path:
    """Write :func:`model_record` of ``model`` beside ``checkpoint``, with the SHA-256 of the
    weights file it describes (``weights_sha256``), atomically; returns the record's path."""
    import json

    record = model_record_path(checkpoint)
    partial = record.with_name(record.name + ".part")
    described = {**model_record(model), "weights_sha256": _sha256(Path(checkpoint))}
    partial.write_text(json.dumps(described, indent=1))
    partial.replace(record)
    return record


def read_model_record(checkpoint: str | Path) -> dict[str, Any] | None:
    """The record beside ``checkpoint`` (:func:`model_record_path`), or None when there is none,
    it cannot be read (a run stopped before its end leaves none), or it describes other weights
    than the file now holds (its ``weights_sha256`` differs: the file was replaced since)."""
    import json

    try:
        record = json.loads(model_record_path(checkpoint).read_text())
        same = isinstance(record, dict) and record.get("weights_sha256") == _sha256(Path(checkpoint))
    except (OSError, ValueError):
        return None
    return record if same else None


def train_unet(model, train, val, *, epochs: int, checkpoint: str | Path,
               monitor: str = "val_f1", verbose: int = 2,
               patience: int | None = None) -> dict[str, list[float]]:
    """Fit ``model`` and keep the weights of its best validation epoch.

    Parameters
    ----------
    model : keras.Model
        A compiled model (:func:`compile_unet`).
    train, val : tf.data.Dataset
        Batches of (image, mask) from :func:`s2slide.models.inputs.make_datasets`.
    epochs : int
        Passes over the training set.
    checkpoint : str or Path
        A ``.weights.h5`` file (put it in a cache or temporary folder, not the repository):
        the best epoch's weights by ``monitor`` are saved there and loaded back at the end.
        Once training has ended, :func:`model_record` is written beside it
        (:func:`write_model_record`, with the weights' checksum); the old record is removed when
        training starts, so weights of a run that stopped early have none.
    monitor : str
        ``"val_f1"`` (maximised) or ``"val_loss"`` (minimised).
    patience : int, optional
        Stop early once ``monitor`` has not improved for this many epochs (``epochs`` is then
        a maximum); None trains all ``epochs``.

    Returns
    -------
    dict
        Keras history: one list per metric (``loss``, ``val_f1`` ...), one value per epoch.

    Raises
    ------
    TrainingError
        Empty data, or a loss that becomes NaN (with its likely causes).
    """
    import keras

    if train.cardinality() == 0 or val.cardinality() == 0:
        raise TrainingError("the training or validation set is empty: give at least 2 patches "
                            "(80/20 split) and a batch size no larger than the set")
    size, takes = tuple(train.element_spec[0].shape[1:3]), tuple(model.input_shape[1:3])
    if None not in size + takes and size != takes:
        raise InvalidInputError(f"the patches are {size[0]} x {size[1]} px and this U-Net takes "
                                f"{takes[0]} x {takes[1]}: cut patches of its size (a whole scene "
                                "is predicted tile by tile with tiling.predict_tiled), or build the "
                                f"U-Net with size={size[0]} if that is a multiple of 2 ** (depth - 1).")
    path = Path(checkpoint)
    if not path.name.endswith(".weights.h5"):
        raise InvalidInputError(f"checkpoint={str(path)!r}: name a weights file ending in "
                                "'.weights.h5', e.g. config.cache_dir() / 'unet.weights.h5'")
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "max" if monitor.endswith(("f1", "precision", "recall")) else "min"
    best = keras.callbacks.ModelCheckpoint(str(path), monitor=monitor, mode=mode,
                                           save_best_only=True, save_weights_only=True)
    callbacks = [best, _nan_guard()]
    if patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode,
                                                       patience=int(patience)))
    model_record_path(path).unlink(missing_ok=True)  # until this run ends, nothing is described
    before = path.stat().st_mtime_ns if path.exists() else None
    history = model.fit(train, validation_data=val, epochs=epochs, verbose=verbose, shuffle=False,
                        callbacks=callbacks)
    # Keras 3.15 saves the first epoch always; a ModelCheckpoint that starts from an infinite
    # best (as Keras 2's did) saves none if ``monitor`` is NaN every epoch, and the file is then
    # an older run's: not loaded, not described as this run's
    if path.exists() and path.stat().st_mtime_ns != before:
        model.load_weights(str(path))
        write_model_record(model, path)
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}
