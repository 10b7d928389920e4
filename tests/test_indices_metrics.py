"""Indices and scores on small arrays with known answers."""

import numpy as np
import pytest
import xarray as xr

from s2slide import indices, metrics
from s2slide.errors import InvalidInputError, NoValidDataError, ShapeMismatchError


def test_ndvi_known_values_and_zero_denominator():
    nir = np.array([0.5, 0.3, 0.0], np.float32)
    red = np.array([0.1, 0.3, 0.0], np.float32)
    out = indices.ndvi(nir=nir, red=red)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:2], [0.4 / 0.6, 0.0], rtol=1e-6)
    assert np.isnan(out[2])


def test_bsi_formula_and_dataarray():
    b = {k: xr.DataArray(np.full((2, 2), v, np.float32), dims=("y", "x"))
         for k, v in dict(swir=0.3, red=0.2, nir=0.1, blue=0.05).items()}
    out = indices.bsi(**b)
    assert isinstance(out, xr.DataArray)
    np.testing.assert_allclose(out.values, (0.5 - 0.15) / 0.65, rtol=1e-6)


def test_shape_mismatch_and_threshold_sign():
    with pytest.raises(ShapeMismatchError, match="one grid"):
        indices.ndvi(nir=np.zeros((2, 2)), red=np.zeros((2, 3)))
    with pytest.raises(InvalidInputError, match="negative"):
        indices.dndvi_mask(np.zeros(3), np.zeros(3), threshold=0.2)


def test_dndvi_mask():
    pre = np.array([0.8, 0.8, np.nan, 0.5])
    post = np.array([0.2, 0.7, 0.1, 0.29])
    assert indices.dndvi_mask(pre, post).tolist() == [True, False, False, True]


def test_scores_known_confusion():
    truth = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    pred = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    s = metrics.scores(truth, pred)
    assert s["confusion"] == [[4, 1], [1, 2]]
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["iou"] == pytest.approx(0.5) and s["miou"] == pytest.approx((0.5 + 4 / 6) / 2)
    assert s["accuracy"] == pytest.approx(6 / 8)


def test_scores_valid_and_empty_prediction():
    truth = np.array([1, 0, 1, 0])
    s = metrics.scores(truth, np.zeros(4), valid=np.array([1, 1, 0, 0], bool))
    assert s["n"] == 2 and np.isnan(s["precision"]) and s["recall"] == 0.0
    with pytest.raises(NoValidDataError):
        metrics.scores(truth, truth, valid=np.zeros(4, bool))


def test_scores_bad_input():
    with pytest.raises(InvalidInputError, match="Threshold"):
        metrics.scores(np.array([0, 1]), np.array([0.2, 0.7]))
    with pytest.raises(InvalidInputError, match="NaN"):
        metrics.scores(np.array([0, 1]), np.array([0.0, np.nan]))
    with pytest.raises(ShapeMismatchError):
        metrics.scores(np.zeros(3), np.zeros(4))


def test_scores_equal_scikit_learn():
    from sklearn import metrics as skm

    rng = np.random.default_rng(3)
    truth = rng.random((40, 50)) < 0.2
    pred = truth ^ (rng.random((40, 50)) < 0.1)
    s = metrics.scores(truth, pred)
    t, p = truth.ravel(), pred.ravel()
    assert s["accuracy"] == pytest.approx(skm.accuracy_score(t, p))
    assert s["precision"] == pytest.approx(skm.precision_score(t, p))
    assert s["recall"] == pytest.approx(skm.recall_score(t, p))
    assert s["f1"] == pytest.approx(skm.f1_score(t, p))
    assert s["iou"] == pytest.approx(skm.jaccard_score(t, p))
    assert s["miou"] == pytest.approx(skm.jaccard_score(t, p, average="macro"))


