"""Square patches around every pixel of a feature stack, as the CAE of chapter 5 reads them.

Shahabi et al. (2021) cut a 7 x 7 x D patch centred on each pixel. Near the image edge a patch
reaches outside the image, so the stack is first *padded*: by default with ``"reflect"``
(NumPy's mirror that does not repeat the edge pixel: ``[a b c | b a]``), which keeps the
texture statistics of the border; ``"edge"`` repeats the edge pixel and ``"constant"`` pads
with 0 (the band mean after :func:`standardize`). The paper does not say which it used.

Memory: a 7 x 7 patch per pixel holds 49 copies of the stack. :func:`patch_view` therefore
returns a *view* (``numpy.lib.stride_tricks.sliding_window_view``, no copy) and
:func:`extract` copies only the patches asked for; the training pipeline
(:func:`s2slide.models.cae.patch_dataset`) gathers one batch at a time from the padded stack.

Chapter 5 introduces these.
"""

from __future__ import annotations

import numpy as np

from s2slide import checks
from s2slide.errors import InvalidInputError, NoValidDataError, ShapeMismatchError

PAD_MODES = ("reflect", "edge", "constant")


def _check_size(size: int) -> int:
    if int(size) != size or size < 1 or size % 2 == 0:
        raise InvalidInputError(f"size={size}: a patch needs an odd size >= 1 (e.g. 7) so that "
                                "it has a centre pixel.")
    return int(size)


def _check_stack(stack, *, size: int) -> np.ndarray:
    checks.channels_first("stack", stack, first="feature")
    cube = checks.array("stack", stack)
    if cube.ndim != 3:
        raise InvalidInputError(f"expected a stack with dims (feature, y, x), got shape "
                                f"{cube.shape}; stack 2-D layers with numpy.stack(..., axis=0).")
    if np.isnan(cube).any():
        raise InvalidInputError(f"the stack holds {int(np.isnan(cube).sum())} NaN values: pass it "
                                "through patches.standardize(stack, valid=...) first, which fills "
                                "invalid pixels with the band mean.")
    if min(cube.shape[1:]) < size:
        raise NoValidDataError(f"image {cube.shape[1:]} is smaller than one {size} x {size} patch: "
                               "use a larger window.")
    return cube


