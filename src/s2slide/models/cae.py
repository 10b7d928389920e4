"""The convolutional autoencoder (CAE) of Shahabi et al. (2021), their Table 2.

Input: a ``patch`` x ``patch`` x D patch around one pixel (D = 5 in the paper: MNF1-3, slope,
NDVI). The encoder has two 3 x 3 convolutions without padding (8 then 12 filters, each
followed by PReLU, the second also by batch normalisation) and a max pooling that leaves
1 x 1 x 12: the 12 *deep features* of the centre pixel. The decoder maps them back with two
1 x 1 convolutions (8, then D filters, each + PReLU + batch normalisation) and repeats the
result over the patch (``UpSampling2D``). The loss is Huber's, the optimiser Adam.

Choices the paper leaves open, made here: PReLU has one slope per channel
(``shared_axes=[1, 2]``); the 2 x 2 pooling of a 3 x 3 map (Table 2) keeps the ``valid``
window, i.e. the upper-left 2 x 2 of the 3 x 3 map (for ``patch`` > 7 the pool grows to
``patch - 5`` so the output stays 1 x 1).

What the decoder can reconstruct: ``UpSampling2D`` repeats the 1 x 1 x D output of the last
convolution over the whole patch, so every reconstruction is *constant* over the patch, one
value per layer. The lowest Huber loss such a decoder can reach is that of reconstructing each
patch by its own per-layer Huber centre (nearly its mean; :func:`constant_patch_losses`), and the
encoder only has to pass those D numbers on: the deep features encode a smoothed local mean of
the stack, not its texture within the patch (chapter 5 measures this).

TensorFlow is imported only when a function here is called. Chapter 5 introduces this module.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from s2slide import checks
from s2slide.errors import InvalidInputError, NoValidDataError, TrainingError

#: The paper's training settings (Section 3.4.1), found with Keras Tuner on full scenes.
PAPER_SETTINGS: dict[str, Any] = {"learning_rate": 0.1, "batch_size": 10_000, "epochs": 100}
#: Number of deep features (filters of the encoder's last convolution).
N_FEATURES = 12
#: Shahabi et al. (2021) Table 4, as printed (seed 002): areas in hectares, scores as fractions
#: (the table prints India's in percent). ``miou`` is the column the paper calls mIoU.
PAPER_TABLE4: tuple[dict[str, Any], ...] = tuple(
    dict(zip(("site", "features", "tp_ha", "fp_ha", "fn_ha", "precision", "recall", "f1", "miou"), row))
    for row in (("India", "MNF, slope, NDVI", 422.00, 1063.40, 156.60, 0.28, 0.73, 0.41, 0.26),
                ("India", "deep features", 526.50, 169.80, 52.10, 0.76, 0.91, 0.83, 0.70),
                ("China", "MNF, slope, NDVI", 93.67, 121.07, 181.07, 0.44, 0.34, 0.38, 0.24),
                ("China", "deep features", 239.37, 94.94, 35.37, 0.72, 0.87, 0.79, 0.60),
                ("Taiwan", "MNF, slope, NDVI", 1718.50, 1247.36, 752.40, 0.58, 0.70, 0.63, 0.50),
                ("Taiwan", "deep features", 2014.00, 599.50, 456.91, 0.77, 0.82, 0.79, 0.81)))
#: The study areas of Shahabi et al. (2021), Section 2, in km2 (100 ha each).
PAPER_AREA_KM2: dict[str, float] = {"India": 250.0, "China": 69.78, "Taiwan": 348.12}


def _check_shape(depth: int, patch: int) -> None:
    if int(depth) != depth or depth < 1:
        raise InvalidInputError(f"depth={depth}: give the number of input layers (e.g. 5).")
    if int(patch) != patch or patch < 7 or patch % 2 == 0:
        raise InvalidInputError(f"patch={patch}: the CAE needs an odd patch size >= 7 "
                                "(two 3 x 3 convolutions and a pooling must fit).")


def build_cae(depth: int, *, patch: int = 7, learning_rate: float = 0.1, seed: int | None = 0):
    """Build and compile the CAE of Table 2 (Huber loss, Adam).

    Parameters
    ----------
    depth : int
        D, the number of input layers (features) of a patch.
    patch : int
        Patch size in pixels (odd, >= 7; the paper uses 7).
    learning_rate : float
        Adam's learning rate (the paper: 0.1).
    seed : int or None
        Seeds Python, NumPy and TensorFlow (``keras.utils.set_random_seed``) so that the
        initial weights, and a training seeded the same way, are reproducible.

    Returns
    -------
    keras.Model
        Input (batch, patch, patch, depth) float32, output the same shape.
    """
    _check_shape(depth, patch)
    import keras
    from keras import layers

    if seed is not None:
        keras.utils.set_random_seed(int(seed))

    def block(x, filters: int, kernel: int, name: str, bn: bool):
        x = layers.Conv2D(filters, kernel, padding="valid", name=name)(x)
        x = layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(x)
        return layers.BatchNormalization(name=f"{name}_bn")(x) if bn else x

    inputs = keras.Input((patch, patch, depth), name="patch")
    x = block(inputs, 8, 3, "cnn1", bn=False)
    x = block(x, N_FEATURES, 3, "cnn2", bn=True)
    x = layers.MaxPooling2D(pool_size=patch - 5, name="encoded")(x)
    x = block(x, 8, 1, "cnn3", bn=True)
    x = block(x, depth, 1, "cnn4", bn=True)
    outputs = layers.UpSampling2D(size=patch, name="upsampling")(x)
    model = keras.Model(inputs, outputs, name="cae")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss=keras.losses.Huber())
    return model


def encoder(model):
    """The encoder half of a CAE: patches (batch, p, p, D) -> deep features (batch, 12)."""
    import keras

    flat = keras.layers.Flatten(name="deep_features")(model.get_layer("encoded").output)
    return keras.Model(model.input, flat, name="cae_encoder")


def patch_dataset(padded: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, patch: int = 7,
                  batch_size: int = 1024, shuffle: bool = False, seed: int = 0,
                  targets: bool = True):
    """A ``tf.data`` pipeline that cuts patches batch by batch from a padded stack.

    Only the padded stack (y + p - 1, x + p - 1, D) and the centre indices are held; each batch
    of patches is gathered when needed, so memory does not grow with 49 copies of the stack.

    Parameters
    ----------
    padded : ndarray float32, dims (y + patch - 1, x + patch - 1, feature)
        From :func:`s2slide.patches.pad`.
    rows, cols : int arrays (n,)
        Patch centres in the *unpadded* image (:func:`s2slide.patches.centres`).
    shuffle, seed : bool, int
        Shuffle the centres each epoch, reproducibly for a given seed.
    targets : bool
        Yield ``(patch, patch)`` pairs (for training an autoencoder) or patches alone.
    """
    import tensorflow as tf

    if len(rows) == 0 or len(rows) != len(cols):
        raise NoValidDataError(f"{len(rows)} rows and {len(cols)} columns of patch centres: "
                               "need the same, non-zero number (see patches.centres).")
    image = tf.constant(padded, dtype=tf.float32)
    offsets = tf.constant(np.stack(np.meshgrid(np.arange(patch), np.arange(patch),
                                               indexing="ij"), axis=-1), dtype=tf.int64)
    ds = tf.data.Dataset.from_tensor_slices(np.stack([rows, cols], axis=1).astype(np.int64))
    if shuffle:
        ds = ds.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)

    def cut(rc):  # rc (b, 2) -> (b, patch, patch, D); a patch's corner is its centre in padded
        x = tf.gather_nd(image, rc[:, None, None, :] + offsets[None])
        return (x, x) if targets else x

    return ds.batch(batch_size).map(cut, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def train(model, dataset, *, epochs: int, verbose: int = 0) -> dict[str, list[float]]:
    """Fit the autoencoder on ``dataset`` (from :func:`patch_dataset`, targets=True).

    Returns
    -------
    dict
        ``{"loss": [Huber loss per epoch]}``.

    Raises
    ------
    TrainingError
        The loss became NaN or infinite (lower the learning rate, check the stack for NaN).
    """
    import keras

    if int(epochs) < 1:
        raise InvalidInputError(f"epochs={epochs}: train at least one epoch.")
    history = model.fit(dataset, epochs=int(epochs), verbose=verbose, shuffle=False,
                        callbacks=[keras.callbacks.TerminateOnNaN()])
    loss = [float(v) for v in history.history["loss"]]
    if len(loss) < epochs or not all(math.isfinite(v) for v in loss):
        raise TrainingError(f"training stopped with loss {loss[-1:]} after {len(loss)} epochs: "
                            "lower the learning rate or standardize the stack.")
    return {"loss": loss}


def deep_features(model, padded: np.ndarray, valid: np.ndarray, *, patch: int = 7,
                  batch_size: int = 8192) -> np.ndarray:
    """The encoder's features for every valid pixel, as images (feature, y, x), NaN elsewhere.

    ``padded`` comes from :func:`s2slide.patches.pad`, ``valid`` is the (y, x) mask of centres.
    """
    from s2slide import patches

    rows, cols = patches.centres(valid)
    ds = patch_dataset(padded, rows, cols, patch=patch, batch_size=batch_size, targets=False)
    feats = encoder(model).predict(ds, verbose=0)
    out = np.full((feats.shape[1], *np.shape(valid)), np.nan, dtype=np.float32)
    out[:, rows, cols] = feats.T
    return out


def weight_updates(n_patches: int, *, batch_size: int, epochs: int) -> int:
    """Weight updates of a training: batches per epoch (the last one partial) times epochs."""
    n_patches, batch_size, epochs = (checks.integer(k, v, minimum=1) for k, v in (
        ("n_patches", n_patches), ("batch_size", batch_size), ("epochs", epochs)))
    return math.ceil(n_patches / batch_size) * epochs


def matched_settings(n_pixels: int, *, n_patches: int = 20_000,
                     batch_size: int = 256) -> dict[str, Any]:
    """Training settings that make as many weight updates as the paper's on ``n_pixels`` pixels.

    The paper trains on every pixel in batches of 10,000 for 100 epochs
    (:data:`PAPER_SETTINGS`). These settings keep its learning rate and its number of updates but
    draw each batch of ``batch_size`` from a random sample of ``n_patches`` patches, so that a CPU
    sees far fewer patches (``n_patches * epochs`` instead of ``n_pixels * 100``).

    Returns
    -------
    dict
        ``patches``, ``batch_size``, ``epochs``, ``learning_rate``: ``epochs`` is the smallest
        number with :func:`weight_updates` >= the paper's.
    """
    paper = weight_updates(n_pixels, batch_size=PAPER_SETTINGS["batch_size"],
                           epochs=PAPER_SETTINGS["epochs"])
    n = min(int(n_patches), int(n_pixels))
    per_epoch = weight_updates(n, batch_size=batch_size, epochs=1)
    return {"patches": n, "batch_size": int(batch_size), "epochs": math.ceil(paper / per_epoch),
            "learning_rate": PAPER_SETTINGS["learning_rate"]}


def huber(residual: np.ndarray, *, delta: float = 1.0) -> float:
    """Mean Huber loss of residuals, as ``keras.losses.Huber(delta)`` computes it.

    ``0.5 r**2`` where ``|r| <= delta``, ``delta * (|r| - delta / 2)`` elsewhere, averaged over
    every element. The loss is in the units of the data: the same patches in other units (slope
    in degrees instead of z-scores) give another number.
    """
    r = np.abs(np.asarray(residual, dtype=np.float64))
    return float(np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta)).mean())


def _huber_centre(x: np.ndarray, *, delta: float, iterations: int = 30) -> np.ndarray:
    """Per-patch, per-layer constant with the lowest Huber loss (axes 1, 2 of (n, p, p, D)).

    Iteratively reweighted means (Huber's M-estimate of location), started at the mean; written
    out because no NumPy or SciPy function returns it for every patch at once.
    """
    c = x.mean(axis=(1, 2), keepdims=True)
    for _ in range(iterations):
        w = np.minimum(1.0, delta / np.maximum(np.abs(x - c), 1e-12))
        c = (w * x).sum(axis=(1, 2), keepdims=True) / w.sum(axis=(1, 2), keepdims=True)
    return c


def constant_patch_losses(batch: np.ndarray, *, delta: float = 1.0) -> dict[str, float]:
    """Huber losses of two reconstructions that need no network, for a batch of patches.

    Parameters
    ----------
    batch : ndarray float, dims (n, patch, patch, D)
        Patches of a standardised stack (mean 0 per layer), e.g. ``view[rows, cols]``.

    Returns
    -------
    dict of float
        ``zeros``: every patch reconstructed by 0, the layer means (a network that learned
        nothing); ``best_constant``: every patch by its own per-layer constant with the lowest
        Huber loss. The CAE's decoder outputs constant patches, so no training can take its loss
        below ``best_constant`` on these patches.
    """
    x = np.asarray(batch, dtype=np.float64)
    if x.ndim != 4 or x.shape[0] == 0:
        raise InvalidInputError(f"batch has shape {x.shape}; use patches (n, p, p, D), n >= 1.")
    return {"zeros": huber(x, delta=delta),
            "best_constant": huber(x - _huber_centre(x, delta=delta), delta=delta)}


def train_features(stack: np.ndarray, valid: np.ndarray, *, seed: int, n_patches: int | None,
                   batch_size: int, epochs: int, learning_rate: float = 0.1, patch: int = 7,
                   model=None):
    """Train a CAE on a standardised stack and return it, its loss and the deep features.

    The steps of chapter 5 in one call: pad the stack, draw ``n_patches`` patch centres at
    random (``seed``; None: every valid pixel), build the CAE (``seed``) unless ``model`` is
    given, train it through :func:`patch_dataset` (shuffled with ``seed``), encode every pixel.

    Parameters
    ----------
    stack : ndarray float32, dims (feature, y, x)
        Standardised layers without NaN (:func:`s2slide.patches.standardize`).
    valid : bool array (y, x)
        Pixels to train on and to encode.
    model : keras.Model, optional
        A compiled autoencoder with the same input and an ``"encoded"`` layer (e.g. a variant of
        :func:`build_cae`); by default ``build_cae(len(stack), ...)``.

    Returns
    -------
    (keras.Model, dict, ndarray float32 (12, y, x))
        The trained model, ``{"loss": [...]}`` and :func:`deep_features` (NaN outside ``valid``).
    """
    from s2slide import patches

    padded = patches.pad(stack, size=patch)
    rows, cols = patches.sample_centres(valid, n=n_patches, seed=seed)
    if model is None:
        model = build_cae(len(stack), patch=patch, learning_rate=learning_rate, seed=seed)
    data = patch_dataset(padded, rows, cols, patch=patch, batch_size=batch_size, shuffle=True,
                         seed=seed)
    history = train(model, data, epochs=epochs)
    return model, history, deep_features(model, padded, valid, patch=patch)


def save_weights(model, path: str | Path) -> Path:
    """Save the weights to ``path`` (its name must end in ``.weights.h5``); returns the path."""
    path = Path(path)
    if not path.name.endswith(".weights.h5"):
        raise InvalidInputError(f"{path.name}: Keras weight files must end in '.weights.h5'.")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(path)
    return path


def load_cae(path: str | Path, depth: int, *, patch: int = 7, learning_rate: float = 0.1):
    """Build a CAE for ``depth`` layers and load weights saved by :func:`save_weights`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights at {path}: train a model and save_weights() first.")
    model = build_cae(depth, patch=patch, learning_rate=learning_rate, seed=None)
    model.optimizer.build(model.trainable_variables)  # the file holds Adam's state too
    try:
        model.load_weights(path)
    except (OSError, ValueError, KeyError) as err:  # cut short, not HDF5, another depth or patch
        raise InvalidInputError(f"{path} does not hold the weights of a CAE of depth={depth} for "
                                f"{patch} x {patch} patches ({type(err).__name__}): load it with the "
                                "depth and patch it was saved with, or train and save_weights() "
                                "again.") from err
    return model