def test_from_confusion_known_counts_and_same_as_scores():
    s = metrics.from_confusion([[4, 1], [1, 2]])
    assert s["accuracy"] == 6 / 8 and s["precision"] == 2 / 3 and s["f1"] == 4 / 6
    assert s["iou"] == 0.5 and s["n"] == 8 and s["confusion"] == [[4, 1], [1, 2]]
    truth = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    pred = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    assert metrics.scores(truth, pred) == s
    empty = metrics.from_confusion(np.array([[5, 0], [0, 0]]))  # nothing predicted, nothing true
    assert np.isnan(empty["precision"]) and np.isnan(empty["iou"]) and empty["miou"] == 1.0
    for bad in ([[1, 2, 3]], [[1, -1], [0, 2]], [[1, np.nan], [0, 2]]):
        with pytest.raises(InvalidInputError, match="tn, fp"):
            metrics.from_confusion(bad)


def test_metrics_import_does_not_load_sklearn():
    import subprocess
    import sys

    code = "import sys, s2slide.metrics; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_iou_from_f1_is_the_class_iou_for_any_counts():
    rng = np.random.default_rng(7)
    for _ in range(20):
        truth = rng.random(500) < rng.uniform(0.02, 0.5)
        pred = truth ^ (rng.random(500) < rng.uniform(0.01, 0.4))
        s = metrics.scores(truth, pred)
        assert metrics.iou_from_f1(s["f1"]) == pytest.approx(s["iou"])
    np.testing.assert_allclose(metrics.iou_from_f1([0.0, 0.5, 1.0]), [0.0, 1 / 3, 1.0])
    with pytest.raises(InvalidInputError, match="percent"):
        metrics.iou_from_f1(83.0)


def test_from_counts_matches_from_confusion_and_accepts_areas():
    s = metrics.from_confusion([[40, 3], [5, 7]])
    c = metrics.from_counts(tp=7, fp=3, fn=5, tn=40)
    for key in ("precision", "recall", "f1", "iou", "miou", "accuracy"):
        assert c[key] == pytest.approx(s[key])
    half = metrics.from_counts(tp=0.7, fp=0.3, fn=0.5)  # areas: the unit does not matter
    assert half["f1"] == pytest.approx(s["f1"]) and "miou" not in half
    assert np.isnan(metrics.from_counts(tp=0, fp=0, fn=2)["precision"])
    with pytest.raises(InvalidInputError, match="tn"):
        metrics.from_counts(tp=1, fp=1, fn=1, tn=-2)


def test_shahabi_table4_mious_are_landslide_ious_not_class_means():
    """Seed 002's Table 4 (areas in ha, as printed): recompute its scores from TP, FP, FN.

    The background is the study area of Section 2 minus TP, FP and FN (the paper does not print
    TN). Its text defines mIoU as the mean overlap over the mean union, i.e. the landslide IoU.
    """
    from s2slide.models import cae

    iou_match, mean_match = [], []
    for row in cae.PAPER_TABLE4:
        area_ha = cae.PAPER_AREA_KM2[row["site"]] * 100
        tn = area_ha - row["tp_ha"] - row["fp_ha"] - row["fn_ha"]
        s = metrics.from_counts(tp=row["tp_ha"], fp=row["fp_ha"], fn=row["fn_ha"], tn=tn)
        for key in ("precision", "recall", "f1"):  # every printed P, R, F1 is recomputed
            assert abs(s[key] - row[key]) <= 0.0051, (row["site"], row["features"], key)
        assert metrics.iou_from_f1(s["f1"]) == pytest.approx(s["iou"])
        iou_match.append(abs(s["iou"] - row["miou"]) <= 0.0051)
        mean_match.append(abs(s["miou"] - row["miou"]) <= 0.0051)
    # India (both rows) and China's input clustering print the landslide IoU; Taiwan's
    # deep-feature row prints the two-class mean; China's deep-feature and Taiwan's input rows
    # match neither, so only the recomputed landslide IoU compares like with like.
    assert iou_match == [True, True, True, False, False, False]
    assert mean_match == [False, False, False, False, False, True]
