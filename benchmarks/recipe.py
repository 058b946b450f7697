"""`cataract bench recipe NAME`: does a training recipe learn, seed after seed?

For each seed S the recipe trains with --seed S and is scored on photos that no choice
saw (neither early stopping nor the threshold, both made on the validation split):
    synthetic (default)  `cataract synth --n N --seed S`, scored on that set's test/ photos;
    --data DIR           the real photos, scored on DIR/test when there is one, else on a
                         fixed fold of DIR carved once, grouped so that copies of one photo
                         sit on one side (train_jax/data/split.py), the same for every seed.
Prints one line per seed (validation AUC, held-out AUC with its 95% bootstrap interval,
accuracy at the run's threshold, epochs run, training wall time), then the held-out AUC's
mean, spread (best minus worst) and minimum, and whether every seed reached --min-auc.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from cataract_contract import CLASS_NAMES
from train_jax.errors import UserError
from train_jax.recipes import RECIPES, recipe_settings
from train_jax.settings import check_settings, setting

# The fixed held-out fold of a folder without test/: its share of the photos, and the
# seed that draws it (apart from the training seeds, so no seed's split is the fold's).
HELD_OUT_FRACTION = 0.2
HELD_OUT_SEED = 1_000_003


@dataclasses.dataclass(frozen=True)
class RecipeBenchConfig:
    recipe: str = setting(help="the recipe to measure", positional=True, choices=tuple(RECIPES))
    seeds: str = setting("0-4", "training seeds (and synthetic sets): a range 0-4 or a list 0,2,5")
    n: int = setting(400, "synthetic photos per seed (cataract synth --n)", minimum=8)
    data: str | None = setting(None, "real photos instead of synthetic ones: scored on DATA/test, else on a fixed "
                                     "grouped fold of DATA that training never sees")
    keep: str | None = setting(None, "keep the photos and runs in this new folder (default: a temporary one)")
    min_auc: float = setting(0.9, "held-out ROC AUC every seed must reach", minimum=0.0, maximum=1.0)

    def __post_init__(self):
        check_settings(self)
        parse_seeds(self.seeds)  # a malformed --seeds is an error now, not after the first run

    @property
    def seed_list(self) -> list[int]:
        return parse_seeds(self.seeds)


def parse_seeds(text: str) -> list[int]:
    """The seeds --seeds names: "0-4" is 0, 1, 2, 3, 4; "0,2,5" those three."""
    compact = text.replace(" ", "")
    try:
        if "-" in compact:
            first, last = (int(part) for part in compact.split("-"))
            seeds = list(range(first, last + 1))
        else:
            seeds = [int(part) for part in compact.split(",")]
    except ValueError:
        seeds = []
    if not seeds or len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds takes a range such as 0-4 or a list such as 0,2,5, got {text!r}")
    return seeds


@dataclasses.dataclass(frozen=True)
class SeedResult:
    seed: int
    validation_auc: float
    held_out_auc: float
    held_out_auc_interval: tuple[float, float]  # 95% bootstrap
    held_out_accuracy: float  # at the threshold the run chose on validation
    held_out_photos: int
    epochs: int
    seconds: float  # training wall time: scan, compilation and checkpoints included

    def reached(self, min_auc: float) -> bool:
        return self.held_out_auc >= min_auc


def run_recipe_benchmark(config: RecipeBenchConfig, **train_overrides: Any) -> dict:
    """Train and score the recipe once per seed; `train_overrides` are TrainConfig fields
    set over the recipe's (tests shrink the network and the epochs with them). The report's
    "all_reached" is False when a seed's held-out AUC missed --min-auc."""
    # Imported here: JAX and the data pipeline load only when the benchmark runs, not when
    # the command line is built.
    from train_jax.data.synth import generate
    from train_jax.evaluation.evaluate import evaluate
    from train_jax.training.config import TrainConfig
    from train_jax.training.trainer import train

    settings = {**recipe_settings(config.recipe), **train_overrides}
    seeds = config.seed_list
    if config.keep and Path(config.keep).exists() and any(Path(config.keep).iterdir()):
        raise UserError(f"--keep {config.keep} exists and is not empty: choose a new folder")
    kept = contextlib.nullcontext(config.keep) if config.keep else tempfile.TemporaryDirectory(prefix="cataract-bench-recipe-")
    with kept as where:
        folder = Path(where)
        real = held_out_layout(Path(config.data), folder / "photos") if config.data else None
        print(header(config, real), flush=True)
        print(COLUMNS, flush=True)
        results = []
        for seed in seeds:
            data = real or folder / f"photos-{seed}"
            if real is None:
                generate(data, config.n, seed=seed)
            run = folder / f"run-{seed}"
            started = time.perf_counter()
            train(TrainConfig(data=str(data), out=str(run), seed=seed, recipe=config.recipe, **settings))
            seconds = time.perf_counter() - started
            results.append(seed_result(seed, evaluate(run, data), run, seconds))
            print(seed_line(results[-1]), flush=True)
    report = summarize(config, settings, results)
    print(summary_line(report), flush=True)
    return report


