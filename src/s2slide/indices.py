"""Spectral indices: one general normalised difference and thin named wrappers.

Formulas (FACTS.md): NDVI = (NIR - Red) / (NIR + Red) (Rouse et al. 1974);
BSI = ((SWIR1 + Red) - (NIR + Blue)) / ((SWIR1 + Red) + (NIR + Blue)) (Rikimaru et al. 2002).
Seed 000 uses B8A as NIR and B11 as SWIR, both at 20 m.

Inputs are reflectance 0-1 (float, NumPy arrays or xarray DataArrays of one shape); the result
has the same type and shape, float32 for NumPy input. Integers and arrays in units of ``"DN"``
are digital numbers and are refused (:func:`s2slide.checks.reflectance` says how to convert them). A pixel where the denominator is 0 or an
input is NaN is NaN, never an infinity.

Chapter 3 introduces these.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from s2slide import checks
from s2slide.errors import InvalidInputError, ShapeMismatchError

#: Seed 000's threshold on dNDVI = NDVI(post) - NDVI(pre): below it a pixel is a new scar.
SEED000_THRESHOLD = -0.2
#: This course's default threshold on rdNDVI (:func:`rdndvi`) and the slope below which a pixel
#: is not called a landslide (degrees). Chosen here (chapter 9 measures them), not HazMapper's:
#: HazMapper leaves both to its user.
RDNDVI_THRESHOLD = -20.0
MIN_SLOPE_DEG = 10.0


def _check(*arrays: Any, names: tuple[str, ...]) -> None:
    shapes = [np.shape(a) for a in arrays]
    if len(set(shapes)) != 1:
        detail = ", ".join(f"{n}{s}" for n, s in zip(names, shapes))
        raise ShapeMismatchError(f"index inputs differ in shape: {detail}; crop or resample them onto "
                                 "one grid first (data.load_scene returns aligned bands).")


def normalized_difference(a: Any, b: Any) -> Any:
    """``(a - b) / (a + b)``, NaN where ``a + b == 0`` or an input is NaN.

    Parameters
    ----------
    a, b : array-like of one shape
        Reflectance 0-1 (float). NumPy arrays give a float32 array; DataArrays a DataArray.
    """
    checks.reflectance("a", a, check_range=False)
    checks.reflectance("b", b, check_range=False)
    _check(a, b, names=("a", "b"))
    if not isinstance(a, xr.DataArray):
        a = np.asarray(a, dtype=np.float32)
    if not isinstance(b, xr.DataArray):
        b = np.asarray(b, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = a + b
        out = (a - b) / total
    if isinstance(out, xr.DataArray):
        return out.where(total != 0)
    return np.where(total != 0, out, np.nan).astype(np.float32)


def ndvi(*, nir: Any, red: Any) -> Any:
    """Normalised Difference Vegetation Index, ``(NIR - Red) / (NIR + Red)``; -1 to 1.

    Dense vegetation is about 0.6-0.9, bare soil and rock about 0-0.2, water below 0.
    Inputs must be float reflectance (about -0.1 to 1.5): digital numbers are refused.
    """
    checks.reflectance("nir", nir)
    checks.reflectance("red", red)
    return normalized_difference(nir, red)


def bsi(*, swir: Any, red: Any, nir: Any, blue: Any) -> Any:
    """Bare Soil Index, ``((SWIR + Red) - (NIR + Blue)) / ((SWIR + Red) + (NIR + Blue))``; -1 to 1.

    High on bare soil and fresh landslide scars, low on vegetation.
    Inputs must be float reflectance (about -0.1 to 1.5): digital numbers are refused.
    """
    for name, value in (("swir", swir), ("red", red), ("nir", nir), ("blue", blue)):
        checks.reflectance(name, value)
    _check(swir, red, nir, blue, names=("swir", "red", "nir", "blue"))
    return normalized_difference(swir + red, nir + blue)


def dndvi_mask(pre_ndvi: Any, post_ndvi: Any, *, threshold: float = SEED000_THRESHOLD) -> np.ndarray:
    """Seed 000's reference mask: ``NDVI(post) - NDVI(pre) < threshold``.

    Returns a bool array (NaN pixels are False). ``threshold`` must lie in (-2, 0): a loss of
    vegetation is a negative change.
    """
    if not -2.0 < checks.number("threshold", threshold) < 0.0:
        raise InvalidInputError(f"threshold={threshold}: a vegetation loss is a negative dNDVI; "
                                "use a value between -2 and 0, e.g. -0.2 as seed 000.")
    _check(pre_ndvi, post_ndvi, names=("pre_ndvi", "post_ndvi"))
    change = np.asarray(post_ndvi, dtype=np.float32) - np.asarray(pre_ndvi, dtype=np.float32)
    with np.errstate(invalid="ignore"):
        return np.asarray(change < threshold)


def rdndvi(pre_ndvi: Any, post_ndvi: Any) -> np.ndarray:
    """Relative difference of NDVI, the change metric HazMapper names (Scheip and Wegmann 2021).

    ``rdNDVI = 100 (NDVI_post - NDVI_pre) / sqrt(NDVI_pre + NDVI_post)``: the change of NDVI
    scaled by the square root of the vegetation present, so that the same loss counts more on
    sparse cover than on dense. Unitless, negative for vegetation lost; float32; NaN where
    ``NDVI_pre + NDVI_post <= 0`` (water, snow, bare ground on both dates: no vegetation to
    lose) or an input is NaN.

    This equation is the course's; it could not be checked against the paper's text (only its
    abstract, which names rdNDVI in words). It resembles the relative dNBR of burn mapping
    (Miller and Thode 2007), which divides by the square root of the pre-fire value alone.

    Examples
    --------
    >>> float(rdndvi(np.array([0.8]), np.array([0.2]))[0])   # 100 * -0.6 / sqrt(1.0)
    -60.0
    """
    _check(pre_ndvi, post_ndvi, names=("pre_ndvi", "post_ndvi"))
    pre = np.asarray(pre_ndvi, dtype=np.float32)
    post = np.asarray(post_ndvi, dtype=np.float32)
    total = pre + post
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.float32(100.0) * (post - pre) / np.sqrt(total)
    return np.where(total > 0, out, np.nan).astype(np.float32)


def rdndvi_mask(pre_ndvi: Any, post_ndvi: Any, slope: Any, *, threshold: float = RDNDVI_THRESHOLD,
                min_slope_deg: float = MIN_SLOPE_DEG) -> np.ndarray:
    """A landslide mask from rdNDVI: ``rdNDVI < threshold`` on slopes of at least ``min_slope_deg``.

    The slope mask removes what rdNDVI alone cannot tell from a landslide on flat ground:
    harvested fields, river-bed change, building sites. Bool array (NaN pixels are False).
    The threshold is the course's addition: HazMapper itself "is not a semi-automated routine"
    (Scheip and Wegmann 2021, abstract) and leaves the reading of its rdNDVI map to its user.

    Parameters
    ----------
    pre_ndvi, post_ndvi : array-like, (y, x)
        NDVI before and after (e.g. of composites).
    slope : array-like, (y, x)
        Terrain slope in degrees.
    threshold : float
        rdNDVI below which a pixel lost vegetation; negative (default :data:`RDNDVI_THRESHOLD`).
    min_slope_deg : float
        Smallest slope (degrees, 0-90) a landslide may sit on; 0 disables the mask.
    """
    if not checks.number("threshold", threshold) < 0.0:
        raise InvalidInputError(f"threshold={threshold}: a vegetation loss is a negative rdNDVI; "
                                "use e.g. -20")
    if not 0.0 <= checks.number("min_slope_deg", min_slope_deg) < 90.0:
        raise InvalidInputError(f"min_slope_deg={min_slope_deg}: give degrees 0-90 (0: no mask)")
    _check(pre_ndvi, slope, names=("pre_ndvi", "slope"))
    change = rdndvi(pre_ndvi, post_ndvi)
    steep = np.asarray(slope, dtype=np.float32) >= np.float32(min_slope_deg)
    with np.errstate(invalid="ignore"):
        return np.asarray((change < threshold) & steep)
