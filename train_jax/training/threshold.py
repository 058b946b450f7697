"""The decision threshold: chosen once, on the validation photos, at the operating point a
clinic chooses (when training finishes, and again by `cataract operating-point RUN`).

Scores are P(cataract); a photo is called cataract when its score >= threshold. The
operating point is Youden's J, or a target the validation photos must reach:
`sensitivity=S` (the highest threshold at which at least S of the cataract photos are
called cataract, so specificity is as high as it can be there) or `specificity=S`
(likewise). A screening aid must not miss cases: the default is sensitivity=0.90.

What it achieved on validation is kept beside the threshold (RUN/threshold.json), with
95% Wilson score intervals: unlike a bootstrap, they stay informative at 0 or 1 (9 of 9
cataract photos found: sensitivity at least 0.70), where a small validation split often
lands. A target the validation photos do not reach is a warning, never rounded away.

The ROC curve lives here because the rules are defined on it, and the area under it
because training's verdict (training/verdict.py) and evaluation both measure by it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

import numpy as np

from train_jax.errors import UserError

log = logging.getLogger(__name__)

YOUDEN, SENSITIVITY, SPECIFICITY = "youden", "sensitivity", "specificity"
DEFAULT_OPERATING_POINT = "sensitivity=0.90"
OPERATING_POINT_HELP = (
    "the operating point the decision threshold is chosen at on the validation photos: youden (Youden's J), "
    "sensitivity=S (the highest threshold whose validation sensitivity is at least S, so specificity is as high "
    "as it can be) or specificity=S (the lowest threshold whose validation specificity is at least S)"
)
YOUDEN_RULE = (
    "Youden's J: the threshold on the validation split that maximises sensitivity + specificity - 1 "
    "(ties: the one closest to 0.5)"
)
INTERVAL_METHOD = "Wilson score interval, 95%"
Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile
# Which class each target counts, and the measure its rule then makes as high as it can.
COUNTED = {SENSITIVITY: "cataract", SPECIFICITY: "normal"}
OTHER = {SENSITIVITY: SPECIFICITY, SPECIFICITY: SENSITIVITY}


@dataclasses.dataclass(frozen=True)
class OperatingPoint:
    """Youden's J (target None), or the validation sensitivity or specificity to reach."""

    measure: str
    target: float | None = None

    @classmethod
    def parse(cls, text: str) -> OperatingPoint:
        """From `youden`, `sensitivity=S` or `specificity=S` (0 < S <= 1); a UserError otherwise."""
        spelled = text.strip().lower().replace(" ", "")
        if spelled == YOUDEN:
            return cls(YOUDEN)
        measure, _, level = spelled.partition("=")
        try:
            target = float(level)
        except ValueError:
            target = math.nan
        if measure not in COUNTED or not 0 < target <= 1:  # also refuses nan and inf
            raise UserError(f"--operating-point must be youden, sensitivity=S or specificity=S with 0 < S <= 1, "
                            f"got {text!r}")
        return cls(measure, target)

    @property
    def level(self) -> str:
        """The target as written back: two decimals, or every digit it was given with."""
        shown = f"{self.target:.2f}"
        return shown if float(shown) == self.target else repr(self.target)

    @property
    def text(self) -> str:
        """The normalised spelling: what RUN/config.json and RUN/threshold.json record."""
        return YOUDEN if self.measure == YOUDEN else f"{self.measure}={self.level}"

    @property
    def rule(self) -> str:
        """The rule in words."""
        if self.measure == YOUDEN:
            return YOUDEN_RULE
        extreme = "highest" if self.measure == SENSITIVITY else "lowest"
        return (f"{self.text}: the {extreme} threshold on the validation split whose {self.measure} is at least "
                f"{self.level}, so {OTHER[self.measure]} is as high as it can be there (a target the validation "
                f"photos do not reach: the threshold nearest it, with a warning)")


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


