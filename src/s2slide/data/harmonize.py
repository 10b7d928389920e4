"""Processing-baseline harmonisation of Sentinel-2 L2A digital numbers (chapter 1).

From processing baseline 04.00 (products from 2022-01-25 on) ESA adds ``BOA_ADD_OFFSET = -1000``
to L2A digital numbers, so that reflectance = (DN - 1000) / 10000; before, reflectance =
DN / 10000. A 2021 pre-event scene and a 2022 post-event scene therefore need *different*
conversions: using one rule for both biases every band by 0.1 and every index and change
computed from them (ESA, "Sentinel-2 L2A processing baseline 04.00" notice; FACTS.md).
Earth Engine's ``COPERNICUS/S2_SR_HARMONIZED`` instead shifts newer DNs down by 1000.

**The offset follows the baseline, not the acquisition date.** ESA's reprocessing of the
archive (Collection-1, baseline 05.00 and later) gives products of 2015-2021 the -1000 offset
too, so a 2019 acquisition may need it. :func:`boa_add_offset` therefore takes, in this order,
the baseline itself, the baseline written in the product's name (``_N0500_``), the date the
product was *processed* (every product processed since 2022-01-25 has baseline 04.00 or later),
and only when none of these is known the acquisition date, saying so (:func:`offset_decision`).
"""

from __future__ import annotations

import re
from datetime import date, datetime

import numpy as np

from s2slide import checks
from s2slide.data.bands import BOA_ADD_OFFSET_PB04, PB04_START, QUANTIFICATION_VALUE
from s2slide.errors import InvalidInputError


def _baseline_tuple(baseline: str) -> tuple[int, int]:
    try:
        major, minor = baseline.strip().split(".")
        return int(major), int(minor)
    except ValueError as err:
        raise InvalidInputError(
            f"processing baseline {baseline!r} is not of the form 'NN.NN' (e.g. '04.00'); "
            "read it from the product's metadata (STAC: 's2:processing_baseline')") from err


_NAME_BASELINE = re.compile(r"_N(\d{2})(\d{2})(?:_|\.|$)|N(\d{2})\.(\d{2})")


def baseline_from_name(name: str | None) -> str | None:
    """The processing baseline written in a product or granule name, else None.

    SAFE names carry ``_N0500_`` (``S2A_MSIL2A_20190101T..._N0500_R...``); granule, datastrip
    and datatake ids carry ``N05.00``.

    Examples
    --------
    >>> baseline_from_name("S2B_MSIL2A_20211105T034009_N0301_R061_T47RQP_20211105T070000.SAFE")
    '03.01'
    >>> baseline_from_name("GS2B_20250731T130249_043879_N05.11")
    '05.11'
    """
    if not name:
        return None
    m = _NAME_BASELINE.search(str(name))
    if not m:
        return None
    major, minor = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return f"{major}.{minor}"


