"""Whether a run learned: the verdict training gives when it ends, and the collapse it
watches for on the way (pure numpy).

A run learned when its best epoch's validation ROC AUC is shown to beat chance: the 95%
percentile-bootstrap interval of that AUC (the validation photos resampled with
replacement) lies above 0.5. A run whose interval reaches 0.5 "did not learn", and
`cataract export` refuses it unless told to export it anyway. The verdict is kept in
RUN/metrics.json under "verdict" (RUN/config.json keeps only settings, since --resume
reads it); `cataract evaluate` adds its figures beside it. A run whose metrics.json or
verdict is lost (or that was trained before runs were judged) is judged again from its
stored validation scores, which give the same verdict.

The bootstrap lives here because the verdict is defined by it; evaluation's intervals
use the same one.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from cataract_contract import CATARACT
from train_jax.training.config import read_json, write_json
from train_jax.training.threshold import roc_auc

if TYPE_CHECKING:
    from train_jax.training.run_folder import RunPaths  # JAX and Orbax: only its type is needed

log = logging.getLogger(__name__)

CHANCE = 0.5
RESAMPLES = 2000
VERDICT_RULE = "learned when the 95% percentile-bootstrap interval of the validation ROC AUC lies above 0.5 (chance)"
VERDICT_KEY = "verdict"  # in RUN/metrics.json
# Why a run has no verdict: nothing left to judge it by (export refuses it).
UNJUDGED = "neither a verdict in RUN/metrics.json nor the validation scores (RUN/val_predictions.csv) to judge it by"
# What evaluate and the report say of a run whose metrics.json holds no verdict.
NOT_STORED = ("none in RUN/metrics.json (trained before runs were judged, or the file was lost): export judges the "
              "run again from its validation scores")

# A model whose P(cataract) spans less than this over the validation photos answers one
# value for every photo: it has collapsed (its loss sits at ln 2).
COLLAPSED_SPREAD = 1e-3
# A validation ROC AUC this close to 0.5, for COLLAPSE_EPOCHS epochs in a row, is reported.
NEAR_CHANCE = 0.05
COLLAPSE_EPOCHS = 3


def percentile_bootstrap(is_positive: np.ndarray, scores: np.ndarray,
                         statistics: Callable[[np.ndarray, np.ndarray], dict[str, float]],
                         resamples: int = 1000, seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% percentile-bootstrap intervals of each figure `statistics` computes from
    (is_positive, scores), the photos resampled with replacement. Resamples holding one
    class only are skipped: AUC, sensitivity and specificity need both."""
    is_positive = np.asarray(is_positive, bool)
    scores = np.asarray(scores, np.float64)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(resamples):
        pick = rng.integers(0, len(scores), len(scores))
        if is_positive[pick].all() or not is_positive[pick].any():
            continue
        for name, value in statistics(is_positive[pick], scores[pick]).items():
            samples.setdefault(name, []).append(value)
    return {name: (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))) for name, values in samples.items()}


@dataclasses.dataclass(frozen=True)
class Verdict:
    learned: bool
    roc_auc: float  # the best epoch's, on the validation photos
    roc_auc_interval: tuple[float, float]  # 95% percentile bootstrap
    validation_count: int

    @property
    def figures(self) -> str:
        low, high = self.roc_auc_interval
        return f"validation ROC AUC {self.roc_auc:.3f} [{low:.3f}, {high:.3f}]"

    @property
    def reason(self) -> str:
        """Why the run did not learn, in a few words."""
        if math.isnan(self.roc_auc_interval[1]):
            return "too few validation photos of each class to measure it"
        if self.roc_auc_interval[1] < CHANCE:
            return "its 95% interval lies below 0.5: worse than chance"
        return "its 95% interval reaches 0.5"

    @property
    def text(self) -> str:
        return f"learned: {self.figures}" if self.learned else f"did not learn: {self.figures} ({self.reason})"

    def to_record(self) -> dict[str, Any]:
        return {"learned": self.learned, "validation_roc_auc": self.roc_auc,
                "validation_roc_auc_interval_95": list(self.roc_auc_interval),
                "validation_count": self.validation_count, "rule": VERDICT_RULE, "text": self.text}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Verdict:
        low, high = record["validation_roc_auc_interval_95"]
        return cls(bool(record["learned"]), float(record["validation_roc_auc"]), (float(low), float(high)),
                   int(record["validation_count"]))