def choose_threshold(is_positive: np.ndarray, scores: np.ndarray, point: OperatingPoint) -> float:
    """`point`'s rule over the distinct scores (each a candidate threshold; tied scores
    fall on the same side of every one)."""
    fpr, tpr, thresholds = roc_curve(is_positive, scores)
    finite = np.isfinite(thresholds)
    fpr, tpr, candidates = fpr[finite], tpr[finite], thresholds[finite]
    if point.measure == YOUDEN:
        youden = tpr - fpr
        best = np.flatnonzero(np.isclose(youden, youden.max()))
        return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])
    # Along the descending candidates sensitivity rises and specificity falls, so the first
    # candidate reaching a sensitivity (the last reaching a specificity) is the best for the
    # other measure. A ratio k/n equal to the target compares equal: both are correctly rounded.
    values = tpr if point.measure == SENSITIVITY else 1 - fpr
    reaching = values >= point.target
    if not reaching.any():  # the target is out of reach: the candidates nearest it
        reaching = values == values.max()
    indices = np.flatnonzero(reaching)
    return float(candidates[indices[0] if point.measure == SENSITIVITY else indices[-1]])


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion; (0, 1) when there were no trials."""
    if not trials:
        return 0.0, 1.0
    share, spread = successes / trials, Z_95**2 / trials
    centre = (share + spread / 2) / (1 + spread)
    half = Z_95 * math.sqrt(share * (1 - share) / trials + spread / (4 * trials)) / (1 + spread)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclasses.dataclass(frozen=True)
class Achieved:
    """What a threshold achieves on the validation photos, counted."""

    true_positive: int
    cataract: int  # photos
    true_negative: int
    normal: int

    @classmethod
    def at(cls, is_positive: np.ndarray, scores: np.ndarray, threshold: float) -> Achieved:
        is_positive = np.asarray(is_positive, bool)
        called = np.asarray(scores, np.float64) >= threshold
        return cls(int((called & is_positive).sum()), int(is_positive.sum()),
                   int((~called & ~is_positive).sum()), int((~is_positive).sum()))

    def share(self, measure: str) -> float:
        return ratio(*self.counts(measure))

    def counts(self, measure: str) -> tuple[int, int]:
        """(photos called right, photos) of the class `measure` counts."""
        return (self.true_positive, self.cataract) if measure == SENSITIVITY else (self.true_negative, self.normal)

    def to_record(self) -> dict[str, Any]:
        """RUN/threshold.json's "achieved"."""
        record: dict[str, Any] = {}
        for measure in (SENSITIVITY, SPECIFICITY):
            record[measure] = self.share(measure)
            record[f"{measure}_95"] = list(wilson_interval(*self.counts(measure)))
        return {**record, "interval": INTERVAL_METHOD, "true_positive": self.true_positive,
                "cataract_photos": self.cataract, "true_negative": self.true_negative, "normal_photos": self.normal}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Achieved:
        return cls(record["true_positive"], record["cataract_photos"], record["true_negative"], record["normal_photos"])

    def warning(self, point: OperatingPoint) -> str | None:
        """A plain sentence when `point`'s target is not reached (by the point estimate)."""
        if point.measure == YOUDEN or self.share(point.measure) >= point.target:
            return None
        right, photos = self.counts(point.measure)
        return (f"the validation photos do not reach {point.measure} {point.level}: the best threshold reaches "
                f"{shown_below(self.share(point.measure), point.target)} ({right} of {photos} "
                f"{COUNTED[point.measure]} photos)")


def shown_below(share: float, target: float) -> str:
    """`share` (< target) written with the fewest digits, three at least, that still show it
    below the target: 98 of 99 is 0.9899 against 0.99, never a rounded 0.990."""
    for digits in range(3, 17):
        shown = f"{share:.{digits}f}"
        if float(shown) < target:
            return shown
    return repr(share)


def threshold_record(point: OperatingPoint, is_positive: np.ndarray, scores: np.ndarray,
                     best_epoch: int) -> dict[str, Any]:
    """RUN/threshold.json: the threshold `point` chooses on the validation scores, its rule,
    what it achieves there and the warning (None) when the target is out of reach."""
    threshold = choose_threshold(is_positive, scores, point)
    achieved = Achieved.at(is_positive, scores, threshold)
    return {"decision_threshold": threshold, "rule": point.rule, "best_epoch": best_epoch,
            "validation_photos": len(scores), "operating_point": point.text, "achieved": achieved.to_record(),
            "warning": achieved.warning(point)}


def with_achieved(record: dict[str, Any], is_positive: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """A RUN/threshold.json record with what its threshold achieves on the validation
    scores: a file written before operating points were chosen has Youden's J and no figures."""
    if "achieved" in record:
        return record
    achieved = Achieved.at(is_positive, scores, record["decision_threshold"])
    return {"operating_point": YOUDEN, "warning": None, **record, "achieved": achieved.to_record()}


def describe(record: dict[str, Any]) -> str:
    """One line: the threshold, its operating point and what it achieves on validation."""
    achieved = Achieved.from_record(record["achieved"])
    figures = []
    for measure in (SENSITIVITY, SPECIFICITY):
        low, high = record["achieved"][f"{measure}_95"]
        right, photos = achieved.counts(measure)
        figures.append(f"{measure} {achieved.share(measure):.3f} [{low:.3f}, {high:.3f}] ({right} of {photos})")
    return (f"threshold {record['decision_threshold']:.3f} ({record['operating_point']}): validation "
            + ", ".join(figures) + " (95% Wilson intervals)")


def log_threshold(record: dict[str, Any]) -> None:
    """The threshold chosen, and its warning where the target is out of reach."""
    log.info("decision %s", describe(record))
    if record["warning"]:
        log.warning("operating point %s: %s", record["operating_point"], record["warning"])
