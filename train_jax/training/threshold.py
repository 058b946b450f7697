"""The decision threshold: chosen once, on the validation photos, when training finishes.

Scores are P(cataract); a photo is called cataract when its score >= threshold. The
ROC curve lives here because the rule (Youden's J) is defined on it.
"""

from __future__ import annotations

import numpy as np

THRESHOLD_RULE = (
    "Youden's J: the threshold on the validation split that maximises sensitivity + specificity - 1 "
    "(ties: the one closest to 0.5)"
)


def ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def roc_curve(is_positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct score used as a threshold
    (descending), starting at (0, 0) with threshold +inf."""
    is_positive = np.asarray(is_positive, bool)
    scores = np.asarray(scores, np.float64)
    thresholds = np.concatenate([[np.inf], np.unique(scores)[::-1]])
    positives, negatives = is_positive.sum(), (~is_positive).sum()
    tpr = np.array([ratio((scores[is_positive] >= t).sum(), positives) for t in thresholds])
    fpr = np.array([ratio((scores[~is_positive] >= t).sum(), negatives) for t in thresholds])
    return fpr, tpr, thresholds


def choose_threshold(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """THRESHOLD_RULE, over the distinct scores (each a candidate threshold)."""
    fpr, tpr, thresholds = roc_curve(is_positive, scores)
    finite = np.isfinite(thresholds)
    youden = (tpr - fpr)[finite]
    candidates = thresholds[finite]
    best = np.flatnonzero(np.isclose(youden, youden.max()))
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])
