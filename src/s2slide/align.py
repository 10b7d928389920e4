"""Co-registration of a post-event image onto a pre-event image with ECC (chapter 2).

ECC (Enhanced Correlation Coefficient, Evangelidis & Psarakis 2008) finds the warp ``W`` that
maximises the correlation between the reference and the moving image sampled at ``W(x)``.
We use OpenCV's implementation (``cv2.findTransformECCWithMask``, which ignores nodata in
both images) and add what satellite pairs need: NaN handled as nodata, a coarse-to-fine
pyramid for shifts of several pixels, and errors that say what to try when ECC fails.

Warp convention (OpenCV's): ``warp`` is a float32 (2, 3) matrix mapping a pixel ``(x, y)`` of
the reference (column, row; pixel units) to the position in the moving image that shows the
same ground. A moving image whose content is displaced by ``(dx, dy)`` pixels (east, south;
``simulate.scene(misregistration=(dx, dy))``) has ``warp = [[1, 0, dx], [0, 1, dy]]``.

Chapter 2 introduces these.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from s2slide import checks
from s2slide.errors import (ConvergenceError, CRSMismatchError, InvalidInputError,
                            NoValidDataError, ShapeMismatchError)

#: Motion models accepted by :func:`ecc` and their number of parameters.
MOTIONS = {"translation": 2, "euclidean": 3, "affine": 6}
#: Fewest valid pixels (on the finest level) with which :func:`ecc` will try.
MIN_VALID_PIXELS = 400
#: Smallest side (px) of the coarsest pyramid level: below it ECC fails (NaN) or diverges.
MIN_LEVEL_PX = 16


def _as_image(name: str, a: Any) -> np.ndarray:
    """A 2-D float32 copy of ``a`` (NaN = nodata); errors for other shapes or all-NaN."""
    arr = np.asarray(checks.array(name, a), dtype=np.float32)
    if arr.ndim != 2:
        raise InvalidInputError(f"{name} has shape {arr.shape}; ecc needs one 2-D band (y, x): "
                                f"pick a band, e.g. ds['pre'].sel(band='B04').values.")
    if not np.isfinite(arr).any():
        raise NoValidDataError(f"{name} is all NaN (nodata); choose another band or scene.")
    return arr


def _masks(ref: np.ndarray, mov: np.ndarray, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """uint8 validity masks (1 = use) of the reference and the moving image."""
    ref_ok, mov_ok = np.isfinite(ref), np.isfinite(mov)
    if mask is not None:
        ref_ok &= checks.mask("mask", mask, shape=ref.shape)
    n = int((ref_ok & mov_ok).sum())
    if n < MIN_VALID_PIXELS:
        raise NoValidDataError(f"only {n} pixels are valid in both images (ecc needs "
                               f"{MIN_VALID_PIXELS}); use a larger window or fewer masked pixels.")
    for name, img, ok in (("reference", ref, ref_ok), ("moving", mov, mov_ok)):
        values = img[ok]
        if values.min() == values.max():
            raise InvalidInputError(f"{name} is constant ({values[0]:g} on every valid pixel): ECC "
                                    "needs texture to match; choose another band (e.g. band='B04').")
    return ref_ok.astype(np.uint8), mov_ok.astype(np.uint8)


def _filled(img: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``img`` with nodata set to the mean of its valid pixels (ECC cannot read NaN)."""
    return np.where(ok > 0, img, np.float32(img[ok > 0].mean())).astype(np.float32)


def _gradient(img: np.ndarray) -> np.ndarray:
    """Gradient magnitude (Sobel, OpenCV): edges match where brightness changed between dates."""
    import cv2

    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy)


