"""Fine-tuning VGG16 in the earlier project's two phases, as three stages:

    prepare_run   scan the photos, run the data checks, split, write the run folder
                  (or, with --resume, read all of that back from the run folder)
    fit           the phases' epochs: `train_epoch` (pure step functions over one epoch's
                  batches), validation, early stopping (a pure update), checkpoints
    finalize      the best weights' validation predictions, and the decision threshold
                  chosen on them, written to the run folder for evaluate and export

Phase "head": the convolutional base is frozen and only the head learns. Phase
"finetune": the last `unfreeze_blocks` blocks learn too, at a lower rate. Each phase stops
early when the validation loss has not improved for `patience` epochs, and the next phase
(and the final model) starts from the best weights so far, as Keras' EarlyStopping with
restore_best_weights does.

Speed on a CPU comes from never running a backward pass through frozen layers and, with
`augmented_views > 0`, running the always-frozen blocks only once per image and view
(FrozenFeatureCache). On GPUs, fresh augmentation every step is decoded by grain worker
processes ahead of the devices, the step computes in bfloat16 on float32 parameters, and
the loop reads loss and accuracy back only every `log_every` steps. Several processes
(training/distributed.py) train as one: one global mesh, each process reading its rows of
every batch, process 0 writing the run folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import jax
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import nnx
from tqdm import tqdm

from cataract_contract import CATARACT, CLASS_NAMES
from train_jax.data import scan as photos
from train_jax.data.augment import AugmentConfig
from train_jax.data.checks import check_training_data
from train_jax.data.decoded import DecodedPhotos
from train_jax.data.pipeline import batch_count, epoch_batches
from train_jax.data.scan import ScannedImage
from train_jax.data.split import split_train_validation
from train_jax.errors import UserError
from train_jax.model import pretrained
from train_jax.model.architecture import POOLINGS
from train_jax.model.vgg16 import VGG16, ModelConfig, trainable_filter
from train_jax.training.config import TrainConfig, read_json, write_json
from train_jax.training.feature_cache import FrozenFeatureCache
from train_jax.training.distributed import is_writer
from train_jax.training.parallel import DataParallel, host_value, local_values
from train_jax.training.predict import make_predict, pad_batch
from train_jax.training.run_folder import (
    RunPaths,
    append_epoch_metrics,
    checkpoint_manager,
    forget_epochs_after,
    intact_checkpoint,
    record_checksums,
    restore_progress,
    restore_states,
    save_checkpoint,
    write_predictions,
)
from train_jax.training.steps import EpochMetrics, make_train_step, zero_metrics
from train_jax.training.threshold import THRESHOLD_RULE, choose_threshold

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Phase:
    name: str
    epochs: int
    learning_rate: float
    first_trainable_block: int  # POOLINGS means: head only


def training_phases(config: TrainConfig) -> list[Phase]:
    head_rate, finetune_rate = config.learning_rates()
    return [
        Phase("head", config.head_epochs, head_rate, POOLINGS),
        Phase("finetune", config.finetune_epochs, finetune_rate, POOLINGS - config.unfreeze_blocks),
    ]


# The least fall of the validation loss that counts as an improvement.
MIN_IMPROVEMENT = 1e-6


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Early stopping as a value, like Keras' EarlyStopping: `update` returns the state
    after one more epoch's validation loss and leaves this one as it was."""

    patience: int
    best_loss: float = math.inf
    best_epoch: int = 0  # 0: no epoch yet
    epochs_without_improvement: int = 0

    def update(self, validation_loss: float, epoch: int) -> "EarlyStopping":
        if validation_loss < self.best_loss - MIN_IMPROVEMENT:
            return dataclasses.replace(self, best_loss=validation_loss, best_epoch=epoch, epochs_without_improvement=0)
        return dataclasses.replace(self, epochs_without_improvement=self.epochs_without_improvement + 1)

    @property
    def should_stop(self) -> bool:
        return self.epochs_without_improvement >= self.patience

    def for_next_phase(self) -> "EarlyStopping":
        """The state a new phase starts from: its epochs without improvement are counted
        afresh, against the best loss of every phase so far."""
        return dataclasses.replace(self, epochs_without_improvement=0)


