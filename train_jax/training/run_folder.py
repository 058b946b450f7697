"""The run folder: what training leaves behind and what evaluation and export read.

    RUN/config.json           resolved TrainConfig, ModelConfig, weights source, data facts
    RUN/split.json            which photos trained and which validated (with content hashes)
    RUN/metrics.jsonl         one JSON line per epoch (its learning_rate: that of the epoch's last step)
    RUN/tensorboard/          the same curves as TensorBoard events, and per log interval (training/curves.py)
    RUN/checkpoints/<epoch>/  Orbax checkpoints: the latest and the best (lowest val loss)
    RUN/checksums/<epoch>.json  each checkpoint's file digests, written once its save completed
    RUN/val_predictions.csv   the best model's scores on the validation photos
    RUN/threshold.json        the decision threshold, chosen on those scores when training finished
    RUN/gradability.json      the gradability gate's limits, method, blind spots and validation refusals
    RUN/gradability.npz       its feature statistics, and each training and validation photo's measures
                              (train_jax/gradability/spec.py; refitted by `cataract operating-point`)
    RUN/metrics.json          training's verdict (did the run learn?), then `cataract evaluate`'s figures
    RUN/*.png                 written by `cataract evaluate`
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import jax
import orbax.checkpoint as ocp
from flax import nnx
from orbax.checkpoint.checkpoint_managers import preservation_policy

from cataract_contract import CLASS_NAMES
from train_jax.errors import UserError
from train_jax.model.vgg16 import VGG16, ModelConfig
from train_jax.training.config import TrainConfig, read_json, write_json

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def split(self) -> Path:
        return self.root / "split.json"

    @property
    def epoch_metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def checksums(self) -> Path:
        return self.root / "checksums"

    @property
    def validation_predictions(self) -> Path:
        return self.root / "val_predictions.csv"

    @property
    def threshold(self) -> Path:
        return self.root / "threshold.json"

    @property
    def evaluation(self) -> Path:
        return self.root / "metrics.json"


def checkpoint_manager(paths: RunPaths, *, read_only: bool = False, clean_up: bool = False,
                       before_commit: Callable[[], None] | None = None) -> ocp.CheckpointManager:
    """Keeps the latest checkpoint (for --resume) and the best one (for export). Saves are
    asynchronous: Orbax copies the arrays to host memory before `save` returns (so the
    next step may donate their device buffers) and writes them in a background thread,
    each in a temporary folder renamed once complete; `before_commit` runs in that thread
    just before the rename. With `clean_up` (for the one manager that saves), temporary
    folders a killed save left behind are removed."""
    policy = preservation_policy.AnyPreservationPolicy(
        [
            # Two latest: if the newest is damaged (killed mid-write, disk trouble), the one
            # before it is still there to resume from.
            preservation_policy.LatestN(2),
            preservation_policy.BestN(get_metric_fn=lambda metrics: -metrics["val_loss"], n=1),
        ]
    )
    options = ocp.CheckpointManagerOptions(
        preservation_policy=policy,
        enable_async_checkpointing=not read_only,
        async_options=ocp.AsyncOptions(post_finalization_callback=before_commit) if before_commit else None,
        cleanup_tmp_directories=clean_up,
        read_only=read_only,
        create=not read_only,
    )
    return ocp.CheckpointManager(paths.checkpoints.absolute(), options=options)


def save_checkpoint(manager: ocp.CheckpointManager, step: int, model_state, optimizer_state, progress: dict, val_loss: float) -> None:
    saved = manager.save(
        step,
        args=ocp.args.Composite(
            model=ocp.args.StandardSave(model_state),
            optimizer=ocp.args.StandardSave(optimizer_state),
            progress=ocp.args.JsonSave(progress),
        ),
        metrics={"val_loss": float(val_loss)},
    )
    if not saved:  # Orbax skips a step at or below its latest: never record one as complete
        raise RuntimeError(f"Orbax did not save the checkpoint of epoch {step} (its latest is {manager.latest_step()})")


# How the tests stop a run while a save is in flight: "EPOCH:SECONDS" holds that epoch's
# checkpoint, completely written, in its temporary folder for that long before Orbax
# commits it.
HOLD_CHECKPOINT_ENVIRONMENT = "CATARACT_HOLD_CHECKPOINT"


class AsyncCheckpoints:
    """The run's checkpoints, written while training goes on. `save` returns once Orbax
    holds the state in host memory; a thread of ours then waits for Orbax's write and
    records the checksums that mark the checkpoint complete. At most one save is in
    flight: the next save, every restore and `close` wait for it (`wait`), so nothing
    reads a checkpoint that is still being written."""

    def __init__(self, paths: RunPaths, writer: bool):
        self.paths, self.writer = paths, writer
        hold = os.environ.get(HOLD_CHECKPOINT_ENVIRONMENT)
        self.manager = checkpoint_manager(paths, clean_up=True, before_commit=self._hold if hold else None)
        self._completion = ThreadPoolExecutor(1, thread_name_prefix="checkpoint-checksums")
        self._in_flight: tuple[int, Future] | None = None
        self._saving: int | None = None  # the step of the latest save
        self._last_save = time.monotonic()  # when it began (at first: when training began)
        # The newest complete checkpoint: at first the latest, checksummed by the run that saved it.
        self.complete = self.manager.latest_step()

    def due(self, wanted: bool, every_seconds: float) -> bool:
        """Whether an epoch's checkpoint is to be saved: always when `wanted` (the best so
        far, a phase's last) or when every_seconds is 0, else once every_seconds have
        passed since the last save began."""
        return wanted or not every_seconds or time.monotonic() - self._last_save >= every_seconds

    def save(self, step: int, model_state, optimizer_state, progress: dict, val_loss: float) -> None:
        self._last_save = time.monotonic()
        started = time.perf_counter()
        self.wait()
        waited = time.perf_counter() - started
        self._saving = step
        save_checkpoint(self.manager, step, model_state, optimizer_state, progress, val_loss)
        self._in_flight = (step, self._completion.submit(self._record, step))
        log.debug("checkpoint of epoch %d: %.2fs waiting for the previous save, %.2fs handing this one to Orbax",
                  step, waited, time.perf_counter() - started - waited)

    def _record(self, step: int) -> None:
        self.manager.wait_until_finished()  # written, committed, and older steps pruned
        if self.writer:
            record_checksums(self.paths, step)

    def wait(self) -> int | None:
        """Block until the save in flight, if any, is on disk with its checksums; the
        newest complete checkpoint's step (None if there is none)."""
        if self._in_flight is not None:
            step, recording = self._in_flight
            recording.result()  # the write's error, if any, surfaces here
            self.complete = step  # before the save is forgotten: a signal in between names the right epoch
            self._in_flight = None
        return self.complete

    def restore(self, step: int, args: ocp.args.CheckpointArgs):
        """The manager's restore, once the save in flight is complete."""
        self.wait()
        return self.manager.restore(step, args=args)

    def close(self) -> None:
        self.wait()
        self.manager.close()
        self._completion.shutdown()

    def _hold(self) -> None:
        step, seconds = os.environ[HOLD_CHECKPOINT_ENVIRONMENT].split(":")
        if int(step) == self._saving:
            log.warning("%s: holding the checkpoint of epoch %s in flight for %s s", HOLD_CHECKPOINT_ENVIRONMENT,
                        step, seconds)
            time.sleep(float(seconds))