def _pyramid(img: np.ndarray, ok: np.ndarray, levels: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Coarse-to-fine list of (image, mask), each level half the size of the next."""
    import cv2

    out = [(img, ok)]
    for _ in range(levels - 1):
        img = cv2.pyrDown(img)
        ok = cv2.resize(ok, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST)
        out.append((img, ok))
    return out[::-1]


def _check_options(motion: str, pyramid: int, iterations: int, blur: int = 5) -> None:
    if isinstance(blur, bool) or not isinstance(blur, (int, np.integer)) or blur < 1 or blur % 2 == 0:
        raise InvalidInputError(f"blur={blur!r}: the Gaussian blur's size must be an odd number of "
                                "pixels, e.g. 5 (1: no blur).")
    if motion not in MOTIONS:
        raise InvalidInputError(f"motion={motion!r}; use one of {', '.join(MOTIONS)}.")
    if not isinstance(pyramid, (int, np.integer)) or not 1 <= pyramid <= 6:
        raise InvalidInputError(f"pyramid={pyramid!r}: use 1 (no pyramid) to 6 levels; each level "
                                "halves the image and doubles the shift ECC can recover.")
    if not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise InvalidInputError(f"iterations={iterations!r}: use a positive integer, e.g. 200.")


def _check_pyramid(pyramid: int, shape: tuple[int, int]) -> None:
    """Refuse a pyramid whose coarsest level is smaller than :data:`MIN_LEVEL_PX`."""
    coarse = min(shape) // 2 ** (pyramid - 1)
    if pyramid > 1 and coarse < MIN_LEVEL_PX:
        most = max(1, int(np.log2(min(shape) / MIN_LEVEL_PX)) + 1)
        raise InvalidInputError(f"pyramid={pyramid} halves this {shape[0]} x {shape[1]} px image "
                                f"to {coarse} px at its coarsest level, too small for ECC (at "
                                f"least {MIN_LEVEL_PX} px): use pyramid={most} or fewer, or a "
                                "larger window.")


def ecc(reference: Any, moving: Any, *, motion: str = "affine", pyramid: int = 3,
        mask: Any = None, gradient: bool = False, iterations: int = 200, eps: float = 1e-6,
        blur: int = 5, init: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Align ``moving`` onto ``reference`` with OpenCV's ECC; return ``(aligned, warp)``.

    Parameters
    ----------
    reference, moving : array-like, (y, x)
        One band of each date (e.g. reflectance 0-1), same shape; NaN = nodata, left out.
    motion : {"translation", "euclidean", "affine"}
        Motion model: 2, 3 or 6 parameters.
    pyramid : int
        Levels of the coarse-to-fine pyramid (1 = none). ECC converges only from near the
        answer; how near depends on the image (a few px on fine edges, tens of px on broad
        brightness patterns; chapter 2 measures it). Each level doubles that reach, as long as
        the shrunk images still look alike.
    mask : array-like of bool, (y, x), optional
        Reference pixels to use (e.g. ``valid``, or stable ground only).
    gradient : bool
        Align gradient magnitudes instead of brightness (helps when the dates' radiometry differs).
    iterations, eps : int, float
        ECC stopping rule per level (most iterations, smallest change of the correlation).
    blur : int
        Size (odd, px) of the Gaussian blur ECC applies first.
    init : array-like, float, (2, 3), optional
        Warp to start from, in the convention of the returned one (e.g. a first guess from
        ``ecc(..., gradient=False)`` or from the products' geolocation); default: no shift.
        Its translation is scaled to the coarsest pyramid level.

    Returns
    -------
    aligned : ndarray, float32, the reference's shape
        ``moving`` warped onto the reference grid (bilinear), NaN where it has no data.
    warp : ndarray, float32, (2, 3)
        Reference pixel (x, y) -> moving pixel (module docstring: the convention).

    Raises
    ------
    ShapeMismatchError, InvalidInputError, NoValidDataError
        Different shapes, not 2-D, all NaN, too few valid pixels, unknown options.
    ConvergenceError
        ECC did not converge; the message says what to try.
    """
    import cv2

    ref, mov = _as_image("reference", reference), _as_image("moving", moving)
    if ref.shape != mov.shape:
        raise ShapeMismatchError(f"reference {ref.shape} and moving {mov.shape} differ; resample "
                                 "both onto one grid first (rioxarray's reproject_match).")
    _check_options(motion, pyramid, iterations, blur)
    _check_pyramid(pyramid, ref.shape)
    ref_ok, mov_ok = _masks(ref, mov, mask)
    ref_f, mov_f = _filled(ref, ref_ok), _filled(mov, mov_ok)
    if gradient:
        ref_f, mov_f = _gradient(ref_f), _gradient(mov_f)
    mode = {"translation": cv2.MOTION_TRANSLATION, "euclidean": cv2.MOTION_EUCLIDEAN,
            "affine": cv2.MOTION_AFFINE}[motion]
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, eps)
    warp = _initial_warp(init, pyramid)
    levels = zip(_pyramid(ref_f, ref_ok, pyramid), _pyramid(mov_f, mov_ok, pyramid))
    for level, ((r, r_ok), (m, m_ok)) in enumerate(levels):
        if level:
            warp[:, 2] *= 2  # translation in pixels doubles on the next, finer level
        try:
            _, warp = _find_ecc(r, m, r_ok, m_ok, warp, mode, criteria, blur)
        except cv2.error as err:
            raise ConvergenceError(
                f"ECC did not converge ({motion}, pyramid={pyramid}, level {level}): "
                f"{str(err).strip().splitlines()[-1]}. Try motion='translation', more pyramid "
                "levels (pyramid=4), gradient=True, a mask of stable ground, or a first guess "
                "(init=, e.g. the warp of ecc(..., gradient=False)).") from err
    _check_warp(warp, ref.shape)
    return warp_image(moving, warp, shape=ref.shape), warp


