"""The demo recipe learns: one seed of `cataract bench recipe demo` (issue 21's 5-seed
check), the real recipe on 400 synthetic photos, scored on their held-out test/ photos;
the figures the benchmark prints and reports agree with each other and with the run it
kept, whose report draws its curves."""

from __future__ import annotations

import json

import pytest

from benchmarks.recipe import RecipeBenchConfig, run_recipe_benchmark
from tests.helpers import colours, epoch_lines


@pytest.mark.slow
def test_the_demo_recipe_learns_seed_0_and_the_benchmark_reports_it_consistently(tmp_path, capsys):
    kept = tmp_path / "bench"
    report = run_recipe_benchmark(RecipeBenchConfig(recipe="demo", seeds="0", n=400, keep=str(kept)))
    [seed] = report["seeds"]
    assert seed["held_out_auc"] >= 0.9 and report["all_reached"], seed
    assert seed["held_out_photos"] == 80 == len(list((kept / "photos-0" / "test").rglob("*.jpg")))

    auc, (low, high) = seed["held_out_auc"], seed["held_out_auc_interval"]
    assert 0.0 <= low <= auc <= high <= 1.0 and 0.0 <= seed["validation_auc"] <= 1.0
    assert 0.0 <= seed["held_out_accuracy"] <= 1.0 and seed["seconds"] > 0
    assert report["held_out_auc"] == {"mean": auc, "spread": 0.0, "min": auc}
    assert report["settings"]["image_size"] == 64 and report["settings"]["width"] == 0.125
    lines = capsys.readouterr().out.splitlines()
    seed_lines = [line for line in lines if line.split() and line.split()[0] == "0"]
    assert len(seed_lines) == 1 and f"{auc:.3f} [{low:.3f}, {high:.3f}]" in seed_lines[0]
    assert f"mean {auc:.3f}, spread 0.000" in lines[-1] and lines[-1].endswith("yes")

    # The run it kept (--keep): its epochs, its best validation accuracy, and its report.
    run = kept / "run-0"
    epochs = epoch_lines(run)
    assert seed["epochs"] == len(epochs)
    assert min(epochs, key=lambda line: line["val_loss"])["val_accuracy"] >= 0.8, epochs
    assert json.loads((run / "metrics.json").read_text())["test_at_threshold"]["count"] == 80
    # The ROC plot draws the test and the validation curves (matplotlib's first two colours);
    # the confusion matrix's largest count fills its cell with the darkest blue.
    assert {(31, 119, 180), (255, 127, 14)} <= colours(run / "roc_curve.png", (500, 500))
    assert (8, 48, 107) in colours(run / "confusion_matrix.png", (400, 400))