@dataclasses.dataclass(frozen=True)
class Progress:
    """What a checkpoint must remember to resume exactly where training stopped."""

    stopping: EarlyStopping
    phase: int = 0
    epoch_in_phase: int = 0  # epochs of `phase` completed
    phase_finished: bool = False
    global_epoch: int = 0  # also the checkpoint step

    def has_finished(self, phase: int) -> bool:
        return phase < self.phase or (phase == self.phase and self.phase_finished)

    def to_checkpoint(self) -> dict[str, Any]:
        """The checkpoint's record: flat, with the keys runs have always stored."""
        return {
            "phase": self.phase, "epoch_in_phase": self.epoch_in_phase, "phase_finished": self.phase_finished,
            "global_epoch": self.global_epoch, "best_epoch": self.stopping.best_epoch,
            "best_val_loss": self.stopping.best_loss,
            "epochs_without_improvement": self.stopping.epochs_without_improvement,
        }

    @classmethod
    def from_checkpoint(cls, record: dict[str, Any], patience: int) -> "Progress":
        stopping = EarlyStopping(patience, record["best_val_loss"], record["best_epoch"], record["epochs_without_improvement"])
        return cls(stopping, record["phase"], record["epoch_in_phase"], record["phase_finished"], record["global_epoch"])


@dataclasses.dataclass(frozen=True)
class ResumePoint:
    """Everything --resume takes from the run folder; found in one place, `find_resume_point`."""

    config: TrainConfig  # the run's own settings
    split: dict  # split.json
    model_config: ModelConfig
    checkpoint: int | None  # the newest intact checkpoint, None if every one is damaged
    progress: Progress


@dataclasses.dataclass(frozen=True)
class PreparedRun:
    """The output of prepare_run: what fit and finalize work on. No later stage changes
    it, but for the model's weights: training them is fit's job."""

    config: TrainConfig
    paths: RunPaths
    train: list[ScannedImage]
    validation: list[ScannedImage]
    model: VGG16
    parallel: DataParallel  # every process's devices: training steps
    local: DataParallel  # this process's devices: work each process does whole
    resume: ResumePoint | None
    # Blocks before cache_block never train and are cached; 0 means nothing is cached.
    cache_block: int

    @property
    def train_labels(self) -> np.ndarray:
        return np.array([image.record.label for image in self.train], np.int32)

    @property
    def validation_labels(self) -> np.ndarray:
        return np.array([image.record.label for image in self.validation], np.int32)


@dataclasses.dataclass(frozen=True)
class FittedRun:
    """The output of fit: the prepared run, the frozen-feature cache it trained on (None
    without one), and where training ended."""

    run: PreparedRun
    cache: FrozenFeatureCache | None
    progress: Progress


def train(config: TrainConfig, resume: bool = False) -> RunPaths:
    return finalize(fit(prepare_run(config, resume)))


# -- stage 1: prepare ---------------------------------------------------------------------


def prepare_run(config: TrainConfig, resume: bool = False) -> PreparedRun:
    paths = RunPaths(Path(config.out))
    has_checkpoints = paths.checkpoints.is_dir() and any(paths.checkpoints.iterdir())
    if resume and not has_checkpoints:
        raise UserError(f"--resume: {paths.root} has no checkpoint to resume from")
    if not resume and has_checkpoints:
        raise UserError(f"{paths.root} already holds a run: add --resume to continue it, or choose another --out")
    resume_point = find_resume_point(paths, config) if resume else None
    if resume_point is not None:
        config = resume_point.config
    paths.root.mkdir(parents=True, exist_ok=True)

    splits = photos.discover(config.data)
    if "train" not in splits:
        raise UserError(f"{config.data} has a test/ split but no train/ split to learn from")
    # Every process scans and splits alike (the split is seeded); only process 0 writes.
    scanned, unreadable = photos.scan(splits["train"], "reading training photos")
    if resume_point is not None:
        train_images, validation_images = saved_split(resume_point.split, scanned)
    else:
        test, _ = photos.scan(splits.get("test", []), "reading test photos")
        train_images, validation_images = new_split(config, paths, scanned, test, unreadable)
        config = config.resolved(jax.default_backend(), jax.device_count(), jax.process_count(), os.cpu_count() or 1,
                                 len(train_images))
    if len(train_images) < config.batch_size:
        raise UserError(f"--batch-size {config.batch_size} is larger than the {len(train_images)} training photos")
    if config.augmented_views and jax.process_count() > 1:
        raise UserError("the frozen-feature cache (--augmented-views > 0) trains on one process: "
                        "pass --augmented-views 0 to train on several")
    parallel = DataParallel.global_mesh(config.batch_size)
    local = DataParallel.local_mesh(config.batch_size)

    if resume_point is not None and resume_point.checkpoint is not None:
        model = VGG16(resume_point.model_config, rngs=nnx.Rngs(config.seed))  # fit restores the checkpoint's weights
    else:  # a new run, or one whose every checkpoint was damaged: that one starts again
        model = new_model(config, paths, train_images, validation_images, len(unreadable))
    return PreparedRun(
        config=config, paths=paths, train=train_images, validation=validation_images, model=model,
        parallel=parallel, local=local, resume=resume_point,
        cache_block=POOLINGS - config.unfreeze_blocks if config.augmented_views else 0,
    )


