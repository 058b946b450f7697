"""Binary screening metrics with "cataract" as the positive class (pure numpy).

Scores are P(cataract); a photo is called cataract when its score >= threshold.
"""

from __future__ import annotations

import dataclasses

import numpy as np

THRESHOLD_RULE = (
    "Youden's J: the threshold on the validation split that maximises sensitivity + specificity - 1 "
    "(ties: the one closest to 0.5)"
)


@dataclasses.dataclass(frozen=True)
class BinaryMetrics:
    threshold: float
    count: int
    accuracy: float
    precision: float
    recall: float  # sensitivity
    specificity: float
    f1: float
    roc_auc: float
    confusion: dict[str, int]  # true/false positives/negatives


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def roc_curve(is_positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct score used as a threshold
    (descending), starting at (0, 0) with threshold +inf."""
    is_positive = np.asarray(is_positive, bool)
    scores = np.asarray(scores, np.float64)
    thresholds = np.concatenate([[np.inf], np.unique(scores)[::-1]])
    positives, negatives = is_positive.sum(), (~is_positive).sum()
    tpr = np.array([_ratio((scores[is_positive] >= t).sum(), positives) for t in thresholds])
    fpr = np.array([_ratio((scores[~is_positive] >= t).sum(), negatives) for t in thresholds])
    return fpr, tpr, thresholds


def roc_auc(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    is_positive = np.asarray(is_positive, bool)
    scores = np.asarray(scores, np.float64)
    positive_scores, negative_scores = scores[is_positive], scores[~is_positive]
    if not len(positive_scores) or not len(negative_scores):
        return float("nan")
    greater = (positive_scores[:, None] > negative_scores[None, :]).sum()
    ties = (positive_scores[:, None] == negative_scores[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(positive_scores) * len(negative_scores)))


def binary_metrics(is_positive: np.ndarray, scores: np.ndarray, threshold: float) -> BinaryMetrics:
    is_positive = np.asarray(is_positive, bool)
    predicted = np.asarray(scores) >= threshold
    tp = int((predicted & is_positive).sum())
    fp = int((predicted & ~is_positive).sum())
    fn = int((~predicted & is_positive).sum())
    tn = int((~predicted & ~is_positive).sum())
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return BinaryMetrics(
        threshold=float(threshold),
        count=len(is_positive),
        accuracy=_ratio(tp + tn, len(is_positive)),
        precision=precision,
        recall=recall,
        specificity=_ratio(tn, tn + fp),
        f1=_ratio(2 * precision * recall, precision + recall),
        roc_auc=roc_auc(is_positive, scores),
        confusion={"true_positive": tp, "false_positive": fp, "false_negative": fn, "true_negative": tn},
    )


def choose_threshold(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """THRESHOLD_RULE, over the distinct scores (each a candidate threshold)."""
    fpr, tpr, thresholds = roc_curve(is_positive, scores)
    finite = np.isfinite(thresholds)
    youden = (tpr - fpr)[finite]
    candidates = thresholds[finite]
    best = np.flatnonzero(np.isclose(youden, youden.max()))
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])
