"""A ``tf.data`` input pipeline for image/mask patches: seeded 80/20 split, batching and
augmentation (flips and 90-degree rotations applied *identically* to image and mask).

Image and mask are stacked along the channel axis before each random transform and split
after it, so no transform can touch one without the other. Random draws come from
stateless ops fed by a seeded counter, so the same seed gives the same augmented batches.
Aspect channels (sine and cosine of a compass direction) turn with the patch.

Also the input sets the seeds feed their networks: :func:`seed001_inputs` (red, green, blue,
NDVI, slope, elevation, each patch scaled on its own, as seed 001's code does) and
:func:`bitemporal_inputs` (seed 004: both dates and DEM-derived channels).
Introduced in chapter 6.
"""

from __future__ import annotations

import math

import numpy as np

from s2slide import checks
from s2slide.errors import InvalidInputError, ShapeMismatchError, TrainingError


def check_patches(images: np.ndarray, masks: np.ndarray) -> None:
    """Raise a helpful error unless images (n, y, x, c) and masks (n, y, x) of 0/1 match."""
    images, masks = np.asarray(images), np.asarray(masks)
    if images.ndim != 4 or images.shape[0] == 0:
        raise TrainingError(f"images have shape {images.shape}: give a non-empty stack "
                            "(n, y, x, channels), e.g. from l4s.load_patches")
    if masks.shape != images.shape[:3]:
        raise ShapeMismatchError(f"masks {masks.shape} do not match images {images.shape}: "
                                 "give one (y, x) mask per image")
    if not np.isfinite(images).all():
        raise InvalidInputError("images hold NaN or infinite values: replace them first "
                                "(e.g. np.nan_to_num(images)) or drop those patches")
    if not np.isin(np.unique(masks), (0, 1)).all():
        raise InvalidInputError("masks must hold only 0 and 1: threshold them first")


def augment_pair(image, mask, seed, *, aspect: tuple[int, int] | None = None):
    """Random flips and rotation by k x 90 degrees, identical for ``image`` and ``mask``.

    Parameters
    ----------
    image : tf.Tensor
        float32, (y, x, channels).
    mask : tf.Tensor
        float32, (y, x, 1).
    seed : tf.Tensor
        int64, shape (2,): the stateless seed of this example.
    aspect : (int, int), optional
        Channels holding the sine and cosine of the aspect (seed 004's DEM channels): their
        values turn with the patch (:func:`_turn_aspect`), or they would point the wrong way.

    Returns
    -------
    (tf.Tensor, tf.Tensor)
        The transformed image and mask (a square patch keeps its shape).
    """
    import tensorflow as tf

    both = tf.concat([image, mask], axis=-1)
    s = tf.random.experimental.stateless_split(seed, 3)
    both = tf.image.stateless_random_flip_left_right(both, s[0])
    both = tf.image.stateless_random_flip_up_down(both, s[1])
    k = tf.random.stateless_uniform([], s[2], minval=0, maxval=4, dtype=tf.int32)
    both = tf.image.rot90(both, k)
    image, mask = both[..., :-1], both[..., -1:]
    if aspect is not None:
        image = _turn_aspect(image, aspect, s, k)
    return image, mask


def _turn_aspect(image, aspect: tuple[int, int], s, k):
    """Turn the (sin, cos) aspect channels as :func:`augment_pair` turned the patch.

    Aspect ``a`` is the downslope compass direction: a left-right flip maps it to 360 - a
    (sin changes sign), an up-down flip to 180 - a (cos changes sign), and each counter-clockwise
    quarter turn (``tf.image.rot90``) to a - 90. Whether a flip happened is read back by
    flipping a two-pixel probe with the same stateless seed (the same draw).
    """
    import tensorflow as tf

    probe = tf.constant([[[0.0], [1.0]]])                               # (1, 2, 1)
    lr = tf.image.stateless_random_flip_left_right(probe, s[0])[0, 0, 0] > 0.5
    ud = tf.image.stateless_random_flip_up_down(tf.transpose(probe, (1, 0, 2)), s[1])[0, 0, 0] > 0.5
    n = image.shape[-1]
    i_sin, i_cos = (int(a) % n for a in aspect)
    sin = tf.where(lr, -image[..., i_sin], image[..., i_sin])
    cos = tf.where(ud, -image[..., i_cos], image[..., i_cos])
    c90 = tf.gather([1.0, 0.0, -1.0, 0.0], k)                          # cos(90 k)
    s90 = tf.gather([0.0, 1.0, 0.0, -1.0], k)                          # sin(90 k)
    turned = {i_sin: sin * c90 - cos * s90, i_cos: cos * c90 + sin * s90}
    channels = [turned.get(i, image[..., i]) for i in range(n)]
    return tf.stack(channels, axis=-1)


