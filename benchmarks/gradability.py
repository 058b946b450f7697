"""`cataract bench gradability --run RUN`: does the run's gradability gate refuse what it
must, and let the clean eye photos through?

Every picture goes the way a photo goes when served: encoded as a file, decoded with the
contract's decode_image (its decoded height and width are the photo_size the preprocess
model sends), resized with resize_for_model, then judged by the gate in JAX
(train_jax.gradability.measures.gate), the same decision the exported graph makes.
    eye photos    the run's validation photos (RUN/split.json): the false-refusal rate
    seen kinds    the negatives the gate was designed with (benchmarks/negatives/)
    unseen kinds  negatives used in no choice of the gate, reported apart
Prints per kind the photos, the share refused and the reasons; then the goals of issue 20:
>= 90% of non-eye pictures refused (seen kinds and unseen kinds each), <= 5% of clean eye
photos refused, >= 80% of the dark and of the blurred eye photos refused.

With --cost, also the gate's serving cost: the classifier exported as a SavedModel without
the gate and with it, timed in this process at --cost-batch photos a call, the two
interleaved round after round (serving throughput drifts ~10% between runs here, so only
a comparison in the same minutes means anything); goal: the gate adds <= 5%.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.configs import GradabilityBenchConfig
from benchmarks.negatives import BLURRED, DARK, KINDS, NOT_EYE, make_negatives
from cataract_contract import CLASS_NAMES, GateLimits, UngradableReason, decode_image, read_image_bytes, resize_for_model
from train_jax.gradability.fit import refused_by_check
from train_jax.gradability.spec import IMAGE_MEASURES

EYE_PHOTOS = "eye photos"  # the clean validation photos' row and group
SEEN, UNSEEN = "seen kinds", "unseen kinds"
COST_GOAL = 0.05
WARMUP_CALLS = 2


@dataclasses.dataclass(frozen=True)
class Goal:
    name: str
    kinds: tuple[str, ...]  # the rows whose photos it pools
    at_least: float | None = None  # the pooled refusal rate must be >= this, or
    at_most: float | None = None  # <= this

    def met(self, rate: float) -> bool:
        return rate >= self.at_least if self.at_least is not None else rate <= self.at_most

    @property
    def wanted(self) -> str:
        return f">= {self.at_least:.0%}" if self.at_least is not None else f"<= {self.at_most:.0%}"


def goals() -> tuple[Goal, ...]:
    """Issue 20's goals, each over the rows it speaks of."""
    def named(goal: str, seen: bool | None = None) -> tuple[str, ...]:
        return tuple(kind.name for kind in KINDS if kind.goal == goal and (seen is None or kind.seen == seen))

    return (
        Goal("non-eye pictures refused, seen kinds", named(NOT_EYE, seen=True), at_least=0.90),
        Goal("non-eye pictures refused, unseen kinds", named(NOT_EYE, seen=False), at_least=0.90),
        Goal("clean eye photos refused (false refusals)", (EYE_PHOTOS,), at_most=0.05),
        Goal("dark eye photos (3% brightness) refused", named(DARK), at_least=0.80),
        Goal("blurred eye photos refused", named(BLURRED), at_least=0.80),
    )


@dataclasses.dataclass
class PhotoSet:
    """One row: the photos as the classifier sees them and what the gate said."""

    name: str
    group: str
    description: str
    pixels: np.ndarray  # (N, S, S, 3) uint8
    photo_size: np.ndarray  # (N, 2) int32, decoded height and width
    labels: list[str] = dataclasses.field(default_factory=list)  # class of each eye photo, if known

    def __len__(self) -> int:
        return len(self.pixels)


