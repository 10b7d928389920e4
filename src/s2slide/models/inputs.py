"""A ``tf.data`` input pipeline for image/mask patches: seeded 80/20 split, batching and
augmentation (flips and 90-degree rotations applied *identically* to image and mask).

Image and mask are stacked along the channel axis before each random transform and split
after it, so no transform can touch one without the other. Random draws come from
stateless ops fed by a seeded counter, so the same seed gives the same augmented batches.
Introduced in chapter 6.
"""

from __future__ import annotations

import math

import numpy as np

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


def augment_pair(image, mask, seed):
    """Random flips and rotation by k x 90 degrees, identical for ``image`` and ``mask``.

    Parameters
    ----------
    image : tf.Tensor
        float32, (y, x, channels).
    mask : tf.Tensor
        float32, (y, x, 1).
    seed : tf.Tensor
        int64, shape (2,): the stateless seed of this example.

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
    return both[..., :-1], both[..., -1:]


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
                 augment: bool = False, shuffle: bool = False, seed: int = 0):
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
            lambda pair, s: augment_pair(pair[0], pair[1], s), num_parallel_calls=tf.data.AUTOTUNE)
    # a training set drops its last partial batch: one batch shape, traced once
    return ds.batch(batch_size, drop_remainder=shuffle).prefetch(tf.data.AUTOTUNE)


def make_datasets(images: np.ndarray, masks: np.ndarray, *, val_fraction: float = 0.2,
                  batch_size: int = 16, augment: bool = True, seed: int = 0):
    """Seeded 80/20 split into a training set (shuffled, augmented if asked) and a
    validation set (never augmented). Returns ``(train, val, train_idx, val_idx)``."""
    check_patches(images, masks)
    train_idx, val_idx = split_indices(len(images), val_fraction=val_fraction, seed=seed,
                                       stratify=np.asarray(masks).any(axis=(1, 2)))
    train = make_dataset(images[train_idx], masks[train_idx], batch_size=batch_size,
                         augment=augment, shuffle=True, seed=seed)
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