def split_indices(n: int, *, val_fraction: float = 0.2, seed: int = 0,
                  stratify: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/validation split of ``n`` patches (scikit-learn's ``train_test_split``).

    ``stratify`` (e.g. ``masks.any(axis=(1, 2))``) keeps the share of patches holding a
    landslide equal in both parts.
    """
    from sklearn.model_selection import train_test_split

    if not 0 < val_fraction < 1:
        raise InvalidInputError(f"val_fraction={val_fraction!r}: give a fraction, e.g. 0.2")
    n_val = math.ceil(n * val_fraction)
    if n < 2 or n_val >= n:
        raise TrainingError(f"{n} patch(es) cannot be split {1 - val_fraction:.0%}/"
                            f"{val_fraction:.0%}: give at least 2 patches, e.g. 100")
    if stratify is not None and min(np.bincount(np.asarray(stratify, int))) < 2:
        stratify = None  # too few of one kind to stratify
    idx = np.arange(n)
    train, val = train_test_split(idx, test_size=n_val, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(val)


def make_dataset(images: np.ndarray, masks: np.ndarray, *, batch_size: int = 16,
                 augment: bool = False, shuffle: bool = False, seed: int = 0,
                 aspect: tuple[int, int] | None = None):
    """A batched ``tf.data.Dataset`` of (image float32 (y, x, c), mask float32 (y, x, 1)).

    Parameters
    ----------
    images, masks : ndarray
        (n, y, x, c) float32 and (n, y, x) 0/1; held in memory (``from_tensor_slices``).
    batch_size : int
        Patches per batch.
    augment : bool
        Apply :func:`augment_pair` to every example, with fresh draws every epoch.
    shuffle : bool
        Shuffle the order every epoch (seeded) and drop the last partial batch (a training
        set: every patch is still seen over the epochs, and the model is traced only once).
    seed : int
        Seed of the shuffle and the augmentation draws.
    aspect : (int, int), optional
        Channels of the aspect's sine and cosine, turned with each augmented patch.
    """
    import tensorflow as tf

    check_patches(images, masks)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size={batch_size!r}: give a positive integer, e.g. 16")
    if shuffle and batch_size > len(images):
        raise TrainingError(f"batch_size={batch_size} is larger than the {len(images)} training "
                            "patches: use a smaller batch or more patches")
    ds = tf.data.Dataset.from_tensor_slices(
        (np.asarray(images, np.float32), np.asarray(masks, np.float32)[..., None]))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if augment:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda pair, s: augment_pair(pair[0], pair[1], s, aspect=aspect),
            num_parallel_calls=tf.data.AUTOTUNE)
    # a training set drops its last partial batch: one batch shape, traced once
    return ds.batch(batch_size, drop_remainder=shuffle).prefetch(tf.data.AUTOTUNE)


def make_datasets(images: np.ndarray, masks: np.ndarray, *, val_fraction: float = 0.2,
                  batch_size: int = 16, augment: bool = True, seed: int = 0,
                  aspect: tuple[int, int] | None = None):
    """Seeded 80/20 split into a training set (shuffled, augmented if asked) and a
    validation set (never augmented). Returns ``(train, val, train_idx, val_idx)``.
    ``aspect``: the aspect's (sine, cosine) channels, if any (see :func:`augment_pair`)."""
    check_patches(images, masks)
    train_idx, val_idx = split_indices(len(images), val_fraction=val_fraction, seed=seed,
                                       stratify=np.asarray(masks).any(axis=(1, 2)))
    train = make_dataset(images[train_idx], masks[train_idx], batch_size=batch_size,
                         augment=augment, shuffle=True, seed=seed, aspect=aspect)
    val = make_dataset(images[val_idx], masks[val_idx], batch_size=batch_size)
    return train, val, train_idx, val_idx


def positive_weight(masks: np.ndarray) -> float:
    """``sqrt(background / landslide)`` pixels: a moderate weight for the rare class.

    The full ratio (about 49 for Landslide4Sense's 2 %) over-predicts landslides; its square
    root is a common compromise. Raises if no pixel is a landslide.
    """
    pos = float(np.count_nonzero(masks))
    if pos == 0:
        raise TrainingError("no landslide pixel in the training masks: a weighted loss needs "
                            "some; add patches that hold landslides")
    return math.sqrt((np.asarray(masks).size - pos) / pos)


# ----------------------------------------------------------------------------- the seeds' inputs
#: Seed 001's own input channels, in the order :func:`seed001_inputs` returns them.
SEED001_INPUTS: tuple[str, ...] = ("red", "green", "blue", "NDVI", "slope", "elevation")
#: Seed 004's DEM-derived channels, after the two dates' bands in :func:`bitemporal_inputs`.
DEM_CHANNELS: tuple[str, ...] = ("elevation", "slope", "sin aspect", "cos aspect")


def _patch_max(x: np.ndarray) -> np.ndarray:
    """Maximum over each patch's (y, x) (axes -2 and -1 of (..., y, x)), kept for broadcasting;
    a maximum of 0 or less becomes 2 (so ``1 - x / (m / 2)`` leaves such a channel as ``1 - x``,
    where the seed's code would divide by zero)."""
    m = np.max(x, axis=(-2, -1), keepdims=True)
    return np.where(m > 0, m, 2.0)


def seed001_inputs(raw: np.ndarray) -> np.ndarray:
    """Seed 001's input set: red, green, blue, NDVI, slope and elevation, each patch on its own.

    As seed 001's code (the Landslide4Sense notebook it builds on, iamtekson/
    deep-learning-for-earth-observation, ``Notebooks/04. Landslide detection/01. Landslide4Sense
    solution.ipynb``, and its transfer notebook ``01.1 predict_landslide_U_Net_using_GEE_dataset``):
    NaN set to 1e-6; red, green and blue as ``1 - x / (m / 2)`` with ``m`` the largest value of
    the three bands in the patch (one scale for the three); NDVI ``(NIR - red) / (NIR + red)``
    of the values as given (Landslide4Sense file units, not reflectance: see
    :data:`s2slide.data.l4s.FILE_SCALE`); slope and elevation as ``1 - x / (max / 2)`` over the
    patch. For non-negative values every channel lies in -1..1, whatever the scene's
    brightness.

    Parameters
    ----------
    raw : ndarray
        float, (..., y, x, 6): red (B04), green (B03), blue (B02), NIR (B08), slope, DEM in
        Landslide4Sense file units (:data:`s2slide.data.l4s.SEED001_CHANNELS`), one patch or a
        stack; e.g. ``image[..., l4s.channel_indices()]`` of a file, or a tile of
        :func:`s2slide.data.l4s.scene_file_units`.

    Returns
    -------
    ndarray
        float32, (..., y, x, 6) in the order of :data:`SEED001_INPUTS`.
    """
    raw = checks.array("raw", raw).astype(np.float64)
    if raw.ndim < 3 or raw.shape[-1] != 6:
        raise ShapeMismatchError(f"raw has shape {raw.shape}: give (..., y, x, 6) with red, "
                                 "green, blue, NIR, slope and DEM (l4s.SEED001_CHANNELS)")
    x = np.moveaxis(np.where(np.isnan(raw), 1e-6, raw), -1, 0)     # (6, ..., y, x)
    red, green, blue, nir, slope, dem = x
    mid_rgb = np.maximum(_patch_max(red), np.maximum(_patch_max(green), _patch_max(blue))) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (nir - red) / (nir + red)
    out = np.stack([1 - red / mid_rgb, 1 - green / mid_rgb, 1 - blue / mid_rgb, ndvi,
                    1 - slope / (_patch_max(slope) / 2), 1 - dem / (_patch_max(dem) / 2)], -1)
    return np.where(np.isfinite(out), out, 1e-6).astype(np.float32)


def seed001_from_normalised(images: np.ndarray) -> np.ndarray:
    """:func:`seed001_inputs` of patches already in the course's input (officially normalised).

    Undoes ``l4s.normalise`` for :data:`s2slide.data.l4s.SEED001_CHANNELS` (``x * std + mean``,
    exact; a NaN that ``normalise`` filled keeps its fill value), so both input
    sets come from the very same patches, whatever their source.

    Parameters
    ----------
    images : ndarray
        float32, (..., y, x, 6) from ``l4s.load_patches`` / ``l4s.normalise`` (default channels).

    Returns
    -------
    ndarray
        float32, (..., y, x, 6) in the order of :data:`SEED001_INPUTS`.
    """
    from s2slide.data import bands, l4s

    images = np.asarray(images, np.float32)
    if images.ndim < 3 or images.shape[-1] != len(l4s.SEED001_CHANNELS):
        raise ShapeMismatchError(f"images have shape {images.shape}: give the six normalised "
                                 "channels of l4s.SEED001_CHANNELS, (..., y, x, 6)")
    idx = l4s.channel_indices(l4s.SEED001_CHANNELS)
    mean = np.asarray(bands.L4S_MEAN, np.float32)[idx]
    std = np.asarray(bands.L4S_STD, np.float32)[idx]
    return seed001_inputs(images * std + mean)


def bitemporal_inputs(pre: np.ndarray, post: np.ndarray, dem: np.ndarray, slope: np.ndarray,
                      aspect: np.ndarray) -> np.ndarray:
    """Seed 004's input: both dates' reflectance and four DEM-derived channels, stacked.

    Scaling as seed 004's paper: reflectance clipped to 0-1 (its DN / 10,000), elevation / 5,000
    m, slope / 90 degrees, and the sine and cosine of the aspect. (Its released code divides
    the elevation by 3,000 and takes sine and cosine of *half* the aspect, ``a * pi / 360``;
    we follow the paper.) NaN (no data) becomes 0.

    Parameters
    ----------
    pre, post : ndarray
        Surface reflectance 0-1, float, (..., y, x, band), the same bands on both dates.
    dem, slope, aspect : ndarray
        Elevation (m), slope (degrees) and aspect (degrees clockwise from north), (..., y, x).

    Returns
    -------
    ndarray
        float32, (..., y, x, 2 * band + 4): pre bands, post bands, then :data:`DEM_CHANNELS`;
        the aspect's sine and cosine are the last two channels (``aspect=(-2, -1)`` for
        :func:`make_dataset`).
    """
    pre, post = (checks.array(n, v).astype(np.float32) for n, v in (("pre", pre), ("post", post)))
    terrain = [checks.array(n, v).astype(np.float32)
               for n, v in (("dem", dem), ("slope", slope), ("aspect", aspect))]
    if pre.shape != post.shape or any(t.shape != pre.shape[:-1] for t in terrain):
        raise ShapeMismatchError(f"pre {pre.shape} and post {post.shape} must match, and dem, "
                                 f"slope, aspect {[t.shape for t in terrain]} be their (..., y, x)")
    dem, slope, aspect = terrain
    rad = np.radians(aspect)
    stack = np.concatenate([np.clip(pre, 0, 1), np.clip(post, 0, 1),
                            np.stack([dem / 5000.0, slope / 90.0, np.sin(rad), np.cos(rad)], -1)],
                           axis=-1)
    return np.nan_to_num(stack, nan=0.0).astype(np.float32)


def bitemporal_scene(ds, *, bands: tuple[str, ...] = ("B04", "B03", "B02", "B08")) -> np.ndarray:
    """A scene from ``data.load_scene`` as :func:`bitemporal_inputs` (aspect from its DEM).

    Returns float32 (y, x, 2 * len(bands) + 4).
    """
    from s2slide.data.simulate import slope_aspect

    res = float(abs(ds["x"].values[1] - ds["x"].values[0]))
    _, aspect = slope_aspect(ds["dem"].values, res_m=res)
    pre, post = (np.moveaxis(ds[when].sel(band=list(bands)).values, 0, -1)
                 for when in ("pre", "post"))
    return bitemporal_inputs(pre, post, ds["dem"].values, ds["slope"].values, aspect)