def find_resume_point(paths: RunPaths, requested: TrainConfig) -> ResumePoint:
    """The run folder's settings, split and newest intact checkpoint. A resumed run keeps
    its own settings; only where to write and how many workers decode may change."""
    info = read_json(paths.config)
    saved = TrainConfig.from_json(info["train"])
    changed = [
        field.name for field in dataclasses.fields(TrainConfig)
        if field.name not in ("workers", "out", "epochs")
        and getattr(requested, field.name) not in (None, "auto", getattr(saved, field.name))
    ]
    if changed:
        log.warning("--resume keeps the run's original settings; ignoring changed %s", ", ".join(changed))
    config = dataclasses.replace(saved, workers=saved.workers if requested.workers is None else requested.workers,
                                 out=requested.out)
    manager = checkpoint_manager(paths)
    latest = intact_checkpoint(paths, manager)
    progress = Progress(EarlyStopping(config.patience))
    if latest is not None:
        progress = Progress.from_checkpoint(restore_progress(manager, latest), config.patience)
        if progress.stopping.best_epoch not in manager.all_steps():
            log.warning("the best checkpoint (epoch %d) is gone: epoch %d counts as the best so far",
                        progress.stopping.best_epoch, latest)
            progress = dataclasses.replace(progress, stopping=dataclasses.replace(progress.stopping, best_epoch=latest))
        if is_writer():
            forget_epochs_after(paths, progress.global_epoch)
        log.info("resuming after epoch %d (%s epoch %d)", progress.global_epoch,
                 training_phases(config)[progress.phase].name, progress.epoch_in_phase)
    manager.close()
    return ResumePoint(config, read_json(paths.split), ModelConfig(**info["model"]), latest, progress)


def saved_split(split: dict, scanned: list[ScannedImage]) -> tuple[list[ScannedImage], list[ScannedImage]]:
    """The run's own split, with the labels its data checks gave."""
    by_path = {image.record.path: image for image in scanned}
    missing = [path for path in split["train"] + split["validation"] if path not in by_path]
    if missing:
        raise UserError(f"--resume: {len(missing)} photos of the run's split are gone, e.g. {missing[0]}")
    relabelled = {path: CLASS_NAMES.index(label) for path, label in split.get("relabelled", [])}

    def as_saved(path: str) -> ScannedImage:
        image = by_path[path]
        return photos.with_label(image, relabelled[path]) if path in relabelled else image

    return [as_saved(path) for path in split["train"]], [as_saved(path) for path in split["validation"]]


