"""Training's verdict (did the run learn?) and its collapse watch: pure, no training."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from train_jax.training.run_folder import RunPaths
from train_jax.training.threshold import roc_auc
from train_jax.training.verdict import (
    COLLAPSE_EPOCHS,
    CollapseWatch,
    Verdict,
    collapsed,
    judge,
    percentile_bootstrap,
    read_verdict,
    write_verdict,
)


def random_case(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores that have nothing to do with each other."""
    rng = np.random.default_rng(seed)
    return rng.random(count) < 0.5, rng.random(count)


def test_auc_from_ranks_is_the_pairwise_count_with_ties_as_half():
    rng = np.random.default_rng(3)
    positive = rng.random(200) < 0.4
    scores = np.round(rng.random(200), 1)  # many ties
    greater = (scores[positive][:, None] > scores[~positive][None, :]).sum()
    ties = (scores[positive][:, None] == scores[~positive][None, :]).sum()
    assert roc_auc(positive, scores) == pytest.approx((greater + 0.5 * ties) / (positive.sum() * (~positive).sum()))


def test_perfect_scores_learned():
    positive = np.array([True] * 20 + [False] * 20)
    verdict = judge(positive, np.where(positive, 0.9, 0.1))
    assert verdict.learned and verdict.roc_auc == 1.0 and verdict.roc_auc_interval == (1.0, 1.0)
    assert verdict.validation_count == 40
    assert verdict.text == "learned: validation ROC AUC 1.000 [1.000, 1.000]"


def test_scores_that_know_nothing_did_not_learn_and_say_their_interval_reaches_chance():
    positive, scores = random_case(60, seed=0)
    verdict = judge(positive, scores)
    low, high = verdict.roc_auc_interval
    assert not verdict.learned
    assert low <= 0.5 <= high and low <= verdict.roc_auc <= high
    assert verdict.text == (f"did not learn: validation ROC AUC {verdict.roc_auc:.3f} [{low:.3f}, {high:.3f}] "
                            "(its 95% interval reaches 0.5)")


def test_scores_that_point_the_wrong_way_did_not_learn_either():
    positive = np.array([True] * 20 + [False] * 20)
    verdict = judge(positive, np.where(positive, 0.1, 0.9))
    assert not verdict.learned and verdict.roc_auc == 0.0
    assert "lies below 0.5" in verdict.text


def test_a_good_but_imperfect_model_learned_with_its_auc_inside_the_interval():
    rng = np.random.default_rng(1)
    positive = np.arange(80) < 40
    scores = np.clip(np.where(positive, 0.65, 0.35) + rng.normal(0, 0.15, 80), 0, 1)
    verdict = judge(positive, scores)
    low, high = verdict.roc_auc_interval
    assert verdict.learned and 0.5 < low <= verdict.roc_auc <= high < 1.0


def test_the_verdict_is_deterministic_and_quick():
    positive, scores = random_case(1000, seed=2)
    started = time.perf_counter()
    first = judge(positive, scores)
    assert time.perf_counter() - started < 5  # 2000 resamples of 1000 photos
    assert judge(positive, scores) == first
    assert judge(positive, scores, seed=1) != first  # the seed is what makes it repeat


def test_the_bootstrap_skips_resamples_of_one_class():
    positive = np.array([True, False, False, False])
    seen = []
    intervals = percentile_bootstrap(positive, np.array([0.9, 0.1, 0.2, 0.3]),
                                     lambda resampled, _: seen.append(resampled.mean()) or {"share": resampled.mean()})
    assert all(0 < share < 1 for share in seen) and len(seen) < 1000
    assert set(intervals) == {"share"}


def test_the_verdict_is_kept_in_metrics_json_beside_what_else_is_there(tmp_path):
    paths = RunPaths(tmp_path)
    assert read_verdict(paths) is None  # neither a verdict nor the scores to judge it by
    paths.evaluation.write_text(json.dumps({"threshold": 0.4}))
    assert read_verdict(paths) is None
    verdict = Verdict(False, 0.52, (0.41, 0.63), 30)
    write_verdict(paths, verdict)
    written = json.loads(paths.evaluation.read_text())
    assert written["threshold"] == 0.4
    assert written["verdict"]["learned"] is False and written["verdict"]["validation_roc_auc_interval_95"] == [0.41, 0.63]
    assert read_verdict(paths) == verdict


def test_collapsed_means_one_answer_for_every_photo():
    assert collapsed(np.full(20, 0.5))
    assert collapsed(0.5 + np.linspace(0, 5e-4, 20))
    assert not collapsed(np.linspace(0.3, 0.7, 20))


def test_the_watch_reports_constant_outputs_since_their_first_epoch_and_their_end():
    constant, varied = np.full(16, 0.5), np.linspace(0.1, 0.9, 16)
    watch, messages = CollapseWatch(), []
    for epoch, (auc, scores) in enumerate([(0.8, varied), (0.5, constant), (0.5, constant), (0.9, varied)], start=1):
        watch, message = watch.update(epoch, auc, scores)
        messages.append(message)
    assert messages[0] is None
    assert messages[1] == messages[2] == ("the model's outputs are constant (collapsed) since epoch 2: P(cataract) "
                                          "spans 0.0e+00 over the 16 validation photos")
    assert messages[3] == "the model tells photos apart again: validation ROC AUC 0.900"
    assert watch == CollapseWatch()


def test_the_watch_reports_an_auc_near_chance_only_after_several_epochs():
    varied = np.linspace(0.1, 0.9, 16)
    watch, messages = CollapseWatch(), []
    aucs = [0.52, 0.47, float("nan"), 0.51, 0.7, 0.52]
    for epoch, auc in enumerate(aucs, start=1):
        watch, message = watch.update(epoch, auc, varied)
        messages.append(message)
    assert messages[: COLLAPSE_EPOCHS - 1] == [None] * (COLLAPSE_EPOCHS - 1)
    assert messages[2].startswith("validation ROC AUC near chance since epoch 1 (within 0.05 of 0.5; nan now)")
    assert messages[3].startswith("validation ROC AUC near chance since epoch 1")
    assert messages[4] == "the model tells photos apart again: validation ROC AUC 0.700"
    assert messages[5] is None  # one epoch near chance is no news
