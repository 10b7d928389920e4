"""s2slide.models.inputs: seeded split, and augmentation that keeps image and mask aligned."""

from __future__ import annotations

import numpy as np
import pytest

from s2slide.models import inputs
from s2slide.errors import InvalidInputError, ShapeMismatchError, TrainingError


def _pairs(n=10, size=16, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(n, size, size, 3)).astype(np.float32)
    masks = (images[..., 0] > 0.5).astype(np.uint8)  # the mask is a function of channel 0
    return images, masks


def test_augmentation_keeps_image_and_mask_aligned():
    images, masks = _pairs()
    ds = inputs.make_dataset(images, masks, batch_size=5, augment=True, seed=3)
    changed = 0
    for _ in range(2):  # two epochs: fresh draws
        for x, y in ds:
            x, y = x.numpy(), y.numpy()[..., 0]
            np.testing.assert_array_equal(y, (x[..., 0] > 0.5).astype(np.float32))
            changed += sum(not any(np.array_equal(xi, im) for im in images) for xi in x)
    assert changed > 5  # most patches were flipped or rotated
    # every augmented patch is one of the 8 symmetries of an original patch
    x0 = next(iter(ds))[0].numpy()[0]
    variants = [np.rot90(f, k) for f in (images[0], images[0][:, ::-1]) for k in range(4)]
    assert any(np.array_equal(x0, v) for v in variants)


def test_same_seed_same_batches():
    images, masks = _pairs()
    a = [x.numpy() for x, _ in inputs.make_dataset(images, masks, batch_size=4, augment=True,
                                                     shuffle=True, seed=7)]
    b = [x.numpy() for x, _ in inputs.make_dataset(images, masks, batch_size=4, augment=True,
                                                     shuffle=True, seed=7)]
    assert len(a) == 2  # 10 patches, batches of 4: the partial batch is dropped in training
    assert all(np.array_equal(u, v) for u, v in zip(a, b))


def test_split_80_20_seeded_and_stratified():
    masks = np.zeros((50, 4, 4), np.uint8)
    masks[:20, 0, 0] = 1
    train, val = inputs.split_indices(50, seed=1, stratify=masks.any(axis=(1, 2)))
    assert len(train) == 40 and len(val) == 10 and not set(train) & set(val)
    assert masks[val].any(axis=(1, 2)).sum() == 4  # 40 % of the validation patches too
    again = inputs.split_indices(50, seed=1, stratify=masks.any(axis=(1, 2)))
    assert np.array_equal(val, again[1])


def test_bad_inputs():
    images, masks = _pairs(4)
    with pytest.raises(TrainingError, match="non-empty"):
        inputs.make_dataset(images[:0], masks[:0])
    with pytest.raises(TrainingError, match="at least 2"):
        inputs.split_indices(1)
    with pytest.raises(ShapeMismatchError, match="one"):
        inputs.make_dataset(images, masks[:3])
    bad = images.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        inputs.make_dataset(bad, masks)
    with pytest.raises(InvalidInputError, match="0 and 1"):
        inputs.make_dataset(images, masks * 3)
    with pytest.raises(TrainingError, match="larger than"):
        inputs.make_dataset(images, masks, batch_size=8, shuffle=True)
    with pytest.raises(TrainingError, match="no landslide"):
        inputs.positive_weight(np.zeros((2, 4, 4)))
    assert inputs.positive_weight(np.array([1, 0, 0, 0, 0])) == pytest.approx(2.0)
