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

    ``miou`` is the computer-vision mean over both classes; it is *not* the column that
    Shahabi et al. (2021, Table 4) call mIoU, whose values match ``iou`` of the landslide class
    (see :func:`iou_from_f1` and :func:`from_counts`). Compare a published IoU with ``iou``.
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


def iou_from_f1(f1: Any) -> Any:
    """The IoU of a class from its F1 score: ``IoU = F1 / (2 - F1)``, for any counts.

    ``IoU = TP / (TP + FP + FN)`` and ``F1 = 2 TP / (2 TP + FP + FN)`` share their counts, so one
    fixes the other. A published "IoU" column that equals ``F1 / (2 - F1)`` row by row is the IoU
    of the same class as the F1, not a mean over classes.

    Parameters
    ----------
    f1 : float or array-like of float
        F1 scores in [0, 1] (NaN stays NaN).

    Returns
    -------
    float or ndarray of float64
        IoU in [0, 1], same shape.
    """
    arr = np.asarray(checks.array("f1", f1), dtype=np.float64)
    if ((arr < 0) | (arr > 1)).any():
        raise InvalidInputError(f"F1 must lie in [0, 1], got {arr[(arr < 0) | (arr > 1)][:3]}; "
                                "give fractions, not percent (0.83, not 83).")
    out = arr / (2.0 - arr)
    return float(out) if out.ndim == 0 else out


def from_counts(*, tp: float, fp: float, fn: float, tn: float | None = None) -> dict[str, float]:
    """Scores of the landslide class from counts *or areas* (pixels, hectares ...).

    For published tables that give true and false positive and negative *areas* instead of
    a confusion matrix of pixels (Shahabi et al. 2021, Table 4, in hectares). The ratios do not
    depend on the unit; a ratio whose denominator is 0 is NaN.

    Parameters
    ----------
    tp, fp, fn : float
        True positive, false positive and false negative count or area (>= 0, same unit).
    tn : float, optional
        True negative count or area (e.g. the study area minus the other three). Without it the
        background IoU, the two-class mean and the accuracy cannot be computed and are left out.

    Returns
    -------
    dict of float
        ``precision``, ``recall``, ``f1``, ``iou`` (landslide class, ``tp / (tp + fp + fn)``);
        with ``tn`` also ``iou_background``, ``miou`` (mean of the two, as :func:`scores`) and
        ``accuracy``.
    """
    hint = " (a negative tn means the total area given was smaller than tp + fp + fn)"
    tp, fp, fn = (checks.number(k, v, minimum=0, hint=hint) for k, v in (("tp", tp), ("fp", fp), ("fn", fn)))
    tn = None if tn is None else checks.number("tn", tn, minimum=0, hint=hint)
    out = {"precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn),
           "f1": _ratio(2 * tp, 2 * tp + fp + fn), "iou": _ratio(tp, tp + fp + fn)}
    if tn is not None:
        out["iou_background"] = _ratio(tn, tn + fp + fn)
        pair = [out["iou"], out["iou_background"]]
        out["miou"] = float("nan") if np.isnan(pair).all() else float(np.nanmean(pair))
        out["accuracy"] = _ratio(tp + tn, tp + tn + fp + fn)
    return out