def _initial_warp(init: Any, pyramid: int) -> np.ndarray:
    """The starting warp on the coarsest level: ``init`` (or no shift), translation scaled down."""
    if init is None:
        return np.eye(2, 3, dtype=np.float32)
    warp = np.array(checks.array("init", init), dtype=np.float32)  # a copy: OpenCV writes into it
    if warp.shape != (2, 3) or not np.isfinite(warp).all():
        raise InvalidInputError(f"init has shape {warp.shape} or holds NaN; give a finite (2, 3) "
                                "warp as ecc returns, e.g. np.array([[1, 0, dx], [0, 1, dy]]).")
    warp[:, 2] /= 2 ** (pyramid - 1)  # pixels of the coarsest level
    return warp


def _find_ecc(r: np.ndarray, m: np.ndarray, r_ok: np.ndarray, m_ok: np.ndarray, warp: np.ndarray,
              mode: int, criteria: tuple, blur: int) -> tuple[float, np.ndarray]:
    """One ECC run with nodata masks, on any OpenCV from 4.x on.

    ``findTransformECCWithMask`` (OpenCV 5) takes a mask for each image. OpenCV 4.x (what Colab
    ships) has only ``findTransformECC``, whose mask applies to the moving image: there we pass
    the pixels valid in both, which is the same mask as long as the shift is small.
    """
    import cv2  # lazily, as everywhere in this module: importing s2slide stays light

    if hasattr(cv2, "findTransformECCWithMask"):
        return cv2.findTransformECCWithMask(r, m, r_ok, m_ok, warp, mode, criteria, blur)
    both = ((r_ok > 0) & (m_ok > 0)).astype(np.uint8)
    return cv2.findTransformECC(r, m, warp, mode, criteria, both, blur)


def _check_warp(warp: np.ndarray, shape: tuple[int, int]) -> None:
    """Refuse a warp that moves the image by more than a quarter of its size (ECC diverged)."""
    shift = warp_displacement(warp, shape=shape)
    if not np.isfinite(warp).all() or np.abs(shift).max() > max(shape) / 4:
        raise ConvergenceError(f"ECC diverged to a shift of {np.abs(shift).max():.1f} px; try "
                               "motion='translation', pyramid=4, or gradient=True.")


def warp_displacement(warp: Any, *, shape: tuple[int, int]) -> np.ndarray:
    """Displacement (dx, dy) in pixels that ``warp`` gives each pixel centre, dims (2, y, x)."""
    w = np.asarray(warp, dtype=np.float64)
    if w.shape != (2, 3):
        raise InvalidInputError(f"warp has shape {w.shape}; use the (2, 3) matrix ecc returns.")
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    return np.stack([w[0, 0] * x + w[0, 1] * y + w[0, 2] - x,
                     w[1, 0] * x + w[1, 1] * y + w[1, 2] - y])


def warp_image(moving: Any, warp: Any, *, shape: tuple[int, int] | None = None,
               order: str = "linear") -> np.ndarray:
    """Resample one band (y, x) through ``warp`` onto the reference grid; NaN outside.

    ``order`` is ``"nearest"`` (for masks and labels), ``"linear"`` or ``"cubic"``.
    Returns float32 of ``shape`` (default: the input's shape).
    """
    import cv2

    flags = {"nearest": cv2.INTER_NEAREST, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}
    if order not in flags:
        raise InvalidInputError(f"order={order!r}; use 'nearest', 'linear' or 'cubic'.")
    img = np.asarray(checks.array("moving", moving), dtype=np.float32)
    w = np.asarray(checks.array("warp", warp), dtype=np.float32)
    if img.ndim != 2 or w.shape != (2, 3):
        raise InvalidInputError(f"warp_image needs a 2-D band and a (2, 3) warp, not {img.shape} "
                                f"and {w.shape}; use warp_stack for (band, y, x).")
    ny, nx = img.shape if shape is None else checks.shape2d("shape", tuple(shape))
    return cv2.warpAffine(img, w, (nx, ny), flags=flags[order] | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))