def standardize(stack, *, valid=None, mean=None,
                std=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-score each layer on the valid pixels and set invalid or NaN pixels to 0 (the mean).

    Given ``mean`` and ``std`` (e.g. those returned for another date), they are applied
    instead of computed, so that two images share one scaling.

    Parameters
    ----------
    stack : array-like, dims (feature, y, x)
        Any float layers (MNF components, slope in degrees, NDVI ...).
    valid : bool array (y, x), optional
        Pixels to use for the statistics (NaN pixels are left out in any case).
    mean, std : array-like (feature,), optional
        Statistics to apply instead of computing them; give both or neither.

    Returns
    -------
    (ndarray float32 (feature, y, x), mean (feature,), std (feature,))
        Layers with mean 0 and standard deviation 1 over the valid pixels.

    Raises
    ------
    NoValidDataError
        Fewer than two usable pixels, or a layer that is constant on them.
    """
    checks.channels_first("stack", stack, first="feature")
    cube = np.asarray(checks.array("stack", stack), dtype=np.float64)
    if cube.ndim != 3:
        raise InvalidInputError(f"expected dims (feature, y, x), got shape {cube.shape}.")
    ok = np.isfinite(cube).all(axis=0)
    if valid is not None:
        ok &= checks.mask("valid", valid, shape=ok.shape)
    if (mean is None) != (std is None):
        raise InvalidInputError("give both mean and std (to apply them) or neither (to compute "
                                "them from the valid pixels).")
    if mean is not None:
        mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
        if mean.shape != (cube.shape[0],) or std.shape != (cube.shape[0],):
            raise ShapeMismatchError(f"mean {mean.shape} and std {std.shape} must hold one value "
                                     f"per layer, ({cube.shape[0]},).")
    elif ok.sum() < 2:
        raise NoValidDataError("fewer than 2 valid pixels to standardize: check the valid mask.")
    else:
        mean, std = cube[:, ok].mean(axis=1), cube[:, ok].std(axis=1)
    if (std == 0).any():
        raise NoValidDataError(f"layer(s) {np.flatnonzero(std == 0).tolist()} are constant on the "
                               "valid pixels: drop them from the stack.")
    out = (cube - mean[:, None, None]) / std[:, None, None]
    out[:, ~ok] = 0.0
    return out.astype(np.float32), mean, std


def pad(stack, *, size: int = 7, mode: str = "reflect") -> np.ndarray:
    """Pad a stack (feature, y, x) by ``size // 2`` pixels and put features last.

    Returns
    -------
    ndarray float32, dims (y + size - 1, x + size - 1, feature)
        Channels-last, as Keras expects.
    """
    size = _check_size(size)
    if mode not in PAD_MODES:
        raise InvalidInputError(f"mode={mode!r}: use one of {', '.join(PAD_MODES)}.")
    cube = _check_stack(stack, size=size)
    h = size // 2
    return np.pad(np.moveaxis(cube, 0, -1), ((h, h), (h, h), (0, 0)), mode=mode).astype(np.float32)


def patch_view(stack, *, size: int = 7, mode: str = "reflect",
               padded: bool = False) -> np.ndarray:
    """Every patch as a read-only *view* (no copy), dims (y, x, size, size, feature).

    ``view[r, c]`` is the patch centred on pixel (r, c). With ``padded=True``, ``stack`` is
    already the output of :func:`pad` (same ``size``; ``mode`` is then unused): it is not
    padded again and the view shares its memory.
    """
    if padded:
        size = _check_size(size)
        cube = np.asarray(stack)
        if cube.ndim != 3 or min(cube.shape[:2]) < size:
            raise InvalidInputError(f"padded=True expects the (y + {size - 1}, x + {size - 1}, "
                                    f"feature) output of patches.pad(stack, size={size}), got "
                                    f"shape {cube.shape}.")
    else:
        cube = pad(stack, size=size, mode=mode)
    view = np.lib.stride_tricks.sliding_window_view(cube, (size, size), axis=(0, 1))
    return np.moveaxis(view, 2, -1)  # (y, x, feature, s, s) -> (y, x, s, s, feature)


def centres(valid, *, min_pixels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices (int64) of the valid pixels, the patch centres.

    Raises
    ------
    NoValidDataError
        Fewer than ``min_pixels`` valid pixels.
    """
    mask = checks.mask("valid", valid)
    if mask.ndim != 2:
        raise InvalidInputError(f"valid must be a 2-D (y, x) mask, got shape {mask.shape}.")
    rows, cols = np.nonzero(mask)
    if rows.size < max(int(min_pixels), 1):
        raise NoValidDataError(f"{rows.size} valid pixels, {min_pixels} needed for patches: use a "
                               "larger or less cloudy window, or lower min_pixels.")
    return rows.astype(np.int64), cols.astype(np.int64)


def extract(stack, *, valid=None, size: int = 7, mode: str = "reflect",
            min_pixels: int = 1) -> np.ndarray:
    """Copy the patches centred on the valid pixels (row-major order).

    Parameters
    ----------
    stack : array-like, dims (feature, y, x)
        No NaN (see :func:`standardize`).
    valid : bool array (y, x), optional
        Patch centres; default every pixel. Pixels outside it may still appear inside patches.

    Returns
    -------
    ndarray float32, dims (n, size, size, feature)
    """
    view = patch_view(stack, size=size, mode=mode)
    mask = np.ones(view.shape[:2], bool) if valid is None else checks.mask("valid", valid)
    if mask.shape != view.shape[:2]:
        raise ShapeMismatchError(f"valid {mask.shape} and stack {view.shape[:2]} (y, x) differ.")
    rows, cols = centres(mask, min_pixels=min_pixels)
    return np.ascontiguousarray(view[rows, cols])


def sample_centres(valid, *, n: int | None, seed: int = 0,
                   min_pixels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``n`` patch centres drawn at random (without replacement) from the valid pixels.

    Returned in row-major order (sorted), like :func:`centres`; ``n=None`` or ``n`` >= the number
    of valid pixels returns all of them. The same ``seed`` gives the same centres.

    Returns
    -------
    (rows, cols) : int64 arrays (n,)
    """
    rows, cols = centres(valid, min_pixels=min_pixels)
    if n is None:
        return rows, cols
    n = checks.integer("n", n, minimum=1, hint=": draw at least one patch centre (or None for all)")
    if n >= rows.size:
        return rows, cols
    pick = np.sort(np.random.default_rng(seed).choice(rows.size, size=int(n), replace=False))
    return rows[pick], cols[pick]


def local_mean(stack, *, size: int = 7, mode: str = "reflect") -> np.ndarray:
    """Mean of each layer over the ``size`` x ``size`` patch around every pixel.

    The patch of :func:`patch_view` (same padding), averaged: the smoothed stack that a CAE whose
    decoder outputs constant patches is trained to reproduce (chapter 5). Computed with SciPy's
    ``uniform_filter`` (NumPy's ``"reflect"`` is SciPy's ``"mirror"``), without copying patches.

    Returns
    -------
    ndarray float32, dims (feature, y, x)
        Same units as ``stack``.
    """
    from scipy import ndimage

    size = _check_size(size)
    if mode not in PAD_MODES:
        raise InvalidInputError(f"mode={mode!r}: use one of {', '.join(PAD_MODES)}.")
    cube = _check_stack(stack, size=size).astype(np.float64)
    scipy_mode = {"reflect": "mirror", "edge": "nearest", "constant": "constant"}[mode]
    return np.stack([ndimage.uniform_filter(layer, size=size, mode=scipy_mode, cval=0.0)
                     for layer in cube]).astype(np.float32)
