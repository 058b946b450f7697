"""The decision threshold: chosen once, on the validation photos, when training finishes.

Scores are P(cataract); a photo is called cataract when its score >= threshold. The
ROC curve lives here because the rule (Youden's J) is defined on it, and the area under
it because training's verdict (training/verdict.py) and evaluation both measure by it.
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


def roc_auc(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count
    half), from the scores' ranks (Mann-Whitney U): n log n, so a bootstrap can afford it."""
    is_positive = np.asarray(is_positive, bool)
    positives, negatives = int(is_positive.sum()), int((~is_positive).sum())
    if not positives or not negatives:
        return float("nan")
    _, group, counts = np.unique(np.asarray(scores, np.float64), return_inverse=True, return_counts=True)
    mean_ranks = np.cumsum(counts) - (counts - 1) / 2  # 1-based; tied scores share their mean rank
    positive_rank_sum = mean_ranks[group][is_positive].sum()
    return float((positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def choose_threshold(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """THRESHOLD_RULE, over the distinct scores (each a candidate threshold)."""
    fpr, tpr, thresholds = roc_curve(is_positive, scores)
    finite = np.isfinite(thresholds)
    youden = (tpr - fpr)[finite]
    candidates = thresholds[finite]
    best = np.flatnonzero(np.isclose(youden, youden.max()))
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])
