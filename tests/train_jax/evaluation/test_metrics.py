"""Screening metrics, checked against hand-counted cases."""

from __future__ import annotations

import numpy as np
import pytest

from train_jax.evaluation.metrics import binary_metrics, roc_auc
from train_jax.training.threshold import OperatingPoint, choose_threshold, roc_curve


def test_metrics_by_hand():
    positive = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    scores = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.2, 0.1, 0.1, 0.05, 0.4])
    m = binary_metrics(positive, scores, 0.5)
    assert m.confusion == {"true_positive": 3, "false_positive": 1, "false_negative": 1, "true_negative": 5}
    assert m.accuracy == pytest.approx(0.8)
    assert m.precision == pytest.approx(0.75)
    assert m.recall == pytest.approx(0.75)
    assert m.specificity == pytest.approx(5 / 6)
    assert m.f1 == pytest.approx(0.75)
    # 24 positive-negative pairs; the positive wins in 21 (0.3 loses to 0.7 and 0.4, 0.6 to 0.7)
    assert m.roc_auc == pytest.approx(21 / 24)


def test_auc_counts_ties_as_half_and_handles_extremes():
    assert roc_auc(np.array([1, 0], bool), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert roc_auc(np.array([1, 1, 0], bool), np.array([0.9, 0.8, 0.1])) == 1.0
    assert np.isnan(roc_auc(np.array([1, 1], bool), np.array([0.9, 0.8])))


def test_roc_curve_runs_from_origin_to_corner():
    fpr, tpr, thresholds = roc_curve(np.array([1, 0, 1, 0], bool), np.array([0.9, 0.6, 0.4, 0.1]))
    assert (fpr[0], tpr[0]) == (0, 0) and (fpr[-1], tpr[-1]) == (1, 1)
    assert np.all(np.diff(thresholds) < 0)


def test_threshold_maximises_youden_on_the_given_scores():
    positive = np.array([1, 1, 1, 0, 0, 0], bool)
    scores = np.array([0.95, 0.7, 0.62, 0.6, 0.3, 0.1])
    threshold = choose_threshold(positive, scores, OperatingPoint.parse("youden"))
    assert threshold == pytest.approx(0.62)
    assert binary_metrics(positive, scores, threshold).accuracy == 1.0
