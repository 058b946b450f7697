"""Binary screening metrics with "cataract" as the positive class (pure numpy).

Scores are P(cataract); a photo is called cataract when its score >= threshold (the
threshold, the ROC curve it is chosen on and the area under it: train_jax/training/threshold.py;
the bootstrap: train_jax/training/verdict.py, whose verdict is defined by it).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cataract_contract import ValidationFigures
from train_jax.training.threshold import ratio, roc_auc
from train_jax.training.verdict import percentile_bootstrap


@dataclasses.dataclass(frozen=True)
class BinaryMetrics(ValidationFigures):
    """The figures a model card carries for its validation photos (the contract's
    ValidationFigures), and the decision threshold they were taken at."""

    threshold: float


def binary_metrics(is_positive: np.ndarray, scores: np.ndarray, threshold: float) -> BinaryMetrics:
    is_positive = np.asarray(is_positive, bool)
    predicted = np.asarray(scores) >= threshold
    tp = int((predicted & is_positive).sum())
    fp = int((predicted & ~is_positive).sum())
    fn = int((~predicted & is_positive).sum())
    tn = int((~predicted & ~is_positive).sum())
    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    return BinaryMetrics(
        threshold=float(threshold),
        count=len(is_positive),
        accuracy=ratio(tp + tn, len(is_positive)),
        precision=precision,
        recall=recall,
        specificity=ratio(tn, tn + fp),
        f1=ratio(2 * precision * recall, precision + recall),
        roc_auc=roc_auc(is_positive, scores),
        confusion={"true_positive": tp, "false_positive": fp, "false_negative": fn, "true_negative": tn},
    )


def precision_recall_curve(is_positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score used as a threshold (descending)."""
    is_positive = np.asarray(is_positive, bool)
    scores = np.asarray(scores, np.float64)
    precision, recall = [], []
    for threshold in np.unique(scores)[::-1]:
        predicted = scores >= threshold
        true_positive = (predicted & is_positive).sum()
        precision.append(ratio(true_positive, predicted.sum()))
        recall.append(ratio(true_positive, is_positive.sum()))
    return np.array(precision), np.array(recall)


def reliability(is_positive: np.ndarray, scores: np.ndarray, bins: int = 10) -> tuple[list[dict], float]:
    """Calibration by equal-width score bins: per bin the mean score, the observed share
    of positives and the count; and the expected calibration error (count-weighted mean
    gap between the two)."""
    is_positive = np.asarray(is_positive, bool)
    scores = np.asarray(scores, np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    table, error = [], 0.0
    for b in range(bins):
        members = index == b
        if not members.any():
            continue
        mean_score, observed = float(scores[members].mean()), float(is_positive[members].mean())
        table.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": int(members.sum()),
                      "mean_score": mean_score, "observed_positive_rate": observed})
        error += members.mean() * abs(mean_score - observed)
    return table, float(error)


def bootstrap_intervals(is_positive: np.ndarray, scores: np.ndarray, threshold: float,
                        resamples: int = 1000, seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% percentile-bootstrap intervals of the figures at `threshold`."""

    def at_threshold(positive: np.ndarray, resampled_scores: np.ndarray) -> dict[str, float]:
        m = binary_metrics(positive, resampled_scores, threshold)
        return {"accuracy": m.accuracy, "roc_auc": m.roc_auc, "sensitivity": m.recall, "specificity": m.specificity}

    return percentile_bootstrap(is_positive, scores, at_threshold, resamples, seed)