def as_date(value: str | date | datetime | None, what: str) -> date | None:
    """``value`` as a :class:`datetime.date` (an ISO string such as ``"2022-11-20"``, a date or a
    datetime; None stays None); InvalidInputError naming ``what`` otherwise."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise InvalidInputError(f"{what}={value!r} must be an ISO date string or a date, "
                                f"not {type(value).__name__}")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise InvalidInputError(f"{what}={value!r} is not an ISO date; write e.g. "
                                "'2022-11-20'") from None


def offset_decision(*, baseline: str | None = None, product: str | None = None,
                    processed: str | date | None = None,
                    acquired: str | date | None = None) -> tuple[int, str]:
    """The ``BOA_ADD_OFFSET`` of a product and the evidence it was taken from.

    Parameters
    ----------
    baseline : str, optional
        Processing baseline such as ``"03.01"`` or ``"05.00"`` (exact: used whenever known).
    product : str, optional
        A product, granule or datatake name holding the baseline (``..._N0500_...``).
    processed : str or date, optional
        When the product was generated (STAC ``s2:generation_time``, OData ``processingDate``):
        products processed from 2022-01-25 on have baseline 04.00 or later.
    acquired : str or date, optional
        Acquisition date: the last resort, since reprocessed old acquisitions carry new baselines.

    Returns
    -------
    (int, str)
        ``-1000`` for baseline 04.00 and later, else ``0``; and the reason, for provenance.

    Raises
    ------
    InvalidInputError
        Nothing given, a baseline that is not a string ``'NN.NN'``, or a date that is not ISO.
    """
    if baseline is not None and not isinstance(baseline, str):
        raise InvalidInputError(f"baseline={baseline!r} must be a string such as '04.00', not "
                                f"{type(baseline).__name__} (4.0 would lose the leading zero)")
    start = date.fromisoformat(PB04_START)
    if baseline:
        off = BOA_ADD_OFFSET_PB04 if _baseline_tuple(baseline) >= (4, 0) else 0
        return off, f"BOA_ADD_OFFSET {off} from processing baseline {baseline.strip()}"
    named = baseline_from_name(product)
    if named:
        off = BOA_ADD_OFFSET_PB04 if _baseline_tuple(named) >= (4, 0) else 0
        return off, f"BOA_ADD_OFFSET {off} from processing baseline {named} (in the product name)"
    made = as_date(processed, "processed")
    if made is not None:
        off = BOA_ADD_OFFSET_PB04 if made >= start else 0
        return off, (f"BOA_ADD_OFFSET {off} from the processing date {made} (baseline unknown; "
                     f"every product processed since {PB04_START} has baseline 04.00 or later)")
    day = as_date(acquired, "acquired")
    if day is not None:
        off = BOA_ADD_OFFSET_PB04 if day >= start else 0
        return off, (f"BOA_ADD_OFFSET {off} from the acquisition date {day} alone (no baseline, "
                     "product name or processing date known; a reprocessed product of an old "
                     "date would need -1000: check the pixels)")
    raise InvalidInputError("give the processing baseline (best), the product name, the "
                            "processing date or, failing all, the acquisition date")


def boa_add_offset(*, baseline: str | None = None, acquired: str | date | None = None,
                   product: str | None = None, processed: str | date | None = None) -> int:
    """The ``BOA_ADD_OFFSET`` of a product: -1000 for baseline 04.00 and later, else 0.

    The baseline decides whenever it is known (given, or in the ``product`` name); then the
    ``processed`` date; the ``acquired`` date only when nothing else is known, because ESA's
    reprocessed Collection-1 products carry new baselines for old dates. See
    :func:`offset_decision`, which also returns the reason.

    Parameters
    ----------
    baseline : str, optional
        Processing baseline such as ``"03.01"`` or ``"04.00"`` (preferred: it is exact).
    acquired : str or date, optional
        Acquisition date; used only when nothing else is known.
    product : str, optional
        Product or granule name holding the baseline (``_N0500_``, ``N05.00``).
    processed : str or date, optional
        Processing (generation) date of the product.

    Returns
    -------
    int
        ``-1000`` or ``0``.
    """
    return offset_decision(baseline=baseline, product=product, processed=processed,
                           acquired=acquired)[0]


def dn_to_reflectance(dn: np.ndarray, *, offset: int | np.ndarray,
                      nodata: int | None = 0) -> np.ndarray:
    """Convert L2A digital numbers to surface reflectance 0-1 (float32), NaN where nodata.

    The one conversion of every route of the course (chapter 1's STAC and CDSE routes, the
    mirror, chapter 8's tile and chapter 9's lazy stacks, block by block).

    Parameters
    ----------
    dn : ndarray of int
        Digital numbers, any shape (e.g. dims (band, y, x)).
    offset : int or ndarray of int
        ``BOA_ADD_OFFSET`` of the product (see :func:`boa_add_offset`); an array broadcastable
        to ``dn`` gives each acquisition its own (e.g. shape (time, 1, 1, 1) for a stack of
        dims (time, band, y, x)).
    nodata : int or None
        DN value meaning "no data" (0 for Sentinel-2 L2A).

    Returns
    -------
    ndarray of float32
        ``(dn + offset) / 10000``, NaN where ``dn == nodata``; values below 0 (dark pixels
        after the offset) are clipped to 0.
    """
    dn = checks.digital_numbers("dn", dn)
    refl = (dn.astype(np.float32) + np.asarray(offset, np.float32)) / np.float32(QUANTIFICATION_VALUE)
    refl = np.clip(refl, 0.0, None)
    if nodata is not None:
        refl[dn == nodata] = np.nan
    return refl


def harmonize_to_pb04(dn: np.ndarray, *, baseline: str) -> np.ndarray:
    """Shift pre-04.00 DNs up by 1000 so that they follow the 04.00 convention (int32).

    This is the inverse of Earth Engine's harmonisation; use it to compare raw DNs across
    baselines. Nodata (0) stays 0.
    """
    dn = np.asarray(dn)
    if _baseline_tuple(baseline) >= (4, 0):
        return dn.astype(np.int32)
    out = dn.astype(np.int32) - BOA_ADD_OFFSET_PB04
    out[dn == 0] = 0
    return out