def checkpoint_file_digests(paths: RunPaths, step: int) -> dict[str, str]:
    folder = paths.checkpoints / str(step)
    digests = {}
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        digests[str(file.relative_to(folder))] = digest.hexdigest()
    return digests


def record_checksums(paths: RunPaths, step: int) -> None:
    """Fingerprint every file of a just-saved checkpoint, and forget pruned ones."""
    paths.checksums.mkdir(exist_ok=True)
    write_json(paths.checksums / f"{step}.json", checkpoint_file_digests(paths, step))
    for record in paths.checksums.glob("*.json"):
        if not (paths.checkpoints / record.stem).is_dir():
            record.unlink()


def checkpoint_problem(paths: RunPaths, step: int) -> str | None:
    """Why a checkpoint cannot be trusted, or None when every file is as it was saved."""
    record = paths.checksums / f"{step}.json"
    if not record.is_file():
        return "it was never completely recorded (no checksum file)"
    try:
        expected = read_json(record)
    except UserError:
        return "its checksum record is damaged"
    actual = checkpoint_file_digests(paths, step)
    changed = sorted(name for name in expected if actual.get(name) != expected[name])
    if changed:
        return f"{len(changed)} of its files changed or vanished since it was saved (e.g. {changed[0]})"
    return None


def intact_checkpoint(paths: RunPaths, manager: ocp.CheckpointManager) -> int | None:
    """The newest checkpoint whose files are exactly as saved. Damaged newer ones are
    reported and deleted, never loaded silently. (Orbax finalises a checkpoint by
    renaming its folder, so one cut short by a kill is never listed at all.)"""
    for step in sorted(manager.all_steps(), reverse=True):
        problem = checkpoint_problem(paths, step)
        if problem is None:
            return step
        log.warning("checkpoint of epoch %d is damaged: %s; deleting it and trying the one before", step, problem)
        manager.delete(step)
    return None


