"""Scores of a binary landslide map against a truth mask.

Built on scikit-learn's ``confusion_matrix``; the ratios are written out because each is one
line and the empty cases (no landslide predicted, none in truth) need an explicit, documented
value: a ratio whose denominator is 0 is NaN, never a silent 0 or 1.

Chapter 4 introduces these.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

from s2slide.errors import InvalidInputError, NoValidDataError, ShapeMismatchError


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else float("nan")


def _as_bool(name: str, a: Any) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise InvalidInputError(f"{name} contains NaN; pass valid= to leave those pixels out.")
    values = np.unique(arr)
    if not np.isin(values, (0, 1)).all():
        raise InvalidInputError(f"{name} must be a 0/1 or bool mask; it holds {values[:5]}. "
                                "Threshold a probability map first (e.g. prob > 0.5).")
    return arr.astype(bool)


def scores(truth: Any, pred: Any, *, valid: Any = None) -> dict[str, Any]:
    """Pixel scores of ``pred`` against ``truth`` (1 = landslide), on ``valid`` pixels only.

    Returns a dict: ``accuracy``, ``precision``, ``recall``, ``f1``, ``iou`` (of the landslide
    class), ``miou`` (mean IoU of landslide and background), ``confusion`` as
    ``[[tn, fp], [fn, tp]]`` (rows truth no/yes, columns predicted no/yes, as seed 000), and ``n``.
    """
    if np.shape(truth) != np.shape(pred):
        raise ShapeMismatchError(f"truth {np.shape(truth)} and pred {np.shape(pred)} differ; "
                                 "both must be maps of the same grid.")
    keep = np.ones(np.shape(truth), bool) if valid is None else np.asarray(valid, bool)
    if keep.shape != np.shape(truth):
        raise ShapeMismatchError(f"valid {keep.shape} does not match the maps {np.shape(truth)}.")
    if not keep.any():
        raise NoValidDataError("no valid pixel to score; check the valid mask (clouds, nodata).")
    t = _as_bool("truth", np.asarray(truth)[keep])
    p = _as_bool("pred", np.asarray(pred)[keep])
    (tn, fp), (fn, tp) = confusion_matrix(t, p, labels=[False, True])
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    iou, iou_bg = _ratio(tp, tp + fp + fn), _ratio(tn, tn + fp + fn)
    return {
        "accuracy": _ratio(tp + tn, t.size),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "iou": iou,
        "miou": float(np.nanmean([iou, iou_bg])) if not np.isnan([iou, iou_bg]).all() else float("nan"),
        "confusion": [[int(tn), int(fp)], [int(fn), int(tp)]],
        "n": int(t.size),
    }