def run_gradability_benchmark(config: GradabilityBenchConfig) -> dict:
    """The gate of config.run on every kind; the report's "all_met" is False when a goal
    (the serving cost's included, with --cost) was missed."""
    # Imported here: JAX and the model load only when the benchmark runs.
    from train_jax.gradability.measures import gate
    from train_jax.gradability.spec import GateSpec
    from train_jax.training.config import read_json
    from train_jax.training.run_folder import load_run, read_threshold

    run = load_run(config.run)
    spec = GateSpec.load(config.run)
    size = run.model_config.image_size
    eye_files = [Path(path) for path in read_json(run.paths.split)["validation"]]
    eye_bytes = [read_image_bytes(path) for path in eye_files]
    print(header(config, size, spec, len(eye_files)), flush=True)

    started = time.perf_counter()
    eye_photos = [decode_image(data) for data in eye_bytes]
    sets = [photo_set(EYE_PHOTOS, EYE_PHOTOS, "the run's validation photos (RUN/split.json), as they are", eye_bytes,
                      size, [path.parent.name for path in eye_files])]
    for kind in KINDS:
        negatives = make_negatives(kind, config.seed, config.per_kind, eye_photos)
        sets.append(photo_set(kind.name, SEEN if kind.seen else UNSEEN, kind.description,
                              [negative.encoded(kind.image_format) for negative in negatives], size))
    drawn_seconds = time.perf_counter() - started

    started = time.perf_counter()
    decided = gate(run.model, spec, np.concatenate([photos.pixels for photos in sets]),
                   np.concatenate([photos.photo_size for photos in sets]))
    gate_seconds = time.perf_counter() - started
    rows, offset = [], 0
    for photos in sets:
        part = {name: np.asarray(values)[offset : offset + len(photos)] for name, values in decided.items()}
        rows.append(row_figures(photos, part, spec.limits))
        offset += len(photos)

    report: dict[str, Any] = {
        "run": str(config.run), "image_size": size, "seed": config.seed, "drawn_per_kind": config.per_kind,
        "limits": dataclasses.asdict(spec.limits), "feature_blocks": list(spec.feature_blocks),
        "kinds": rows, "seconds": {"drawing_and_decoding": drawn_seconds, "gate": gate_seconds},
    }
    print_rows(rows)
    report["goals"] = [goal_figures(goal, rows) for goal in goals()]
    if config.cost:
        threshold = read_threshold(run.paths)["decision_threshold"]
        report["serving_cost"] = serving_cost(run.model, spec, threshold, sets[0], config)
        report["goals"].append(cost_goal(report["serving_cost"]))
    print_goals(report["goals"])
    report["all_met"] = all(goal["met"] for goal in report["goals"])
    return report


def photo_set(name: str, group: str, description: str, encoded: list[bytes], size: int,
              labels: list[str] | None = None) -> PhotoSet:
    """Encoded pictures decoded and resized as a served photo is."""
    decoded = [decode_image(data) for data in encoded]
    pixels = np.stack([resize_for_model(image, size) for image in decoded]) if decoded else np.zeros((0, size, size, 3), np.uint8)
    photo_size = np.array([(image.height, image.width) for image in decoded], np.int32).reshape(-1, 2)
    return PhotoSet(name, group, description, pixels, photo_size, list(labels or []))


def reason_name(code: int) -> str:
    return UngradableReason(int(code)).name.lower().replace("_", " ")


def row_figures(photos: PhotoSet, decided: dict[str, np.ndarray], limits: GateLimits) -> dict[str, Any]:
    """One kind's figures: how many refused, why and by which check, and the measures' medians."""
    refused = ~decided["gradable"].astype(bool)
    reasons = [reason_name(code) for code in decided["reason"][refused]]
    figures = {
        "kind": photos.name, "group": photos.group, "description": photos.description, "photos": len(photos),
        "refused": int(refused.sum()), "refusal_rate": float(refused.mean()) if len(photos) else 0.0,
        "reasons": {reason: reasons.count(reason) for reason in sorted(set(reasons), key=reasons.count, reverse=True)},
        "by_check": refused_by_check(limits, decided, photos.photo_size),
        "median": {name: float(np.median(decided[name])) if len(photos) else None
                   for name in IMAGE_MEASURES},
    }
    if photos.labels:
        figures["refused_by_class"] = {label: f"{int(refused[[item == label for item in photos.labels]].sum())}/"
                                              f"{photos.labels.count(label)}"
                                       for label in CLASS_NAMES if label in photos.labels}
    return figures


def goal_figures(goal: Goal, rows: list[dict]) -> dict[str, Any]:
    pooled = [row for row in rows if row["kind"] in goal.kinds]
    photos = sum(row["photos"] for row in pooled)
    rate = sum(row["refused"] for row in pooled) / photos if photos else 0.0
    return {"goal": goal.name, "kinds": list(goal.kinds), "wanted": goal.wanted, "photos": photos, "value": rate,
            "met": bool(photos) and goal.met(rate)}


def cost_goal(cost: dict) -> dict[str, Any]:
    added = cost["added"]
    return {"goal": "the gate's serving cost (added time per photo)", "kinds": [], "wanted": f"<= {COST_GOAL:.0%}",
            "photos": cost["batch_size"], "value": added, "met": added <= COST_GOAL}


# -- the serving cost --------------------------------------------------------------------------

