"""Argument checks shared by the whole package: each rule is written once, here, and called at
the top of the functions that need it.

The rules:

- **Types before conversion.** Numbers and integers are checked for their type before anything
  converts them: ``k=2.0``, ``seed="abc"`` or ``threshold="-0.2"`` are refused, never coerced.
- **Arrays are numeric and rectangular**: no ``None``, no ragged lists, no strings.
- **Reflectance** is float, about -0.1 to 1.5 (surface reflectance 0-1 plus the noise and bright
  targets of real scenes). Integers and arrays whose ``units`` are ``"DN"`` are digital numbers:
  they are refused with the conversion to call.
- **Dims are checked by name where an array carries names** (xarray) **and by the documented
  order where it does not**: a NumPy array whose last axis is short and whose first two are long
  is taken for (y, x, band) where (band, y, x) is documented, and the other way round.
- **Masks hold 0/1 or True/False**: a probability map is refused where a mask is expected.

Every failure is an :class:`~s2slide.errors.InvalidInputError` (or one of its subclasses,
:class:`~s2slide.errors.MissingBandError`) whose message says what to pass instead.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from s2slide.errors import InvalidInputError, MissingBandError, ShapeMismatchError

#: Reflectance is expected in about this range (surface reflectance 0-1, noise, bright targets).
REFLECTANCE_RANGE: tuple[float, float] = (-0.1, 1.5)
#: Share of finite values that may lie outside :data:`REFLECTANCE_RANGE` (saturated pixels).
REFLECTANCE_OUTLIERS = 0.005
#: More bands or channels than this on the short axis of an image is not an image of this course.
MAX_CHANNELS = 32
_DN_HINT = ("convert digital numbers with s2slide.data.harmonize.dn_to_reflectance(dn, "
            "offset=harmonize.boa_add_offset(baseline=...)), or load the scene with "
            "data.load_scene, which returns reflectance")


def _bounds(name: str, value: float, minimum: float | None, maximum: float | None,
            hint: str) -> None:
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        span = {(True, True): f"from {minimum} to {maximum}", (True, False): f"of at least {minimum}",
                (False, True): f"of at most {maximum}"}[(minimum is not None, maximum is not None)]
        raise InvalidInputError(f"{name}={value!r}: give a value {span}{hint}.")


def integer(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None,
            hint: str = "") -> int:
    """``value`` as an int; refuses bools, floats (``2.0`` too), strings and ``None``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        whole = isinstance(value, (float, np.floating)) and float(value).is_integer()
        also = f" (write {int(value)}, not {value!r})" if whole else ""
        raise InvalidInputError(f"{name}={value!r}: give an integer{also}{hint}.")
    _bounds(name, int(value), minimum, maximum, hint)
    return int(value)


