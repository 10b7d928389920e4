"""Processing-baseline harmonisation of Sentinel-2 L2A digital numbers (chapter 1).

From processing baseline 04.00 (products from 2022-01-25 on) ESA adds ``BOA_ADD_OFFSET = -1000``
to L2A digital numbers, so that reflectance = (DN - 1000) / 10000; before, reflectance =
DN / 10000. A 2021 pre-event scene and a 2022 post-event scene therefore need *different*
conversions: using one rule for both biases every band by 0.1 and every index and change
computed from them (ESA, "Sentinel-2 L2A processing baseline 04.00" notice; FACTS.md).
Earth Engine's ``COPERNICUS/S2_SR_HARMONIZED`` instead shifts newer DNs down by 1000.
"""

from __future__ import annotations

from datetime import date

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


def boa_add_offset(*, baseline: str | None = None, acquired: str | date | None = None) -> int:
    """The ``BOA_ADD_OFFSET`` of a product, from its processing baseline or, failing that, its date.

    Parameters
    ----------
    baseline : str, optional
        Processing baseline such as ``"03.01"`` or ``"04.00"`` (preferred: it is exact).
    acquired : str or date, optional
        Acquisition/processing date; used only when ``baseline`` is unknown.

    Returns
    -------
    int
        ``-1000`` for baseline 04.00 and later, else ``0``.
    """
    checks.text("baseline", baseline, example="'04.00' (as text, from the metadata)", optional=True)
    if baseline:
        return BOA_ADD_OFFSET_PB04 if _baseline_tuple(baseline) >= (4, 0) else 0
    if acquired is not None:
        day = checks.day("acquired", acquired)
        return BOA_ADD_OFFSET_PB04 if day >= date.fromisoformat(PB04_START) else 0
    raise InvalidInputError("give the processing baseline (best) or the acquisition date")


def dn_to_reflectance(dn: np.ndarray, *, offset: int, nodata: int | None = 0) -> np.ndarray:
    """Convert L2A digital numbers to surface reflectance 0-1 (float32), NaN where nodata.

    Parameters
    ----------
    dn : ndarray of int
        Digital numbers, any shape (e.g. dims (band, y, x)).
    offset : int
        ``BOA_ADD_OFFSET`` of the product (see :func:`boa_add_offset`).
    nodata : int or None
        DN value meaning "no data" (0 for Sentinel-2 L2A).

    Returns
    -------
    ndarray of float32
        ``(dn + offset) / 10000``, NaN where ``dn == nodata``; values below 0 (dark pixels
        after the offset) are clipped to 0.
    """
    dn = checks.digital_numbers("dn", dn)
    refl = (dn.astype(np.float32) + np.float32(offset)) / np.float32(QUANTIFICATION_VALUE)
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