def new_split(config: TrainConfig, paths: RunPaths, scanned: list[ScannedImage], test: list[ScannedImage],
              unreadable: list[photos.UnreadableFile]) -> tuple[list[ScannedImage], list[ScannedImage]]:
    """Apply the data checks, split train/ into train and validation, record it all."""
    check = check_training_data(scanned, test, config.label_conflicts)
    if check.dropped:
        log.warning("label conflicts: dropped %d training photos whose copies carry the other label "
                    "(--label-conflicts drop)", len(check.dropped))
    for path, label in check.relabelled:
        log.warning("label conflict: %s now counts as %s, the label most of its copies carry", path, label)
    if check.leaked_test:
        message = (
            f"{len(check.leaked_test)} test photos are copies of training photos (e.g. {check.leaked_test[0]}): "
            "a test score on them would not be honest"
        )
        if not config.allow_leakage:
            raise UserError(message + "; remove them (see `cataract audit`) or pass --allow-leakage")
        log.warning("%s; training anyway (--allow-leakage): `cataract evaluate` reports the score with and without them", message)
    photos.require_both_classes([image.record for image in check.usable], f"{config.data} (train)")
    train_images, validation_images = split_train_validation(check.usable, config.validation_fraction, config.seed)
    photos.require_both_classes([image.record for image in validation_images], "the validation split")
    if not is_writer():
        return train_images, validation_images
    write_json(
        paths.split,
        {
            "train": [image.record.path for image in train_images],
            "validation": [image.record.path for image in validation_images],
            "content_hashes": {image.record.path: image.content_hash for image in train_images + validation_images},
            "unreadable": [dataclasses.asdict(bad) for bad in unreadable],
            "dropped_label_conflicts": check.dropped,
            "relabelled": check.relabelled,
            "leaked_test": check.leaked_test,
        },
    )
    return train_images, validation_images


def new_model(config: TrainConfig, paths: RunPaths, train_images: list[ScannedImage],
              validation_images: list[ScannedImage], unreadable_count: int) -> VGG16:
    """A freshly initialised VGG16 with the pretrained weights merged in; config.json written."""
    weights = pretrained.resolve(config.weights)
    model_config = ModelConfig(
        image_size=config.image_size,
        width=config.width,
        dropout=config.dropout,
        # Random weights learn best from unit-scale inputs: torchvision's normalisation.
        preprocessing=weights.preprocessing if weights else "torch",
        compute_dtype=config.compute_dtype,
    )
    model = VGG16(model_config, rngs=nnx.Rngs(config.seed))
    report = pretrained.load_into(model, weights) if weights else None
    if weights is None and config.unfreeze_blocks < POOLINGS:
        log.warning(
            "random weights with --unfreeze-blocks %d: the frozen blocks stay random; "
            "consider --unfreeze-blocks %d when training from scratch", config.unfreeze_blocks, POOLINGS,
        )
    if not is_writer():
        return model
    train_records = [image.record for image in train_images]
    validation_records = [image.record for image in validation_images]
    head_rate, finetune_rate = config.learning_rates()
    write_json(
        paths.config,
        {
            "train": config.to_json(),
            "model": dataclasses.asdict(model_config),
            "weights_source": weights.source if weights else "none (random initialisation)",
            "weights_loaded": list(report.loaded) if report else [],
            "data": {
                "fingerprint": photos.fingerprint(train_images + validation_images),
                "train": photos.class_counts(train_records),
                "validation": photos.class_counts(validation_records),
                "unreadable": unreadable_count,
            },
            "classes": list(CLASS_NAMES),
            "devices": [str(device) for device in jax.devices()],
            "processes": jax.process_count(),
            "learning_rates_at_this_batch": {"head": head_rate, "finetune": finetune_rate},
        },
    )
    return model


# -- stage 2: fit -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Fitting:
    """What the phases of one fit share: the run, its checkpoints, and the batches each
    epoch trains on and the predictor that validates it."""

    run: PreparedRun
    cache: FrozenFeatureCache | None
    manager: ocp.CheckpointManager
    batches: TrainingBatches
    validation: ValidationPredictor


@dataclasses.dataclass(frozen=True)
class Epoch:
    phase: Phase
    in_phase: int  # 1 to phase.epochs
    number: int  # counted from 1 over all phases; also the checkpoint step

    @property
    def description(self) -> str:
        return f"{self.phase.name} epoch {self.in_phase}/{self.phase.epochs}"


@dataclasses.dataclass(frozen=True)
class ValidationMetrics:
    loss: float
    accuracy: float


