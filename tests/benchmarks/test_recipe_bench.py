"""`cataract bench recipe`: the seeds it takes, and the fixed held-out fold of a folder
without test/ (one seed end to end: tests/train_jax/training/test_demo_recipe.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks.recipe import RecipeBenchConfig, held_out_layout, parse_seeds
from train_jax.data.scan import discover
from train_jax.errors import UserError


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