def judge(is_positive: np.ndarray, scores: np.ndarray, seed: int = 0) -> Verdict:
    """The verdict on validation scores (P(cataract)), by VERDICT_RULE; the same scores
    always get the same verdict."""
    is_positive = np.asarray(is_positive, bool)
    intervals = percentile_bootstrap(is_positive, scores, lambda positive, resampled: {"roc_auc": roc_auc(positive, resampled)},
                                     RESAMPLES, seed)
    low, high = intervals.get("roc_auc", (math.nan, math.nan))
    return Verdict(learned=bool(low > CHANCE), roc_auc=roc_auc(is_positive, scores), roc_auc_interval=(low, high),
                   validation_count=len(is_positive))


def write_verdict(paths: RunPaths, verdict: Verdict) -> None:
    """Into RUN/metrics.json, beside whatever else it holds."""
    record = read_json(paths.evaluation) if paths.evaluation.is_file() else {}
    write_json(paths.evaluation, {**record, VERDICT_KEY: verdict.to_record()})


def stored_verdict(paths: RunPaths) -> Verdict | None:
    """The verdict training wrote into RUN/metrics.json, the last thing it writes; None
    when it is not there (the run did not finish, or the file was lost)."""
    record = read_json(paths.evaluation).get(VERDICT_KEY) if paths.evaluation.is_file() else None
    return None if record is None else Verdict.from_record(record)


def read_verdict(paths: RunPaths) -> Verdict | None:
    """The run's verdict, as training wrote it; where RUN/metrics.json or its verdict is
    missing, judged again from the stored validation scores (the ones training judged);
    None only when those are missing too."""
    verdict = stored_verdict(paths)
    if verdict is not None:
        return verdict
    if not paths.validation_predictions.is_file():
        return None
    from train_jax.training.run_folder import read_predictions  # JAX and Orbax: only here

    _, labels, scores = read_predictions(paths.validation_predictions)
    verdict = judge(np.array(labels) == CATARACT, np.array(scores))
    log.warning("%s holds no verdict: judged again from %s: %s", paths.evaluation, paths.validation_predictions,
                verdict.text)
    return verdict


# -- during training --------------------------------------------------------------------------


def collapsed(scores: np.ndarray) -> bool:
    """Whether the model answers (nearly) one P(cataract) for every validation photo."""
    scores = np.asarray(scores, np.float64)
    return bool(np.ptp(scores) < COLLAPSED_SPREAD)


@dataclasses.dataclass(frozen=True)
class CollapseWatch:
    """Whether the model has stopped telling photos apart, epoch by epoch: its outputs
    constant, or its validation ROC AUC within NEAR_CHANCE of 0.5 for COLLAPSE_EPOCHS
    epochs in a row. A pure update, as EarlyStopping's: one epoch's figures give the next
    watch and the line to log (None when there is nothing to say)."""

    epochs: int = COLLAPSE_EPOCHS
    collapsed_since: int | None = None  # the first epoch of the current run of constant outputs
    near_chance_since: int | None = None  # the first epoch of the current run near chance

    def update(self, epoch: int, auc: float, scores: np.ndarray) -> tuple[CollapseWatch, str | None]:
        """After `epoch`, whose validation ROC AUC is `auc` on validation `scores` (P(cataract))."""
        constant = collapsed(scores)
        near_chance = constant or not abs(auc - CHANCE) >= NEAR_CHANCE  # an undefined AUC is no sign of learning
        watch = dataclasses.replace(
            self,
            collapsed_since=(epoch if self.collapsed_since is None else self.collapsed_since) if constant else None,
            near_chance_since=(epoch if self.near_chance_since is None else self.near_chance_since) if near_chance else None,
        )
        if watch.collapsed_since is not None:
            spread = float(np.ptp(np.asarray(scores, np.float64)))
            return watch, (f"the model's outputs are constant (collapsed) since epoch {watch.collapsed_since}: "
                           f"P(cataract) spans {spread:.1e} over the {len(scores)} validation photos")
        if watch.near_chance_since is not None and epoch - watch.near_chance_since + 1 >= self.epochs:
            return watch, (f"validation ROC AUC near chance since epoch {watch.near_chance_since} "
                           f"(within {NEAR_CHANCE} of 0.5; {auc:.3f} now): the model is not learning")
        if self.reported(epoch - 1) and not near_chance:
            return watch, f"the model tells photos apart again: validation ROC AUC {auc:.3f}"
        return watch, None

    def reported(self, epoch: int) -> bool:
        """Whether this watch, as it stood after `epoch`, had a warning logged for it."""
        return self.collapsed_since is not None or (
            self.near_chance_since is not None and epoch - self.near_chance_since + 1 >= self.epochs)