@dataclasses.dataclass(frozen=True)
class EpochResult:
    epoch: Epoch
    train: EpochMetrics
    validation: ValidationMetrics
    seconds: float
    best: bool  # the lowest validation loss so far

    def record(self) -> dict[str, Any]:
        """The epoch's line of metrics.jsonl."""
        return {
            "epoch": self.epoch.number, "phase": self.epoch.phase.name, "epoch_in_phase": self.epoch.in_phase,
            "train_loss": self.train.loss, "train_accuracy": self.train.accuracy,
            "val_loss": self.validation.loss, "val_accuracy": self.validation.accuracy,
            "learning_rate": self.epoch.phase.learning_rate, "seconds": self.seconds,
            "train_images_per_second": self.train.photos / self.seconds, "best": self.best,
        }


def fit(run: PreparedRun) -> FittedRun:
    """Every phase's epochs, from the resume point if there is one."""
    manager = checkpoint_manager(run.paths)
    progress = run.resume.progress if run.resume else Progress(EarlyStopping(run.config.patience))
    if run.resume is not None and run.resume.checkpoint is not None:
        # A resumed model is built without its pretrained weights: its frozen blocks must
        # hold the checkpoint's before the cache is computed with them.
        restore_weights(run, manager, run.resume.checkpoint)
    cache = None
    if run.cache_block > 0:
        cache = FrozenFeatureCache.build(run.config, run.model, run.cache_block, run.local,
                                         [image.record for image in run.train], [image.record for image in run.validation])
    fitting = Fitting(run, cache, manager, TrainingBatches(run, cache, progress.global_epoch + 1),
                      ValidationPredictor(run, cache))
    run.model.train()
    for index, phase in enumerate(training_phases(run.config)):
        if not progress.has_finished(index):
            progress = fit_phase(fitting, index, phase, progress)
    manager.close()
    return FittedRun(run, cache, progress)


def fit_phase(fitting: Fitting, index: int, phase: Phase, progress: Progress) -> Progress:
    """One phase: its optimizer, continued from the resume point when that lies inside the
    phase, else new on the best weights so far; then its epochs, until early stopping."""
    run, model = fitting.run, fitting.run.model
    trainable = trainable_filter(phase.first_trainable_block)
    optimizer = nnx.Optimizer(model, optax.adam(phase.learning_rate), wrt=trainable)
    if index == progress.phase and progress.epoch_in_phase > 0:  # continue this phase
        model_state, optimizer_state = restore_states(
            fitting.manager, run.resume.checkpoint, run.parallel.abstract(nnx.state(model)),
            run.parallel.abstract(nnx.state(optimizer)))
        nnx.update(model, model_state)
        nnx.update(optimizer, optimizer_state)
    else:
        if progress.global_epoch > 0:  # a new phase starts from the best weights so far
            restore_weights(run, fitting.manager, progress.stopping.best_epoch)
        progress = Progress(progress.stopping.for_next_phase(), phase=index, global_epoch=progress.global_epoch)
    if phase.epochs == 0:
        return dataclasses.replace(progress, phase_finished=True)
    log.info(
        "phase %s: %d epochs at learning rate %g (batch %d), training %s",
        phase.name, phase.epochs, phase.learning_rate, run.config.batch_size,
        "the head" if phase.first_trainable_block == POOLINGS else f"blocks {phase.first_trainable_block + 1}-{POOLINGS} and the head",
    )
    graphdef, state = nnx.split((model, optimizer))
    state = run.parallel.replicate(state)
    train_step = make_train_step(graphdef, trainable, run.cache_block, fitting.cache is not None, run.config.label_smoothing)
    for in_phase in range(progress.epoch_in_phase + 1, phase.epochs + 1):
        started = time.perf_counter()
        epoch = Epoch(phase, in_phase, progress.global_epoch + 1)
        state, train_metrics = train_epoch(fitting, train_step, state, epoch)
        nnx.update((model, optimizer), state)
        validation = validate(fitting.validation, run.validation_labels)
        stopping = progress.stopping.update(validation.loss, epoch.number)
        progress = Progress(stopping, index, in_phase, stopping.should_stop or in_phase == phase.epochs, epoch.number)
        result = EpochResult(epoch, train_metrics, validation, time.perf_counter() - started,
                             best=stopping.best_epoch == epoch.number)
        record_epoch(fitting, optimizer, progress, result)
        log_epoch(result)
        if stopping.should_stop:
            log.info("early stop: no validation improvement for %d epochs", stopping.patience)
            break
    return progress


