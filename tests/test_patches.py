"""s2slide.patches: patches around every pixel, borders padded as stated, bad input refused."""

from __future__ import annotations

import numpy as np
import pytest

from s2slide import patches
from s2slide.errors import InvalidInputError, NoValidDataError, ShapeMismatchError


@pytest.fixture
def stack() -> np.ndarray:
    """Two layers of 8 x 9 pixels: value = 100 * layer + 10 * row + column."""
    f, r, c = np.meshgrid(np.arange(2), np.arange(8), np.arange(9), indexing="ij")
    return (100 * f + 10 * r + c).astype(np.float32)


def test_interior_patch_is_the_neighbourhood(stack):
    view = patches.patch_view(stack, size=3)
    assert view.shape == (8, 9, 3, 3, 2)
    np.testing.assert_array_equal(view[2, 3, :, :, 1], stack[1, 1:4, 2:5])


@pytest.mark.parametrize("mode, corner", [
    ("reflect", [[11, 10, 11], [1, 0, 1], [11, 10, 11]]),   # mirror without repeating the edge
    ("edge", [[0, 0, 1], [0, 0, 1], [10, 10, 11]]),         # edge pixel repeated
    ("constant", [[0, 0, 0], [0, 0, 1], [0, 10, 11]]),      # zeros (the mean after standardize)
])
def test_border_padding(stack, mode, corner):
    view = patches.patch_view(stack, size=3, mode=mode)
    np.testing.assert_array_equal(view[0, 0, :, :, 0], corner)
    assert view[0, 0, 1, 1, 1] == 100  # the centre is the pixel itself in every layer


def test_seven_by_seven_reflect_at_the_far_corner(stack):
    view = patches.patch_view(stack, size=7)
    patch = view[7, 8, :, :, 0]
    assert patch[3, 3] == 78
    np.testing.assert_array_equal(patch[3], [75, 76, 77, 78, 77, 76, 75])
    np.testing.assert_array_equal(patch[:, 3], [48, 58, 68, 78, 68, 58, 48])


def test_view_is_not_a_copy_and_extract_copies_only_valid_centres(stack):
    view = patches.patch_view(stack, size=7)
    assert not view.flags.owndata and view.base is not None
    valid = np.zeros((8, 9), bool)
    valid[[0, 7], [1, 6]] = True
    out = patches.extract(stack, valid=valid, size=7)
    assert out.shape == (2, 7, 7, 2) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out[1], view[7, 6])


def test_standardize_fills_invalid_and_nan_with_zero(stack):
    data = stack.copy()
    data[0, 0, 0] = np.nan
    valid = np.ones((8, 9), bool)
    valid[7] = False
    out, mean, std = patches.standardize(data, valid=valid)
    ok = valid.copy()
    ok[0, 0] = False
    np.testing.assert_allclose(out[:, ok].mean(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(out[:, ok].std(axis=1), 1, atol=1e-6)
    assert out[0, 0, 0] == 0 and (out[:, 7] == 0).all() and mean.shape == std.shape == (2,)


def test_standardize_applies_given_statistics(stack):
    valid = np.ones((8, 9), bool)
    valid[0] = False
    _, mean, std = patches.standardize(stack, valid=valid)
    other = stack + 5
    other[1, 3, 3] = np.nan
    out, mean2, std2 = patches.standardize(other, valid=valid, mean=mean, std=std)
    expected = ((other - mean[:, None, None]) / std[:, None, None]).astype(np.float32)
    expected[:, 0] = 0
    expected[:, 3, 3] = 0
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(mean2, mean)
    np.testing.assert_array_equal(std2, std)
    with pytest.raises(InvalidInputError, match="both mean and std"):
        patches.standardize(stack, mean=mean)
    with pytest.raises(ShapeMismatchError, match="one value per layer"):
        patches.standardize(stack, mean=mean[:1], std=std[:1])


def test_patch_view_of_an_already_padded_stack(stack):
    padded = patches.pad(stack, size=3, mode="edge")
    view = patches.patch_view(padded, size=3, padded=True)
    assert np.shares_memory(view, padded)
    np.testing.assert_array_equal(view, patches.patch_view(stack, size=3, mode="edge"))
    with pytest.raises(InvalidInputError, match="padded=True"):
        patches.patch_view(stack[0], size=3, padded=True)


def test_bad_input(stack):
    nan = stack.copy()
    nan[1, 2, 2] = np.nan
    with pytest.raises(InvalidInputError, match="standardize"):
        patches.patch_view(nan)
    with pytest.raises(NoValidDataError, match="smaller than one 7 x 7 patch"):
        patches.patch_view(stack[:, :5, :])
    with pytest.raises(NoValidDataError, match="0 valid pixels, 1 needed"):
        patches.extract(stack, valid=np.zeros((8, 9), bool))
    with pytest.raises(NoValidDataError, match="72 valid pixels, 100 needed"):
        patches.centres(np.ones((8, 9), bool), min_pixels=100)
    with pytest.raises(InvalidInputError, match="odd size"):
        patches.pad(stack, size=4)
    with pytest.raises(InvalidInputError, match="mode="):
        patches.pad(stack, mode="wrap")
    with pytest.raises(InvalidInputError, match="\\(feature, y, x\\)"):
        patches.pad(stack[0])
    with pytest.raises(ShapeMismatchError, match="differ"):
        patches.extract(stack, valid=np.ones((5, 9), bool))
    with pytest.raises(NoValidDataError, match="constant"):
        patches.standardize(np.ones((2, 4, 4)))


@pytest.mark.parametrize("mode", patches.PAD_MODES)
def test_local_mean_is_the_mean_of_each_patch(stack, mode):
    rng = np.random.default_rng(0)
    noisy = stack + rng.normal(size=stack.shape).astype(np.float32)
    means = patches.local_mean(noisy, size=3, mode=mode)
    view = patches.patch_view(noisy, size=3, mode=mode)  # (y, x, 3, 3, feature)
    assert means.shape == noisy.shape and means.dtype == np.float32
    np.testing.assert_allclose(means, np.moveaxis(view.mean(axis=(2, 3)), -1, 0), rtol=1e-5, atol=1e-4)
    with pytest.raises(InvalidInputError, match="mode="):
        patches.local_mean(noisy, mode="wrap")


def test_sample_centres_is_a_seeded_sorted_subset():
    valid = np.zeros((20, 30), bool)
    valid[2:18, 5:25] = True
    rows, cols = patches.sample_centres(valid, n=50, seed=4)
    assert rows.size == 50 and valid[rows, cols].all()
    flat = rows * 30 + cols
    assert (np.diff(flat) > 0).all()  # sorted, no repeats
    again = patches.sample_centres(valid, n=50, seed=4)
    np.testing.assert_array_equal(flat, again[0] * 30 + again[1])
    other = patches.sample_centres(valid, n=50, seed=5)
    assert not np.array_equal(flat, other[0] * 30 + other[1])
    for n in (None, 10_000):
        np.testing.assert_array_equal(patches.sample_centres(valid, n=n)[0], patches.centres(valid)[0])
    with pytest.raises(InvalidInputError, match="at least one"):
        patches.sample_centres(valid, n=0)