def restore_progress(manager: ocp.CheckpointManager, step: int) -> dict:
    return manager.restore(step, args=ocp.args.Composite(progress=ocp.args.JsonRestore()))["progress"]


def restore_states(manager: ocp.CheckpointManager | AsyncCheckpoints, step: int, model_state,
                   optimizer_state=None) -> tuple[Any, Any]:
    """Restore into the shapes and shardings of the given states (abstract, as
    jax.ShapeDtypeStruct leaves, or concrete arrays). With several processes this is
    collective: every process calls it, each reading what its devices hold."""
    items = {"model": ocp.args.StandardRestore(_abstract(model_state))}
    if optimizer_state is not None:
        items["optimizer"] = ocp.args.StandardRestore(_abstract(optimizer_state))
    restored = manager.restore(step, args=ocp.args.Composite(**items))
    return restored["model"], restored.get("optimizer") if optimizer_state is not None else None


def _abstract(state):
    def abstract(leaf):
        return leaf if isinstance(leaf, jax.ShapeDtypeStruct) else ocp.utils.to_shape_dtype_struct(leaf)

    return jax.tree.map(abstract, state)


@dataclasses.dataclass
class TrainedRun:
    """A finished (or interrupted) run, loaded for evaluation or export."""

    paths: RunPaths
    train_config: TrainConfig
    model_config: ModelConfig
    info: dict[str, Any]
    model: VGG16
    best_epoch: int


def best_epoch_of(manager: ocp.CheckpointManager, run_dir: str | Path) -> int:
    """The epoch of the run's best checkpoint (lowest validation loss), as its latest
    checkpoint records it."""
    latest = manager.latest_step()
    if latest is None:
        raise UserError(f"{run_dir} has no checkpoint yet: let `cataract train` finish an epoch")
    return int(restore_progress(manager, latest)["best_epoch"])


def is_run_folder(folder: Path) -> bool:
    """Whether `cataract train` wrote this folder: its settings and its split."""
    paths = RunPaths(folder)
    return paths.config.is_file() and paths.split.is_file()


def require_run(run_dir: str | Path) -> RunPaths:
    """The run folder's paths; a folder `cataract train` did not write is a UserError."""
    paths = RunPaths(Path(run_dir))
    if not paths.config.is_file():
        raise UserError(f"{run_dir} is not a training run (no config.json): run `cataract train` first")
    return paths