def train_epoch(fitting: Fitting, train_step: Callable, state, epoch: Epoch) -> tuple[Any, EpochMetrics]:
    """One epoch's steps over its batches, as `train_epoch` in Flax's MNIST example:
    (state, epoch) -> (new state, the epoch's training metrics). Loss and accuracy stay
    summed on the devices, read back for the progress bar every log_every steps."""
    run, parallel = fitting.run, fitting.run.parallel
    epoch_key = jax.random.fold_in(jax.random.key(run.config.seed), epoch.number)
    bar = tqdm(total=fitting.batches.steps, desc=epoch.description, unit="batch", leave=False, disable=not is_writer())
    metrics = parallel.replicate(zero_metrics())
    for step, batch in enumerate(fitting.batches.epoch(epoch.number)):
        state, metrics = train_step(
            state, metrics, parallel.shard(batch["image"]), parallel.shard(batch["label"]),
            jax.random.fold_in(epoch_key, step),
        )
        bar.update()
        if (step + 1) % run.config.log_every == 0:  # the one host sync, every log_every steps
            so_far = EpochMetrics.from_sums(host_value(metrics))
            bar.set_postfix(loss=f"{so_far.loss:.4f}", acc=f"{so_far.accuracy:.3f}")
    bar.close()
    return state, EpochMetrics.from_sums(host_value(metrics))


def validate(predictor: ValidationPredictor, labels: np.ndarray) -> ValidationMetrics:
    probabilities = predictor()
    return ValidationMetrics(cross_entropy(probabilities, labels), float((probabilities.argmax(-1) == labels).mean()))


def restore_weights(run: PreparedRun, manager: ocp.CheckpointManager, epoch: int) -> None:
    model_state, _ = restore_states(manager, epoch, run.parallel.abstract(nnx.state(run.model)))
    nnx.update(run.model, model_state)


def record_epoch(fitting: Fitting, optimizer: nnx.Optimizer, progress: Progress, result: EpochResult) -> None:
    """The epoch's checkpoint (every process saves its part), its line of metrics.jsonl,
    then the checksums that mark the checkpoint complete: a run killed before them
    resumes from the epoch before, forgetting this epoch's line."""
    run = fitting.run
    save_checkpoint(fitting.manager, progress.global_epoch, nnx.state(run.model, nnx.Param), nnx.state(optimizer),
                    progress.to_checkpoint(), result.validation.loss)
    if is_writer():
        append_epoch_metrics(run.paths, result.record())
        record_checksums(run.paths, progress.global_epoch)


def log_epoch(result: EpochResult) -> None:
    epoch, train, validation = result.epoch, result.train, result.validation
    log.info(
        "epoch %d (%s %d/%d): loss %.4f acc %.3f | val loss %.4f acc %.3f%s | %.1fs, %.0f photos/s",
        epoch.number, epoch.phase.name, epoch.in_phase, epoch.phase.epochs, train.loss, train.accuracy,
        validation.loss, validation.accuracy, " (best)" if result.best else "", result.seconds,
        train.photos / result.seconds,
    )


class TrainingBatches:
    """Each epoch's shuffled, augmented batches: cached activations, or photos through one
    grain pipeline for all the epochs a run may still train, so its workers start once and
    stay ahead of the devices across epochs and phases. Photos are decoded once, when their
    pixels fit in --cache-memory-gb (DecodedPhotos), so the workers only augment."""

    def __init__(self, run: PreparedRun, cache: FrozenFeatureCache | None, first_epoch: int):
        config = run.config
        self.run, self.cache, self.next_epoch = run, cache, first_epoch
        self.steps = batch_count(len(run.train), config.batch_size, drop_remainder=True)
        self._photos = None
        if cache is None:
            records = [image.record for image in run.train]
            last_epoch = config.head_epochs + config.finetune_epochs  # early stopping may end sooner
            self._photos = epoch_batches(
                records, image_size=config.image_size, batch_size=config.batch_size, seed=config.seed,
                epochs=range(first_epoch, last_epoch + 1), shuffle=True, augment_config=AugmentConfig(),
                drop_remainder=True, workers=config.workers, shard=(jax.process_index(), jax.process_count()),
                decoded=decode_once(run, records),
            )

    def epoch(self, global_epoch: int) -> Iterator[dict[str, np.ndarray]]:
        if global_epoch != self.next_epoch:
            raise RuntimeError(f"epoch {global_epoch} asked for, the pipeline is at epoch {self.next_epoch}")
        self.next_epoch += 1
        config = self.run.config
        if self._photos is None:
            return self.cache.epoch_batches(self.run.train_labels, config.batch_size, config.seed, global_epoch)
        return itertools.islice(self._photos, self.steps)


