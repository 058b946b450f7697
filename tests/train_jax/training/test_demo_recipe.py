"""The demo recipe learns: one seed of `cataract bench recipe demo` (issue 21's 5-seed
check), the real recipe on 400 synthetic photos, scored on their held-out test/ photos."""

from __future__ import annotations

import pytest

from benchmarks.recipe import RecipeBenchConfig, run_recipe_benchmark


@pytest.mark.slow
def test_the_demo_recipe_learns_seed_0(tmp_path):
    report = run_recipe_benchmark(RecipeBenchConfig(recipe="demo", seeds="0", n=400, keep=str(tmp_path / "bench")))
    [seed] = report["seeds"]
    assert seed["held_out_auc"] >= 0.9 and report["all_reached"], seed
    assert seed["held_out_photos"] == 80