def serving_cost(model, spec, threshold: float, eye_photos: PhotoSet, config: GradabilityBenchConfig) -> dict:
    """Median seconds per photo of the exported classifier without and with the gate, run
    by the loader the server runs, timed in alternating order round after round."""
    from savedmodel_runner import SavedModelClassifier
    from train_jax.export.savedmodel import save

    batch = config.cost_batch
    chosen = np.arange(batch) % len(eye_photos)  # repeated when there are fewer photos than a batch
    pixels, photo_size = eye_photos.pixels[chosen], eye_photos.photo_size[chosen]
    with tempfile.TemporaryDirectory(prefix="cataract-bench-gradability-") as folder:
        variants = {}
        for name, gate_spec in (("ungated", None), ("gated", spec)):
            save(model, Path(folder) / name, threshold, gate=gate_spec)
            variants[name] = SavedModelClassifier(Path(folder) / name, config.cost_precision)
        for classifier in variants.values():
            for _ in range(WARMUP_CALLS):
                classifier(pixels, photo_size)
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        for round_number in range(config.rounds):
            order = list(variants) if round_number % 2 == 0 else list(reversed(variants))  # drift hits both alike
            for name in order:
                started = time.perf_counter()
                for _ in range(config.calls_per_round):
                    variants[name](pixels, photo_size)
                seconds[name].append((time.perf_counter() - started) / (config.calls_per_round * batch))
    per_photo = {name: statistics.median(values) for name, values in seconds.items()}
    ratios = [gated / ungated for gated, ungated in zip(seconds["gated"], seconds["ungated"])]
    cost = {"batch_size": batch, "rounds": config.rounds, "calls_per_round": config.calls_per_round,
            "precision": config.cost_precision, "seconds_per_photo": per_photo,
            "ratio": per_photo["gated"] / per_photo["ungated"],
            "round_ratios": {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}}
    cost["added"] = cost["ratio"] - 1
    cost["arithmetic"] = arithmetic(model, spec, pixels)
    print(cost_line(cost), flush=True)
    return cost


def arithmetic(model, spec, pixels: np.ndarray) -> dict:
    """FLOPs per photo from XLA's cost analysis, beside the timing that load on this machine
    makes noisy: the classifier's forward pass, and what the gate adds to it (its image
    measures, the colour histogram and distance, and the feature distance; the pooled features average activations the
    classifier computes anyway)."""
    import jax
    from flax import nnx

    from benchmarks.timing import step_flops
    from train_jax.gradability.measures import colour_distance, colour_histogram, feature_distance, image_measures
    from train_jax.training.predict import make_predict

    graphdef, state = nnx.split(model, nnx.Param)
    features = np.zeros((len(pixels), spec.feature_count), np.float32)
    classifier = step_flops(make_predict(graphdef), state, pixels) / len(pixels)
    added = step_flops(jax.jit(lambda images, pooled: (image_measures(images), colour_distance(spec, colour_histogram(images)),
                                                       feature_distance(spec, pooled))),
                       pixels, features) / len(pixels)
    return {"classifier_flops_per_photo": classifier, "gate_flops_per_photo": added, "share": added / classifier}


# -- printing ----------------------------------------------------------------------------------

def header(config: GradabilityBenchConfig, size: int, spec, eye_count: int) -> str:
    return (f"gradability benchmark | {config.run} (image size {size}, gate quantile {spec.limits.quantile:g}, "
            f"feature blocks {list(spec.feature_blocks)}) | {eye_count} validation photos, {config.per_kind} drawn "
            f"pictures per drawn kind, seed {config.seed}")


def print_rows(rows: list[dict]) -> None:
    width = max([16] + [len(row["kind"]) for row in rows if row["kind"] != EYE_PHOTOS])  # the longest name
    print(f"  {'kind':<{width + 2}s} {'photos':>6s} {'refused':>8s}  reasons", flush=True)
    for group in (EYE_PHOTOS, SEEN, UNSEEN):
        print(f"  {group}", flush=True)
        for row in (row for row in rows if row["group"] == group):
            reasons = ", ".join(f"{reason} {count}" for reason, count in row["reasons"].items()) or "-"
            if "refused_by_class" in row:
                reasons += " (refused by class: " + ", ".join(f"{label} {share}" for label, share in
                                                             row["refused_by_class"].items()) + ")"
            name = "clean" if row["kind"] == EYE_PHOTOS else row["kind"]
            print(f"    {name:<{width}s} {row['photos']:6d} {row['refusal_rate']:8.1%}  {reasons}", flush=True)


def print_goals(rows: list[dict]) -> None:
    print("  goals (issue 20)", flush=True)
    for goal in rows:
        print(f"    {goal['goal']:<48s} {goal['wanted']:>7s} {goal['value']:8.1%}  "
              f"{'met' if goal['met'] else 'NOT MET'}", flush=True)


def cost_line(cost: dict) -> str:
    per_photo = cost["seconds_per_photo"]
    return (f"  serving cost (in-process SavedModel, {cost['precision']}, batch {cost['batch_size']}, {cost['rounds']} "
            f"rounds interleaved): without the gate {per_photo['ungated'] * 1e3:.2f} ms/photo, with it "
            f"{per_photo['gated'] * 1e3:.2f} ms/photo (medians), ratio {cost['ratio']:.3f} "
            f"(each round's ratio: median {cost['round_ratios']['median']:.3f}, {cost['round_ratios']['min']:.3f}-"
            f"{cost['round_ratios']['max']:.3f}); arithmetic: the gate adds {cost['arithmetic']['gate_flops_per_photo']:.3g} "
            f"FLOPs to the classifier's {cost['arithmetic']['classifier_flops_per_photo']:.3g} per photo "
            f"({cost['arithmetic']['share']:.4%})")