def decode_once(run: PreparedRun, records: list) -> DecodedPhotos | None:
    """The training photos decoded and resized into one file on this machine's temporary
    disk (named by their content and order, so a resumed or repeated run reuses it), or
    None when they do not fit in --cache-memory-gb."""
    config = run.config
    needed = DecodedPhotos.bytes_needed(len(records), config.image_size)
    if needed > config.cache_memory_gb * 2**30:
        log.info("decoding photos every epoch: their pixels need %.1f GiB, over --cache-memory-gb %g",
                 needed / 2**30, config.cache_memory_gb)
        return None
    digest = hashlib.sha256("".join(f"{image.content_hash}:{image.record.label}\n" for image in run.train).encode())
    path = Path(tempfile.gettempdir()) / f"cataract-decoded-{digest.hexdigest()[:16]}-{config.image_size}.npy"
    batches = epoch_batches(records, image_size=config.image_size, batch_size=config.batch_size, workers=config.workers)
    return DecodedPhotos.build(records, config.image_size, path, batches)


class ValidationPredictor:
    """The model's class probabilities on the validation photos (from the cache when
    there is one), compiled once and reused every epoch. Each process predicts every
    validation photo on its own devices: validation is small, and every process then
    takes the same early-stopping decision."""

    def __init__(self, run: PreparedRun, cache: FrozenFeatureCache | None):
        self.run, self.cache = run, cache
        self._predict: Callable | None = None

    def __call__(self) -> np.ndarray:
        run, cache, size = self.run, self.cache, self.run.config.batch_size
        run.model.eval()
        graphdef, state = nnx.split(run.model, nnx.Param)
        run.model.train()
        state = run.local.replicate(local_values(state))
        if self._predict is None:
            self._predict = make_predict(graphdef, run.cache_block if cache is not None else 0)
        if cache is not None:
            chunks = (cache.validation[i : i + size] for i in range(0, len(cache.validation), size))
        else:
            chunks = (batch["image"] for batch in epoch_batches(
                [image.record for image in run.validation], image_size=run.config.image_size, batch_size=size,
                workers=run.config.workers))
        outputs = [np.asarray(self._predict(state, run.local.shard(pad_batch(chunk, size))))[: len(chunk)] for chunk in chunks]
        return np.concatenate(outputs)


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())


# -- stage 3: finalize --------------------------------------------------------------------


def finalize(fitted: FittedRun) -> RunPaths:
    """Restore the best epoch's weights, write its validation scores, and choose the
    decision threshold on them: the one threshold evaluate and export use."""
    run, best = fitted.run, fitted.progress.stopping.best_epoch
    manager = checkpoint_manager(run.paths)
    restore_weights(run, manager, best)
    manager.close()
    # Rounded as val_predictions.csv stores them, so the threshold is one of the recorded scores.
    scores = np.round(ValidationPredictor(run, fitted.cache)()[:, CATARACT].astype(np.float64), 6)
    labels = run.validation_labels
    if not is_writer():
        return run.paths
    write_predictions(run.paths.validation_predictions, [image.record.path for image in run.validation], list(labels), scores)
    threshold = choose_threshold(labels == CATARACT, scores)
    write_json(run.paths.threshold, {"decision_threshold": threshold, "rule": THRESHOLD_RULE, "best_epoch": best,
                                     "validation_photos": len(labels)})
    log.info("decision threshold %.3f (%s)", threshold, THRESHOLD_RULE.split(":")[0])
    return run.paths