def warp_stack(stack: Any, warp: Any, *, shape: tuple[int, int] | None = None,
               order: str = "linear") -> np.ndarray:
    """Apply one warp to every band of a (band, y, x) stack; float32 (band, y, x), NaN outside."""
    checks.channels_first("stack", stack)
    arr = np.asarray(checks.array("stack", stack), dtype=np.float32)
    if arr.ndim != 3:
        raise InvalidInputError(f"stack has shape {arr.shape}; use (band, y, x), e.g. ds['post'].values.")
    return np.stack([warp_image(b, warp, shape=shape, order=order) for b in arr])


def shift_error(warp: Any, shift: tuple[float, float], *, shape: tuple[int, int]) -> float:
    """Root-mean-square error (px) of a recovered warp against a known shift (dx, dy).

    The distance between where ``warp`` and the true translation send each pixel centre,
    averaged (RMS) over the grid, so that an affine warp's rotation or scale error counts
    where it is largest, at the edges.
    """
    disp = warp_displacement(warp, shape=shape)
    dx, dy = (float(s) for s in shift)
    return float(np.sqrt(np.mean((disp[0] - dx) ** 2 + (disp[1] - dy) ** 2)))


def correlation(a: Any, b: Any, *, valid: Any = None) -> float:
    """Pearson correlation of two bands over pixels finite in both (and ``valid``)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ShapeMismatchError(f"bands {a.shape} and {b.shape} differ; align them first.")
    keep = np.isfinite(a) & np.isfinite(b)
    if valid is not None:
        keep &= np.asarray(valid, bool)
    if keep.sum() < 2:
        raise NoValidDataError("fewer than 2 pixels are valid in both bands; check the masks.")
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


def check_same_grid(a: Any, b: Any) -> None:
    """Raise if two georeferenced rasters (xarray with ``.rio``) differ in CRS, transform or shape."""
    for name, value in (("a", a), ("b", b)):
        checks.xarray_object(name, value, kinds=("DataArray", "Dataset"), example="ds['pre']")
    if a.rio.crs != b.rio.crs:
        raise CRSMismatchError(f"CRS differ ({a.rio.crs} vs {b.rio.crs}); reproject one onto the "
                               "other first: b.rio.reproject_match(a).")
    if a.rio.shape != b.rio.shape or not np.allclose(a.rio.transform()[:6], b.rio.transform()[:6]):
        raise ShapeMismatchError(f"grids differ (shape {a.rio.shape} vs {b.rio.shape} or transform); "
                                 "resample one onto the other: b.rio.reproject_match(a).")


def align_scene(ds: Any, *, band: str = "B11", motion: str = "translation", gradient: bool = True,
                **options: Any):
    """Align a scene's ``post`` onto its ``pre`` (ECC on one band); return ``(aligned_ds, warp)``.

    Chapter 2 measures the choices on the simulated Luding pair: the gradient magnitude and a
    translation suit a pair that is only shifted, while the band that recovers the known shift
    best varies (there the visible bands did better than B11). B11 (SWIR 1) stays the default
    because on real pairs haze and thin cloud disturb the visible bands far more; pass ``band=``
    to use another band.
    The returned Dataset is a copy whose ``post`` (every band) is warped, and whose ``valid``
    also excludes pixels the warp brought in from outside the image. ``options`` go to
    :func:`ecc` (e.g. ``pyramid``, ``gradient``).
    """
    checks.xarray_object("ds", ds, kinds=("Dataset",), example="data.load_scene('luding')")
    for when in ("pre", "post"):
        checks.bands(f"ds[{when!r}]", ds[when], [band],
                     hint="; pass band= one of these (ECC aligns on one band), e.g. band='B04'")
    valid = ds["valid"].values if "valid" in ds else None
    _, warp = ecc(ds["pre"].sel(band=band).values, ds["post"].sel(band=band).values,
                  motion=motion, mask=valid, gradient=gradient, **options)
    out = ds.copy()
    out["post"] = (ds["post"].dims, warp_stack(ds["post"].values, warp), ds["post"].attrs)
    inside = np.isfinite(out["post"].values).all(0)
    out["valid"] = (("y", "x"), inside if valid is None else inside & valid)
    out.attrs["alignment_warp"] = np.asarray(warp).round(6).tolist()
    return out, warp
