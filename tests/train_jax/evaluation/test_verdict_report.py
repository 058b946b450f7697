"""Training's verdict survives `cataract evaluate` in RUN/metrics.json and heads RUN/report.html;
an evaluation on the run's own photos is refused and loses nothing."""

from __future__ import annotations

import json
import shutil

import pytest

from train_jax.evaluation.evaluate import evaluate, summary_lines
from train_jax.evaluation.report import verdict_banner
from train_jax.training.run_folder import RunPaths
from train_jax.training.verdict import Verdict, write_verdict

DID_NOT_LEARN = Verdict(learned=False, roc_auc=0.52, roc_auc_interval=(0.41, 0.63), validation_count=15)
LEARNED = Verdict(learned=True, roc_auc=0.93, roc_auc_interval=(0.88, 0.97), validation_count=15)


def test_the_banner_is_green_for_learned_red_for_did_not_learn_and_grey_without_a_verdict():
    learned = verdict_banner(LEARNED.to_record())
    assert "<b>Learned</b>: validation ROC AUC 0.930 [0.880, 0.970]." in learned and "#1b5e20" in learned
    refused = verdict_banner(DID_NOT_LEARN.to_record())
    assert "<b>Did not learn</b>: validation ROC AUC 0.520 [0.410, 0.630] (its 95% interval reaches 0.5)" in refused
    assert "#b71c1c" in refused and "--allow-unproven" in refused
    assert "<b>No verdict</b>: none in RUN/metrics.json (trained before runs were judged" in verdict_banner(None)


def test_evaluate_keeps_the_verdict_beside_its_figures_and_puts_it_first(tiny_run, synthetic_photos, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    write_verdict(RunPaths(run), DID_NOT_LEARN)
    report = evaluate(run, synthetic_photos / "test")
    written = json.loads((run / "metrics.json").read_text())
    assert written["verdict"]["learned"] is False and written["test_at_threshold"] == report["test_at_threshold"]
    assert summary_lines(report)[0] == f"training's verdict: {DID_NOT_LEARN.text}"
    page = (run / "report.html").read_text()
    assert page.index("Did not learn") < page.index("<h1>Evaluation</h1>")


def test_evaluating_on_the_run_s_own_photos_is_refused_and_keeps_the_honest_figures(tiny_run, synthetic_photos, tmp_path):
    from train_jax.errors import UserError

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    evaluate(run, synthetic_photos / "test")
    written = {name: (run / name).read_bytes() for name in ("metrics.json", "test_predictions.csv", "report.html")}
    with pytest.raises(UserError, match="every one of the .* is a copy of the run's training or validation photos"):
        evaluate(run, synthetic_photos / "train")
    assert {name: (run / name).read_bytes() for name in written} == written