def number(name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
           positive: bool = False, hint: str = "") -> float:
    """``value`` as a finite float; refuses strings, bools, ``None``, NaN and infinities, and,
    with ``positive``, zero and negative values (a time, a weight, a rate)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise InvalidInputError(f"{name}={value!r}: give a number, not a {type(value).__name__}"
                                f"{hint}.")
    if not np.isfinite(value):
        raise InvalidInputError(f"{name}={value!r}: give a finite number{hint}.")
    if positive and not value > 0:
        raise InvalidInputError(f"{name}={value!r}: give a positive number{hint}.")
    _bounds(name, float(value), minimum, maximum, hint)
    return float(value)


def text(name: str, value: Any, *, example: str, optional: bool = False) -> Any:
    """``value`` if it is a non-empty string (or, if ``optional``, None or empty); else an error
    showing ``example``."""
    if optional and (value is None or value == ""):
        return value
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name}={value!r}: give a string such as {example}.")
    return value


def array(name: str, value: Any) -> np.ndarray:
    """``value`` as a NumPy array of numbers or bools; refuses ``None``, ragged lists and text."""
    if value is None:
        raise InvalidInputError(f"{name} is None: give an array (NumPy or xarray).")
    try:
        arr = np.asarray(value)
    except ValueError as err:  # NumPy 2 refuses ragged nested lists
        raise InvalidInputError(f"{name} is ragged (its rows differ in length): give a "
                                "rectangular array, every row of the same length.") from err
    if arr.dtype.kind not in "biuf":
        raise InvalidInputError(f"{name} holds {arr.dtype} values, not numbers: give a numeric "
                                "array (e.g. read the numbers with float(), or drop text columns).")
    return arr


def reflectance(name: str, value: Any, *, check_range: bool = True) -> Any:
    """Refuse what is not reflectance (float, about -0.1 to 1.5); returns ``value`` unchanged.

    Digital numbers (an integer dtype, or ``units`` ``"DN"``) are refused with the conversion to
    call. The range is checked on NumPy data only (a lazy dask array is not computed here), and
    not at all with ``check_range=False`` (for sums of reflectances).
    """
    if str(getattr(value, "attrs", {}).get("units", "")).strip().upper() == "DN":
        raise InvalidInputError(f"{name} holds digital numbers (units 'DN'), not reflectance: "
                                f"{_DN_HINT}.")
    data = getattr(value, "data", None) if hasattr(value, "dims") else array(name, value)
    kind = np.dtype(getattr(data, "dtype", object)).kind
    if kind in "biu":
        raise InvalidInputError(f"{name} is {data.dtype}, not float reflectance 0-1: integers are "
                                f"digital numbers; {_DN_HINT}.")
    if kind != "f":
        raise InvalidInputError(f"{name} holds {getattr(data, 'dtype', type(data))} values: give "
                                "float reflectance 0-1.")
    if check_range and isinstance(data, np.ndarray):
        _reflectance_range(name, data)
    return value


def _reflectance_range(name: str, data: np.ndarray) -> None:
    lo, hi = REFLECTANCE_RANGE
    n = np.count_nonzero(np.isfinite(data))
    outside = np.count_nonzero((data < lo) | (data > hi))  # NaN compares False: not counted
    if n and outside > REFLECTANCE_OUTLIERS * n:
        raise InvalidInputError(
            f"{name} is not reflectance 0-1: {outside / n:.1%} of its values lie outside {lo} to "
            f"{hi} (from {np.nanmin(data):.4g} to {np.nanmax(data):.4g}). Percent? Divide by 100. "
            f"Digital numbers? {_DN_HINT}.")


def digital_numbers(name: str, value: Any) -> np.ndarray:
    """``value`` as an array of digital numbers; refuses float data that is already reflectance
    (every finite value within about -0.1 to 1.5, some not 0), which converting again would
    divide by 10,000 a second time."""
    arr = array(name, value)
    if arr.dtype.kind == "f":
        finite = arr[np.isfinite(arr)]
        lo, hi = REFLECTANCE_RANGE
        if finite.size and finite.any() and finite.min() >= lo and finite.max() <= hi:
            raise InvalidInputError(f"{name} is already reflectance (values {finite.min():.3g} "
                                    f"to {finite.max():.3g}), not digital numbers (0-10000): use "
                                    "it as it is; converting it again would divide it by 10,000.")
    return arr


def mask(name: str, value: Any, *, shape: Sequence[int] | None = None) -> np.ndarray:
    """``value`` as a bool array; refuses NaN, values other than 0/1 (a probability map) and,
    given ``shape``, another grid (:class:`ShapeMismatchError`)."""
    arr = array(name, value)
    if shape is not None and arr.shape != tuple(shape):
        raise ShapeMismatchError(f"{name} has shape {arr.shape}, the image {tuple(shape)}: give a "
                                 "mask of the same grid (e.g. ds['valid'] of the same scene).")
    if arr.dtype.kind == "b":
        return arr
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise InvalidInputError(f"{name} contains NaN; a mask holds 0/1 or True/False: pass "
                                "valid= to leave those pixels out, or fill them first.")
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        raise InvalidInputError(f"{name} must be a 0/1 or bool mask; it holds other values "
                                f"({', '.join(f'{v:g}' for v in np.unique(arr[bad])[:3])} ...), "
                                "like a probability map. Threshold a probability map first "
                                "(e.g. prob > 0.5).")
    return arr.astype(bool)


def _dims(value: Any) -> tuple[str, ...] | None:
    dims = getattr(value, "dims", None)
    return tuple(map(str, dims)) if isinstance(dims, tuple) else None


def _dims_in_order(name: str, dims: tuple[str, ...], *, channels: str, last: bool) -> None:
    """Refuse named dims of a 3-D image whose y and x are not where the order documented puts
    them: (``channels``, y, x), or (y, x, ``channels``) if ``last``."""
    spatial = dims[:2] if last else dims[1:]
    if len(dims) == 3 and {"y", "x"} <= set(dims) and spatial != ("y", "x"):
        other = repr(next(d for d in dims if d not in ("y", "x")))
        order, call = (("y, x, " + channels, f"'y', 'x', {other}") if last else
                       (channels + ", y, x", f"{other}, 'y', 'x'"))
        raise InvalidInputError(f"{name} has dims {dims}; use ({order}): {name}.transpose({call}).")


def channels_first(name: str, value: Any, *, first: str = "band") -> None:
    """Refuse a 3-D image that is not (``first``, y, x): by its dim names if it has them (xarray),
    else by its shape (a short last axis and long first two axes: (y, x, ``first``))."""
    dims = _dims(value)
    if dims is not None:
        _dims_in_order(name, dims, channels=first, last=False)
        return
    shape = array(name, value).shape
    if len(shape) == 3 and shape[2] <= MAX_CHANNELS and 4 * shape[2] <= min(shape[:2]):
        raise InvalidInputError(
            f"{name} has shape {shape}, which looks like (y, x, {first}); this function takes "
            f"({first}, y, x): pass np.moveaxis({name}, -1, 0). (If it really is ({first}, y, x), "
            f"pass an xarray.DataArray with dims ('{first}', 'y', 'x').)")


def channels_last(name: str, value: Any) -> None:
    """Refuse a 3-D image that is not (y, x, channels): by dim names (xarray), else by shape."""
    dims = _dims(value)
    if dims is not None:
        _dims_in_order(name, dims, channels="channels", last=True)
        return
    shape = array(name, value).shape
    if len(shape) == 3 and shape[0] <= MAX_CHANNELS and 4 * shape[0] <= min(shape[1:]):
        raise InvalidInputError(
            f"{name} has shape {shape}, which looks like (channels, y, x); this function takes "
            f"(y, x, channels): pass np.moveaxis({name}, 0, -1).")


def xarray_object(name: str, value: Any, *, kinds: Sequence[str] = ("DataArray",),
                  example: str = "ds['post']", georeferenced: bool = False) -> None:
    """Refuse anything but an xarray object of ``kinds`` (with a CRS if ``georeferenced``)."""
    import xarray as xr

    if not isinstance(value, tuple(getattr(xr, k) for k in kinds)):
        wanted = " or ".join(f"xarray.{k}" for k in kinds)
        what = "a NumPy array" if isinstance(value, np.ndarray) else f"a {type(value).__name__}"
        raise InvalidInputError(f"{name} is {what}; give an {wanted} (e.g. "
                                f"{example}), which carries its coordinates"
                                f"{' and CRS' if georeferenced else ''}.")
    if georeferenced:
        import rioxarray  # noqa: F401  (registers the .rio accessor)

        if value.rio.crs is None:
            raise InvalidInputError(f"{name} has no CRS: write one first, e.g. "
                                    f"{name}.rio.write_crs('EPSG:32647').")


def bands(name: str, value: Any, wanted: Sequence[str], *, hint: str = "") -> list[str]:
    """The band names of ``value`` (xarray with a ``band`` coordinate); :class:`MissingBandError`
    naming the bands it has when one of ``wanted`` is absent."""
    have = [str(b) for b in value["band"].values] if "band" in getattr(value, "coords", {}) else []
    missing = [str(b) for b in wanted if str(b) not in have]
    if missing:
        raise MissingBandError(f"{name} has no band {', '.join(map(repr, missing))}; it has "
                               f"{', '.join(have) or 'no band coordinate'}{hint}.")
    return have


def shape2d(name: str, value: Any) -> tuple[int, int]:
    """``value`` as (rows, columns), two positive integers."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
                    for v in value)):
        raise InvalidInputError(f"{name}={value!r}: give (rows, columns), two positive integers.")
    return int(value[0]), int(value[1])


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (Linux ``MemAvailable``), or None."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def memory(what: str, nbytes: float, *, hint: str) -> None:
    """Refuse a request that needs more memory than is available, before it starts."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise InvalidInputError(f"{what} needs about {nbytes / 1e9:,.1f} GB of memory and "
                                f"{free / 1e9:,.1f} GB are available: {hint}.")
