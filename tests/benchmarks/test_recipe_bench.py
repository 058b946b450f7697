"""`cataract bench recipe`: one seed end to end on a tiny network, its figures consistent
with each other; the seeds it takes; and the fixed held-out fold of a folder without test/."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks.recipe import RecipeBenchConfig, held_out_layout, parse_seeds, run_recipe_benchmark
from train_jax.data.scan import discover
from train_jax.errors import UserError


@pytest.mark.slow
def test_one_seed_of_the_demo_recipe_reports_consistent_figures(tmp_path, capsys):
    kept = tmp_path / "kept"
    report = run_recipe_benchmark(RecipeBenchConfig("demo", seeds="3", n=96, keep=str(kept)), image_size=32, epochs=1)

    (result,) = report["seeds"]
    auc, (low, high) = result["held_out_auc"], result["held_out_auc_interval"]
    assert result["seed"] == 3 and result["held_out_photos"] == len(list((kept / "photos-3" / "test").rglob("*.jpg")))
    assert 0.0 <= low <= auc <= high <= 1.0 and 0.0 <= result["validation_auc"] <= 1.0
    assert 0.0 <= result["held_out_accuracy"] <= 1.0
    assert result["epochs"] == 2 and result["seconds"] > 0  # one head epoch, one fine-tuning epoch
    assert report["held_out_auc"] == {"mean": auc, "spread": 0.0, "min": auc}
    assert report["all_reached"] == (auc >= 0.9)
    assert report["settings"]["image_size"] == 32 and report["settings"]["width"] == 0.125
    assert (kept / "run-3" / "metrics.json").is_file()  # --keep keeps the run

    lines = capsys.readouterr().out.splitlines()
    seed_lines = [line for line in lines if line.split() and line.split()[0] == "3"]
    assert len(seed_lines) == 1 and f"{auc:.3f} [{low:.3f}, {high:.3f}]" in seed_lines[0]
    assert f"mean {auc:.3f}, spread 0.000" in lines[-1] and lines[-1].endswith("yes" if auc >= 0.9 else "missed: seed 3)")


def test_seeds_are_a_range_or_a_list():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,2,5") == [0, 2, 5]
    assert RecipeBenchConfig("photos-cpu", seeds="7").seed_list == [7]
    for bad in ("", "4-0", "0-x", "1,1", "0-2-4"):
        with pytest.raises(UserError, match="--seeds"):
            RecipeBenchConfig("demo", seeds=bad)


def test_an_unknown_recipe_is_refused():
    with pytest.raises(UserError, match="demo"):
        RecipeBenchConfig("nope")


def test_the_held_out_fold_is_fixed_grouped_and_apart_from_training(synthetic_photos, tmp_path):
    assert held_out_layout(synthetic_photos, tmp_path / "unused") == synthetic_photos  # it has test/: used as is
    flat = synthetic_photos / "train"  # class folders, no test/
    every_photo = {record.path for record in discover(flat)["train"]}

    folds = []
    for attempt in ("a", "b"):
        layout = discover(held_out_layout(flat, tmp_path / attempt))
        folds.append([{(record.label, str(Path(record.path).resolve())) for record in layout[split]}
                      for split in ("train", "test")])
    (train, test), again = folds[0], folds[1]
    assert again == [train, test]  # the same fold every time
    assert not {path for _, path in train} & {path for _, path in test}
    assert {path for _, path in train | test} == {str(Path(path).resolve()) for path in every_photo}
    assert {label for label, _ in test} == {0, 1}
    assert math.isclose(len(test) / len(every_photo), 0.2, abs_tol=0.05)