def held_out_layout(data: Path, out: Path) -> Path:
    """DATA itself when it has a test/ split; else OUT/train and OUT/test, links to the
    photos of DATA's training split on either side of a fixed fold grouped by copies."""
    from train_jax.data import scan as photos
    from train_jax.data.split import split_train_validation

    splits = photos.discover(data)
    if "test" in splits:
        return data
    scanned, _ = photos.scan(splits["train"], "reading the photos to carve the held-out fold")
    train_images, held_out = split_train_validation(scanned, HELD_OUT_FRACTION, HELD_OUT_SEED)
    for split, images in (("train", train_images), ("test", held_out)):
        for index, image in enumerate(images):
            # Numbered: photos from different subfolders may share a name.
            link = out / split / CLASS_NAMES[image.record.label] / f"{index:05d}-{Path(image.record.path).name}"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.abspath(image.record.path))
    return out


def seed_result(seed: int, evaluation: dict, run: Path, seconds: float) -> SeedResult:
    """One seed's figures from its evaluation report and its run folder."""
    held_out = evaluation["test_at_threshold"]
    # No interval when no resample held both classes (a tiny held-out set).
    low, high = evaluation["test_confidence_intervals_95"].get("roc_auc", (math.nan, math.nan))
    epochs = sum(1 for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip())
    return SeedResult(seed, evaluation["validation_at_threshold"]["roc_auc"], held_out["roc_auc"], (low, high),
                      held_out["accuracy"], held_out["count"], epochs, seconds)


def summarize(config: RecipeBenchConfig, settings: dict, results: list[SeedResult]) -> dict:
    aucs = [result.held_out_auc for result in results]
    return {
        "recipe": config.recipe, "settings": settings, "data": config.data,
        "synthetic_photos": None if config.data else config.n,
        "seeds": [dataclasses.asdict(result) for result in results],
        "held_out_auc": {"mean": sum(aucs) / len(aucs), "spread": max(aucs) - min(aucs), "min": min(aucs)},
        "min_auc": config.min_auc, "all_reached": all(result.reached(config.min_auc) for result in results),
    }


COLUMNS = f"  {'seed':>4s} {'val AUC':>8s} {'held-out AUC [95%]':>24s} {'accuracy':>9s} {'epochs':>7s} {'seconds':>8s}"


def header(config: RecipeBenchConfig, real: Path | None) -> str:
    if real is None:
        photos_used = f"{config.n} synthetic photos per seed (cataract synth --n {config.n} --seed S), held out: their test/"
    elif real == Path(config.data):
        photos_used = f"{config.data}, held out: its test/"
    else:
        photos_used = f"{config.data}, held out: a fixed grouped fold of {HELD_OUT_FRACTION:.0%} ({real / 'test'})"
    return f"recipe benchmark | {config.recipe}, seeds {config.seeds} | {photos_used}"


def seed_line(result: SeedResult) -> str:
    low, high = result.held_out_auc_interval
    return (f"  {result.seed:4d} {result.validation_auc:8.3f} {result.held_out_auc:9.3f} [{low:.3f}, {high:.3f}] "
            f"{result.held_out_accuracy:9.3f} {result.epochs:7d} {result.seconds:8.1f}")


def summary_line(report: dict) -> str:
    auc, count = report["held_out_auc"], len(report["seeds"])
    missed = [result["seed"] for result in report["seeds"] if result["held_out_auc"] < report["min_auc"]]
    verdict = "yes" if report["all_reached"] else f"no (missed: seed {', '.join(map(str, missed))})"
    return (f"  held-out AUC over {count} seeds: mean {auc['mean']:.3f}, spread {auc['spread']:.3f} (best minus worst), "
            f"min {auc['min']:.3f}; every seed >= {report['min_auc']:.2f}: {verdict}")