def load_run(run_dir: str | Path) -> TrainedRun:
    """The run's best model (lowest validation loss), in evaluation mode."""
    paths = require_run(run_dir)
    info = read_json(paths.config)
    try:
        model_config, train_config = ModelConfig(**info["model"]), TrainConfig.from_json(info["train"])
    except (KeyError, TypeError, ValueError) as error:  # a key lost or edited: the JSON itself reads
        raise UserError(f"{paths.config} does not hold the settings it was written with ({type(error).__name__}: "
                        f"{error}): the file is damaged; restore it, or train the run again") from None
    model = VGG16(model_config, rngs=nnx.Rngs(0))
    manager = checkpoint_manager(paths, read_only=True)
    best_epoch = best_epoch_of(manager, run_dir)
    problem = checkpoint_problem(paths, best_epoch)
    if problem:  # never fall back silently to another epoch's weights
        raise UserError(
            f"the best checkpoint of {run_dir} (epoch {best_epoch}) is damaged: {problem}; train again, "
            "or `cataract train --resume` to continue from the last intact checkpoint"
        )
    model_state, _ = restore_states(manager, best_epoch, nnx.state(model))
    nnx.update(model, model_state)
    model.eval()
    manager.close()
    return TrainedRun(paths, train_config, model_config, info, model, best_epoch)


def write_predictions(path: Path, files: list[str], labels: list[int], cataract_probabilities) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "label", "p_cataract"])
        for name, label, probability in zip(files, labels, cataract_probabilities):
            writer.writerow([name, CLASS_NAMES[label], f"{float(probability):.6f}"])


PREDICTION_COLUMNS = ("file", "label", "p_cataract")


def read_predictions(path: Path) -> tuple[list[str], list[int], list[float]]:
    """(files, labels, P(cataract)) of a predictions file write_predictions wrote; a damaged
    one (a cut or edited line, a score that is no probability) is a UserError naming its line."""
    if not path.is_file():
        raise UserError(f"{path} is missing: the run did not finish training")
    damaged = f"{path} is damaged"
    try:
        with open(path, newline="") as file:
            reader = csv.DictReader(file)
            if tuple(reader.fieldnames or ()) != PREDICTION_COLUMNS:
                raise UserError(f"{damaged}: its header is {reader.fieldnames}, not {list(PREDICTION_COLUMNS)}; "
                                "train the run again")
            files, labels, scores = [], [], []
            for row in reader:
                line = reader.line_num
                label, score = row["label"], row["p_cataract"]
                if label not in CLASS_NAMES:
                    raise UserError(f"{damaged} (line {line}): label {label!r} is not one of {', '.join(CLASS_NAMES)}; "
                                    "train the run again")
                try:
                    probability = float(score)
                except (TypeError, ValueError):
                    probability = math.nan
                if not 0.0 <= probability <= 1.0:
                    raise UserError(f"{damaged} (line {line}): p_cataract {score!r} is not a probability between 0 "
                                    "and 1; train the run again")
                files.append(row["file"])
                labels.append(CLASS_NAMES.index(label))
                scores.append(probability)
    except (csv.Error, UnicodeDecodeError) as error:
        raise UserError(f"{damaged}: {error}; train the run again") from None
    if not files:
        raise UserError(f"{damaged}: it holds no photo; train the run again")
    return files, labels, scores


def read_threshold(paths: RunPaths) -> dict[str, Any]:
    """The decision threshold chosen when training finished, with its rule."""
    if not paths.threshold.is_file():
        raise UserError(f"{paths.threshold} is missing: the run did not finish training")
    record = read_json(paths.threshold)
    threshold = record.get("decision_threshold")
    # A threshold outside [0, 1] would serve one answer for every photo: refuse it, whoever wrote it.
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        raise UserError(f"{paths.threshold}: decision_threshold {threshold!r} is not a probability between 0 and 1: "
                        "the file was edited or damaged; restore it, or train the run again")
    return record


def append_epoch_metrics(paths: RunPaths, values: dict[str, Any]) -> None:
    with open(paths.epoch_metrics, "a") as file:
        file.write(json.dumps(values, sort_keys=True) + "\n")


def forget_epochs_after(paths: RunPaths, last_epoch: int) -> None:
    """Drop metric lines of epochs a killed run logged but never checkpointed: resuming
    runs them again."""
    if not paths.epoch_metrics.is_file():
        return
    kept = [line for line in paths.epoch_metrics.read_text().splitlines() if json.loads(line)["epoch"] <= last_epoch]
    paths.epoch_metrics.write_text("".join(line + "\n" for line in kept))
