"""Scores of a binary landslide map against a truth mask.

Built on scikit-learn's ``confusion_matrix``; the ratios are written out because each is one
line and the empty cases (no landslide predicted, none in truth) need an explicit, documented
value: a ratio whose denominator is 0 is NaN, never a silent 0 or 1.

Chapter 4 introduces these.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from s2slide import checks
from s2slide.errors import InvalidInputError, NoValidDataError, ShapeMismatchError


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else float("nan")


def _as_bool(name: str, a: Any) -> np.ndarray:
    return checks.mask(name, a)


def scores(truth: Any, pred: Any, *, valid: Any = None) -> dict[str, Any]:
    """Pixel scores of ``pred`` against ``truth`` (1 = landslide), on ``valid`` pixels only.

    Returns a dict: ``accuracy``, ``precision``, ``recall``, ``f1``, ``iou`` (of the landslide
    class), ``miou`` (mean IoU of landslide and background), ``confusion`` as
    ``[[tn, fp], [fn, tp]]`` (rows truth no/yes, columns predicted no/yes, as seed 000), and ``n``.
    """
    truth, pred = checks.array("truth", truth), checks.array("pred", pred)
    if np.shape(truth) != np.shape(pred):
        raise ShapeMismatchError(f"truth {np.shape(truth)} and pred {np.shape(pred)} differ; "
                                 "both must be maps of the same grid.")
    keep = (np.ones(np.shape(truth), bool) if valid is None
            else checks.mask("valid", valid, shape=np.shape(truth)))
    if not keep.any():
        raise NoValidDataError("no valid pixel to score; check the valid mask (clouds, nodata).")
    t = _as_bool("truth", np.asarray(truth)[keep])
    p = _as_bool("pred", np.asarray(pred)[keep])
    from sklearn.metrics import confusion_matrix  # here, not at import: sklearn takes ~0.7 s

    return from_confusion(confusion_matrix(t, p, labels=[False, True]))


def from_confusion(cm: Any) -> dict[str, Any]:
    """The scores of :func:`scores` from a 2 x 2 matrix of counts ``[[tn, fp], [fn, tp]]``.

    Use it for published confusion matrices (chapter 4 scores seed 000's this way); a ratio
    whose denominator is 0 is NaN.
    """
    arr = np.asarray(cm)
    if arr.shape != (2, 2) or not np.isfinite(arr).all() or (arr < 0).any():
        raise InvalidInputError(f"confusion matrix {arr.tolist()!r}: use [[tn, fp], [fn, tp]], "
                                "four counts >= 0 (rows truth no/yes, columns predicted no/yes).")
    (tn, fp), (fn, tp) = arr.tolist()
    n = tn + fp + fn + tp
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    iou, iou_bg = _ratio(tp, tp + fp + fn), _ratio(tn, tn + fp + fn)
    return {
        "accuracy": _ratio(tp + tn, n),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "iou": iou,
        "miou": float(np.nanmean([iou, iou_bg])) if not np.isnan([iou, iou_bg]).all() else float("nan"),
        "confusion": [[int(tn), int(fp)], [int(fn), int(tp)]],
        "n": int(n),
    }
