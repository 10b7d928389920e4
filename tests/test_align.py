"""s2slide.align: ECC recovers known warps; bad input raises errors that say what to do."""

from __future__ import annotations

import numpy as np
import pytest
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr

from s2slide import align
from s2slide.errors import (ConvergenceError, CRSMismatchError, InvalidInputError,
                            NoValidDataError, ShapeMismatchError)


def _displaced(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Content of ``img`` moved by (dx, dy) px: the convention of simulate.scene."""
    import cv2

    m = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    return cv2.warpAffine(img, m, img.shape[::-1], flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("motion", ["translation", "euclidean", "affine"])
def test_ecc_recovers_a_subpixel_shift(textured, motion):
    moving = _displaced(textured, 0.6, -0.4)
    aligned, warp = align.ecc(textured, moving, motion=motion)
    assert warp.shape == (2, 3) and aligned.shape == textured.shape
    assert align.shift_error(warp, (0.6, -0.4), shape=textured.shape) < 0.05
    inner = (slice(8, -8), slice(8, -8))
    assert np.nanmax(np.abs(aligned[inner] - textured[inner])) < 0.05


def test_pyramid_recovers_several_pixels(textured):
    moving = _displaced(textured, 5.5, 4.0)
    _, warp = align.ecc(textured, moving, motion="translation", pyramid=3)
    assert np.allclose(warp[:, 2], (5.5, 4.0), atol=0.05)


def test_nan_nodata_is_left_out(textured):
    moving = _displaced(textured, 1.2, 0.7)
    ref = textured.copy()
    ref[:40] = np.nan  # 30 % nodata, as the Iburi pre image
    moving[:, :20] = np.nan
    aligned, warp = align.ecc(ref, moving, motion="translation")
    assert align.shift_error(warp, (1.2, 0.7), shape=ref.shape) < 0.1  # as without nodata
    assert np.isnan(aligned[:, :15]).all() and np.isfinite(aligned[60:-2, 30:-2]).all()


def test_warp_stack_and_displacement_known_answer(textured):
    warp = np.array([[1, 0, 2.0], [0, 1, -1.0]], np.float32)
    stack = np.stack([textured, 2 * textured])
    out = align.warp_stack(stack, warp, order="nearest")
    assert out.shape == stack.shape
    np.testing.assert_allclose(out[1, 10:-10, 10:-10], 2 * textured[9:-11, 12:-8])
    assert np.isnan(out[0, :, -2:]).all()  # brought in from outside: NaN
    disp = align.warp_displacement(warp, shape=(4, 5))
    assert np.allclose(disp[0], 2.0) and np.allclose(disp[1], -1.0)
    assert align.shift_error(warp, (2.0, -1.0), shape=(4, 5)) == pytest.approx(0.0)
    assert align.shift_error(warp, (2.0, 0.0), shape=(4, 5)) == pytest.approx(1.0)


def test_correlation_known_answer():
    a = np.arange(12, dtype=float).reshape(3, 4)
    assert align.correlation(a, 2 * a + 1) == pytest.approx(1.0)
    b = a.copy()
    b[0, 0] = np.nan
    assert align.correlation(a, -b) == pytest.approx(-1.0)


def test_bad_shapes_and_all_nan(textured):
    with pytest.raises(ShapeMismatchError, match="reproject_match"):
        align.ecc(textured, textured[:100])
    with pytest.raises(InvalidInputError, match="one 2-D band"):
        align.ecc(np.stack([textured] * 2), textured)
    with pytest.raises(NoValidDataError, match="all NaN"):
        align.ecc(textured, np.full_like(textured, np.nan))
    with pytest.raises(NoValidDataError, match="valid in both"):
        align.ecc(textured, textured, mask=np.zeros(textured.shape, bool))
    with pytest.raises(InvalidInputError, match="motion="):
        align.ecc(textured, textured, motion="homography")
    with pytest.raises(InvalidInputError, match="pyramid="):
        align.ecc(textured, textured, pyramid=0)


def test_ecc_that_fails_says_what_to_try(rng):
    ref = rng.normal(size=(64, 64)).astype(np.float32)
    unrelated = rng.normal(size=(64, 64)).astype(np.float32)
    with pytest.raises(ConvergenceError, match="pyramid|translation"):
        align.ecc(ref, unrelated, motion="affine", pyramid=1, blur=1)


def _grid(crs: str, shift: float = 0.0) -> xr.DataArray:
    da = xr.DataArray(np.zeros((4, 5)), dims=("y", "x"),
                      coords={"y": 100.0 - np.arange(4) * 10 - 5, "x": shift + np.arange(5) * 10 + 5})
    return da.rio.write_crs(crs)


def test_check_same_grid():
    align.check_same_grid(_grid("EPSG:32647"), _grid("EPSG:32647"))
    with pytest.raises(CRSMismatchError, match="reproject_match"):
        align.check_same_grid(_grid("EPSG:32647"), _grid("EPSG:4326"))
    with pytest.raises(ShapeMismatchError, match="reproject_match"):
        align.check_same_grid(_grid("EPSG:32647"), _grid("EPSG:32647", shift=20.0))


def test_align_scene_recovers_simulated_misregistration():
    from s2slide.data import simulate

    ds = simulate.scene("luding", misregistration=(1.5, -1.0))
    out, warp = align.align_scene(ds)
    assert align.shift_error(warp, (1.5, -1.0), shape=ds["valid"].shape) < 0.1
    assert out["post"].shape == ds["post"].shape
    assert not out["valid"].values[:, -1].any()  # brought in from outside the image


def test_opencv4_without_the_two_mask_function(textured, monkeypatch):
    """Colab ships OpenCV 4.x, which lacks findTransformECCWithMask: ecc must still work there."""
    import cv2

    monkeypatch.delattr(cv2, "findTransformECCWithMask", raising=False)
    moving = _displaced(textured, 0.6, -0.4)
    moving[:10] = np.nan
    _, warp = align.ecc(textured, moving, motion="translation")
    assert align.shift_error(warp, (0.6, -0.4), shape=textured.shape) < 0.05


@pytest.fixture
def iburi_red(mirror) -> np.ndarray:
    """A 300 x 400 px window of the real Iburi post-event red band (B04, no nodata there)."""
    from s2slide import data

    return data.load_iburi()["post"].sel(band="B04").values[600:900, 700:1100]


def test_a_first_guess_reaches_a_shift_that_ecc_misses_from_no_shift(iburi_red):
    """On real pixels, gradient ECC from no shift stops at a wrong warp for 48 x 32 px (chapter 2
    shows it); started from a guess a few pixels off (init=), it recovers the shift, with and
    without a pyramid (the guess is scaled to the coarsest level)."""
    shift = (48.0, 32.0)
    moving = align.warp_image(iburi_red, np.array([[1, 0, -48], [0, 1, -32]], np.float32))
    _, lost = align.ecc(iburi_red, moving, motion="translation", gradient=True, pyramid=1)
    assert align.shift_error(lost, shift, shape=iburi_red.shape) > 10  # no error raised, wrong
    guess = np.array([[1, 0, 45.0], [0, 1, 29.5]], np.float32)
    for levels in (1, 3):
        _, warp = align.ecc(iburi_red, moving, motion="translation", gradient=True,
                            pyramid=levels, init=guess)
        assert align.shift_error(warp, shift, shape=iburi_red.shape) < 0.05
    assert guess[0, 2] == 45.0  # the caller's guess is not written into


def test_a_first_guess_from_reflectance_then_the_gradient(iburi_red):
    """The chapter's recipe: ECC on the reflectance (wider reach) as init for the gradient."""
    shift = (36.0, 24.0)
    moving = align.warp_image(iburi_red, np.array([[1, 0, -36], [0, 1, -24]], np.float32))
    _, first = align.ecc(iburi_red, moving, motion="translation", pyramid=3)
    _, warp = align.ecc(iburi_red, moving, motion="translation", gradient=True, init=first)
    assert align.shift_error(warp, shift, shape=iburi_red.shape) < 0.05


@pytest.mark.parametrize("init", [np.eye(3), [[1, 0, np.nan], [0, 1, 0]], "no shift", None])
def test_a_bad_first_guess_is_refused(textured, init):
    if init is None:  # the default: no shift
        moving = _displaced(textured, 0.6, -0.4)
        _, warp = align.ecc(textured, moving, motion="translation")
        assert align.shift_error(warp, (0.6, -0.4), shape=textured.shape) < 0.05
        return
    with pytest.raises(InvalidInputError, match="init"):
        align.ecc(textured, textured, motion="translation", init=init)
