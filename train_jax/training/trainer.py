"""Fine-tuning VGG16 in the earlier project's two phases, as three stages:

    prepare_run   scan the photos, run the data checks, split, write the run folder
                  (or, with --resume, read all of that back from the run folder)
    fit           the phases' epochs: `train_epoch` (pure step functions over one epoch's
                  batches), validation, early stopping (a pure update), checkpoints,
                  TensorBoard curves, and a warning when the model collapses
    finalize      the best weights' validation predictions, the decision threshold chosen
                  on them, the gradability gate (train_jax/gradability) and the verdict
                  (did the run learn?), written to the run folder for evaluate and export

Phase "head": the convolutional base is frozen and only the head learns. Phase
"finetune": the last `unfreeze_blocks` blocks learn too, at a lower rate. Each phase stops
early when its validation loss has not improved on the phase's own best for `patience`
epochs, so a weak head phase cannot end fine-tuning before it starts; the next phase and
the final model start from the best weights of every phase so far, as Keras'
EarlyStopping with restore_best_weights does.

Each phase has its own optimizer (make_optimizer): Adam at a learning rate warmed up
linearly from 0 and decayed by a cosine over the phase, on gradients clipped by their
global norm; with --head-init probe, phase 1 starts from a linear probe of the frozen
features (training/linear_probe.py). With the He-normal initialisation of the convolutions (model/vgg16.py), the
initialisation for training a VGG from scratch, this keeps a VGG without normalisation
layers from collapsing to a constant output, which a constant rate did on some seeds.

Speed on a CPU comes from never running a backward pass through frozen layers and, with
`augmented_views > 0`, running the always-frozen blocks only once per image and view
(FrozenFeatureCache). On GPUs, photos decoded once are shipped with each photo's
augmentation drawn by grain's workers, the step applies it on the devices
(data/device_augment.py) with batches put there two ahead, computes in bfloat16 on float32
parameters, and the loop reads loss and accuracy back only every `log_every` steps;
validation is one jitted pass over photos kept on the devices, and checkpoints are written
in the background while the next epoch trains (run_folder.AsyncCheckpoints). Several processes
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
from train_jax.data.device_augment import augmentation_of, prefetch_to_device
from train_jax.data.pipeline import batch_count, epoch_batches
from train_jax.data.scan import ScannedImage
from train_jax.data.split import split_train_validation
from train_jax.errors import UserError
from train_jax.gradability.fit import fit_and_save_gate
from train_jax.model import pretrained
from train_jax.model.architecture import POOLINGS
from train_jax.model.vgg16 import VGG16, ModelConfig, trainable_filter
from train_jax.training.config import TrainConfig, read_json, write_json
from train_jax.training.curves import TrainingCurves
from train_jax.training.feature_cache import FrozenFeatureCache
from train_jax.training.distributed import is_writer
from train_jax.training.linear_probe import start_head_as_probe
from train_jax.training.parallel import DataParallel, host_value, local_values
from train_jax.training.predict import make_predict_chunks, put_chunks
from train_jax.training import preemption
from train_jax.training.run_folder import (
    AsyncCheckpoints,
    RunPaths,
    append_epoch_metrics,
    checkpoint_manager,
    checkpoint_problem,
    forget_epochs_after,
    intact_checkpoint,
    restore_progress,
    restore_states,
    write_predictions,
)
from train_jax.training.steps import EpochMetrics, make_train_step, zero_metrics
from train_jax.training.threshold import OperatingPoint, log_threshold, roc_auc, threshold_record
from train_jax.training.verdict import CollapseWatch, Verdict, judge, stored_verdict, write_verdict

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Phase:
    name: str
    epochs: int
    learning_rate: float  # the peak, at this batch
    first_trainable_block: int  # POOLINGS means: head only


def training_phases(config: TrainConfig) -> list[Phase]:
    head_rate, finetune_rate = config.learning_rates()
    return [
        Phase("head", config.head_epochs, head_rate, POOLINGS),
        Phase("finetune", config.finetune_epochs, finetune_rate, POOLINGS - config.unfreeze_blocks),
    ]


def warmup_steps(config: TrainConfig, phase: Phase, steps_per_epoch: int) -> int:
    """The phase's warm-up in optimizer steps: --warmup-epochs' worth (at least one step
    when asked for), at most half the phase's steps."""
    asked = round(config.warmup_epochs * steps_per_epoch)
    if config.warmup_epochs > 0:
        asked = max(asked, 1)
    return min(asked, phase.epochs * steps_per_epoch // 2)


def learning_rate_schedule(config: TrainConfig, phase: Phase, steps_per_epoch: int) -> optax.Schedule:
    """The phase's learning rate at each of its optimizer steps (counted from 0 when the
    phase starts): linear from 0 to the peak over the warm-up, then a cosine down to
    --final-learning-rate-fraction of the peak at the phase's last step, or the peak
    throughout with --decay constant."""
    peak = phase.learning_rate
    end = peak * config.final_learning_rate_fraction if config.decay == "cosine" else peak
    return optax.warmup_cosine_decay_schedule(0.0, peak, warmup_steps(config, phase, steps_per_epoch),
                                              phase.epochs * steps_per_epoch, end)


def make_optimizer(config: TrainConfig, phase: Phase, steps_per_epoch: int) -> optax.GradientTransformation:
    """The phase's optimizer: Adam on its learning-rate schedule, after clipping the
    gradients to a global norm of --clip-norm. Without warm-up, decay or clipping it is
    plain Adam at a constant rate, state and all, as runs trained before these settings."""
    constant = config.warmup_epochs == 0 and config.decay == "constant"
    adam = optax.adam(phase.learning_rate if constant else learning_rate_schedule(config, phase, steps_per_epoch))
    if config.clip_norm == 0:
        return adam
    return optax.chain(optax.clip_by_global_norm(config.clip_norm), adam)


# The least fall of the validation loss that counts as an improvement.
MIN_IMPROVEMENT = 1e-6


def improves(validation_loss: float, best_loss: float) -> bool:
    return validation_loss < best_loss - MIN_IMPROVEMENT


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Early stopping as a value, like Keras' EarlyStopping: `update` returns the state
    after one more epoch's validation loss and leaves this one as it was. Each phase
    starts a new one: it judges the phase against the phase's own best."""

    patience: int
    best_loss: float = math.inf
    best_epoch: int = 0  # 0: no epoch yet
    epochs_without_improvement: int = 0

    def update(self, validation_loss: float, epoch: int) -> "EarlyStopping":
        if improves(validation_loss, self.best_loss):
            return dataclasses.replace(self, best_loss=validation_loss, best_epoch=epoch, epochs_without_improvement=0)
        return dataclasses.replace(self, epochs_without_improvement=self.epochs_without_improvement + 1)

    @property
    def should_stop(self) -> bool:
        return self.epochs_without_improvement >= self.patience


@dataclasses.dataclass(frozen=True)
class Progress:
    """What a checkpoint must remember to resume exactly where training stopped: the
    phase's early stopping, and apart from it the best epoch of every phase so far, whose
    weights the next phase and the final model start from."""

    stopping: EarlyStopping  # this phase's
    phase: int = 0
    epoch_in_phase: int = 0  # epochs of `phase` completed
    phase_finished: bool = False
    global_epoch: int = 0  # also the checkpoint step
    best_epoch: int = 0  # over all phases; 0: no epoch yet
    best_loss: float = math.inf

    def has_finished(self, phase: int) -> bool:
        return phase < self.phase or (phase == self.phase and self.phase_finished)

    def start_phase(self, phase: int, patience: int) -> "Progress":
        """The progress a new phase starts from: its own early stopping, the best so far kept."""
        return dataclasses.replace(self, stopping=EarlyStopping(patience), phase=phase, epoch_in_phase=0,
                                   phase_finished=False)

    def after_epoch(self, epoch: "Epoch", validation_loss: float) -> "Progress":
        """The progress once `epoch` of this phase has validated at `validation_loss`."""
        stopping = self.stopping.update(validation_loss, epoch.number)
        best = improves(validation_loss, self.best_loss)
        return dataclasses.replace(
            self, stopping=stopping, epoch_in_phase=epoch.in_phase,
            phase_finished=stopping.should_stop or epoch.in_phase == epoch.phase.epochs, global_epoch=epoch.number,
            best_epoch=epoch.number if best else self.best_epoch, best_loss=validation_loss if best else self.best_loss,
        )

    def to_checkpoint(self) -> dict[str, Any]:
        """The checkpoint's record: flat, with the keys runs have always stored (best_epoch
        and best_val_loss: over all phases) and the phase's own best beside them."""
        return {
            "phase": self.phase, "epoch_in_phase": self.epoch_in_phase, "phase_finished": self.phase_finished,
            "global_epoch": self.global_epoch, "best_epoch": self.best_epoch, "best_val_loss": self.best_loss,
            "phase_best_epoch": self.stopping.best_epoch, "phase_best_val_loss": self.stopping.best_loss,
            "epochs_without_improvement": self.stopping.epochs_without_improvement,
        }

    @classmethod
    def from_checkpoint(cls, record: dict[str, Any], patience: int) -> "Progress":
        # Runs checkpointed before phases kept their own best judged each phase against the best of all.
        stopping = EarlyStopping(patience, record.get("phase_best_val_loss", record["best_val_loss"]),
                                 record.get("phase_best_epoch", record["best_epoch"]), record["epochs_without_improvement"])
        return cls(stopping, record["phase"], record["epoch_in_phase"], record["phase_finished"], record["global_epoch"],
                   record["best_epoch"], record["best_val_loss"])


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
    """The output of fit: the prepared run, where training ended, and the validation
    predictor (its inputs already on the devices, its pass compiled) that finalize scores
    the best weights with."""

    run: PreparedRun
    progress: Progress
    validation: "ValidationPredictor"


def train(config: TrainConfig, resume: bool = False) -> RunPaths:
    paths = RunPaths(Path(config.out))
    # Resuming a finished run must not choose its threshold and fit its gate again over what
    # `cataract operating-point` chose since; one with a damaged checkpoint resumes to mend it.
    if resume and (verdict := finished_and_intact(paths)) is not None:
        log.info("%s finished training already (verdict: %s) and its checkpoints are intact: nothing to resume; "
                 "its threshold, gate and verdict are kept (`cataract operating-point %s --operating-point RULE` "
                 "or `--fit-gate` chooses them again)", paths.root, verdict.text, paths.root)
        return paths
    return finalize(fit(prepare_run(config, resume)))


def finished_and_intact(paths: RunPaths) -> Verdict | None:
    """The verdict of a run that finished (the verdict is the last thing training writes)
    and whose newest and best checkpoints are as they were saved; None when resuming it
    has work to do."""
    # The stored verdict only: a run killed after its scores but before its gate has work left.
    if not paths.config.is_file() or (verdict := stored_verdict(paths)) is None:
        return None
    manager = checkpoint_manager(paths, read_only=True)
    try:
        latest = manager.latest_step()
        if latest is None or checkpoint_problem(paths, latest):
            return None
        best = int(restore_progress(manager, latest)["best_epoch"])
    finally:
        manager.close()
    return None if checkpoint_problem(paths, best) else verdict


# -- stage 1: prepare ---------------------------------------------------------------------


def prepare_run(config: TrainConfig, resume: bool = False) -> PreparedRun:
    paths = RunPaths(Path(config.out))
    if paths.root.exists() and not paths.root.is_dir():
        raise UserError(f"--out {paths.root} is a file, not a folder: choose another --out")
    # A folder with files but neither of a run's first two (split.json, then config.json) is not
    # a run, killed or finished (the photos' folder, say): a run written there would mix with
    # its files or overwrite them. Every process asks, and all answer alike: process 0 writes
    # split.json before anything else, and only after this check.
    started = paths.split.is_file() or paths.config.is_file()
    if not resume and not started and (foreign := foreign_files(paths.root)):
        raise UserError(f"--out {paths.root} holds files but no training run (e.g. {foreign[0].name}): "
                        "choose an empty or new folder")
    has_checkpoints = paths.checkpoints.is_dir() and any(paths.checkpoints.iterdir())
    if resume and not has_checkpoints:
        raise UserError(f"--resume: {paths.root} has no checkpoint to resume from")
    if not resume and has_checkpoints:
        raise UserError(f"{paths.root} already holds a run: add --resume to continue it, or choose another --out")
    resume_point = find_resume_point(paths, config) if resume else None
    if resume_point is not None:
        config = resume_point.config
    splits = photos.discover(config.data)
    if "train" not in splits:
        raise UserError(f"{config.data} has a test/ split but no train/ split to learn from")
    # A model built anew (a new run, or one whose every checkpoint was damaged) needs its
    # weights: read them before the photos are, so a wrong --weights fails at once.
    fresh = resume_point is None or resume_point.checkpoint is None
    weights = pretrained.resolve(config.weights) if fresh else None
    # Every process scans and splits alike (the split is seeded); only process 0 writes.
    scanned, unreadable = photos.scan(splits["train"], "reading training photos")
    if resume_point is not None:
        train_images, validation_images = saved_split(resume_point.split, scanned)
    else:
        test, _ = photos.scan(splits.get("test", []), "reading test photos")
        train_images, validation_images, split_record = new_split(config, scanned, test, unreadable)
        config = config.resolved(jax.default_backend(), jax.device_count(), jax.process_count(), os.cpu_count() or 1,
                                 len(train_images))
    check_run_settings(config, len(train_images))
    # Made only once the photos were found and split and the settings fit them: a mistyped
    # --data or a refused setting leaves no run folder behind.
    paths.root.mkdir(parents=True, exist_ok=True)
    if resume_point is None and is_writer():
        write_json(paths.split, split_record)
    parallel = DataParallel.global_mesh(config.batch_size)
    local = DataParallel.local_mesh(config.batch_size)

    if fresh:  # a new run, or one whose every checkpoint was damaged: that one starts again
        model = new_model(config, paths, weights, train_images, validation_images, len(unreadable))
    else:
        model = VGG16(resume_point.model_config, rngs=nnx.Rngs(config.seed))  # fit restores the checkpoint's weights
    return PreparedRun(
        config=config, paths=paths, train=train_images, validation=validation_images, model=model,
        parallel=parallel, local=local, resume=resume_point,
        cache_block=POOLINGS - config.unfreeze_blocks if config.augmented_views else 0,
    )


def foreign_files(folder: Path) -> list[Path]:
    """What a folder holds besides hidden files and a new volume's lost+found, sorted."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if not path.name.startswith(".") and path.name != "lost+found")


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
        if progress.best_epoch not in manager.all_steps():
            log.warning("the best checkpoint (epoch %d) is gone: epoch %d counts as the best so far",
                        progress.best_epoch, latest)
            progress = dataclasses.replace(progress, best_epoch=latest)
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


def check_run_settings(config: TrainConfig, train_count: int) -> None:
    """Settings (every "auto" decided) that cannot train on these photos or this machine."""
    if train_count < config.batch_size:
        raise UserError(f"--batch-size {config.batch_size} is larger than the {train_count} training photos")
    if config.augmented_views and jax.process_count() > 1:
        raise UserError("the frozen-feature cache (--augmented-views > 0) trains on one process: "
                        "pass --augmented-views 0 to train on several")
    if config.augmented_views and config.head_blocks > config.unfreeze_blocks + 1:
        raise UserError(f"--head-blocks {config.head_blocks} reads blocks the frozen-feature cache does not keep (it "
                        f"holds block {POOLINGS - config.unfreeze_blocks}'s output): use --head-blocks at most "
                        f"{config.unfreeze_blocks + 1}, or --augmented-views 0")


def new_split(config: TrainConfig, scanned: list[ScannedImage], test: list[ScannedImage],
              unreadable: list[photos.UnreadableFile]) -> tuple[list[ScannedImage], list[ScannedImage], dict]:
    """Apply the data checks and split train/ into train and validation; also the record
    of it all that split.json keeps."""
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
    record = {
        "train": [image.record.path for image in train_images],
        "validation": [image.record.path for image in validation_images],
        "content_hashes": {image.record.path: image.content_hash for image in train_images + validation_images},
        "unreadable": [dataclasses.asdict(bad) for bad in unreadable],
        "dropped_label_conflicts": check.dropped,
        "relabelled": check.relabelled,
        "leaked_test": check.leaked_test,
    }
    return train_images, validation_images, record


def new_model(config: TrainConfig, paths: RunPaths, weights: pretrained.PretrainedWeights | None,
              train_images: list[ScannedImage], validation_images: list[ScannedImage], unreadable_count: int) -> VGG16:
    """A freshly initialised VGG16 with the pretrained weights merged in; config.json written."""
    model_config = ModelConfig(
        image_size=config.image_size,
        width=config.width,
        dropout=config.dropout,
        # Random weights learn best from unit-scale inputs: torchvision's normalisation.
        preprocessing=weights.preprocessing if weights else "torch",
        compute_dtype=config.compute_dtype,
        head_blocks=config.head_blocks,
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
    """What the phases of one fit share: the run, its checkpoints, the batches each epoch
    trains on, the predictor that validates it, and the curves it draws."""

    run: PreparedRun
    cache: FrozenFeatureCache | None
    manager: AsyncCheckpoints
    batches: TrainingBatches
    validation: ValidationPredictor
    curves: TrainingCurves


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
    auc: float  # ROC AUC of P(cataract)


@dataclasses.dataclass(frozen=True)
class EpochResult:
    epoch: Epoch
    train: EpochMetrics
    validation: ValidationMetrics
    learning_rate: float  # the rate of the epoch's last step
    seconds: float  # steps (the phase's compilation in its first epoch) and validation
    validation_seconds: float
    best: bool  # the lowest validation loss so far, over all phases

    def record(self) -> dict[str, Any]:
        """The epoch's line of metrics.jsonl."""
        return {
            "epoch": self.epoch.number, "phase": self.epoch.phase.name, "epoch_in_phase": self.epoch.in_phase,
            "train_loss": self.train.loss, "train_accuracy": self.train.accuracy,
            "val_loss": self.validation.loss, "val_accuracy": self.validation.accuracy, "val_auc": self.validation.auc,
            "learning_rate": self.learning_rate, "seconds": self.seconds, "validation_seconds": self.validation_seconds,
            "train_images_per_second": self.train.photos / self.seconds, "best": self.best,
        }


def fit(run: PreparedRun) -> FittedRun:
    """Every phase's epochs, from the resume point if there is one. Checkpoints are
    written while the next epoch trains; SIGTERM ends training once the one in flight is
    complete (training/preemption.py)."""
    checkpoints = AsyncCheckpoints(run.paths, writer=is_writer())
    with preemption.exit_on_sigterm(checkpoints.wait):
        progress = run.resume.progress if run.resume else Progress(EarlyStopping(run.config.patience))
        if run.resume is not None and run.resume.checkpoint is not None:
            # A resumed model is built without its pretrained weights: its frozen blocks must
            # hold the checkpoint's before the cache is computed with them.
            restore_weights(run, checkpoints, run.resume.checkpoint)
        cache = None
        if run.cache_block > 0:
            cache = FrozenFeatureCache.build(run.config, run.model, run.cache_block, run.local,
                                             [image.record for image in run.train],
                                             [image.record for image in run.validation])
        fitting = Fitting(run, cache, checkpoints, TrainingBatches(run, cache, progress.global_epoch + 1),
                          ValidationPredictor(run, cache), TrainingCurves.open(run.paths.root, enabled=is_writer()))
        watch = CollapseWatch()  # one over all phases: a collapse that outlasts a phase is one collapse
        run.model.train()
        try:
            with fitting.curves:
                for index, phase in enumerate(training_phases(run.config)):
                    if not progress.has_finished(index):
                        progress, watch = fit_phase(fitting, index, phase, progress, watch)
        finally:  # the save in flight completes (or its error surfaces) whatever ended training
            checkpoints.close()
    return FittedRun(run, progress, fitting.validation)


def fit_phase(fitting: Fitting, index: int, phase: Phase, progress: Progress,
              watch: CollapseWatch) -> tuple[Progress, CollapseWatch]:
    """One phase: its optimizer, continued from the resume point when that lies inside the
    phase, else new on the best weights so far; then its epochs, until its own early
    stopping ends it."""
    run, model, steps = fitting.run, fitting.run.model, fitting.batches.steps
    continuing = index == progress.phase and progress.epoch_in_phase > 0
    if not continuing:
        if progress.global_epoch > 0:  # a new phase starts from the best weights so far
            restore_weights(run, fitting.manager, progress.best_epoch)
        progress = progress.start_phase(index, run.config.patience)
    if index == 0 and progress.global_epoch == 0 and run.config.head_init == "probe":
        start_head_as_probe(run, fitting.cache)  # once, on a new run: resumed runs restore their head
    if phase.epochs == 0:
        return dataclasses.replace(progress, phase_finished=True), watch
    trainable = trainable_filter(phase.first_trainable_block)
    optimizer = nnx.Optimizer(model, make_optimizer(run.config, phase, steps), wrt=trainable)
    if continuing:
        model_state, optimizer_state = restore_states(
            fitting.manager, run.resume.checkpoint, run.parallel.abstract(nnx.state(model)),
            run.parallel.abstract(nnx.state(optimizer)))
        nnx.update(model, model_state)
        nnx.update(optimizer, optimizer_state)
    log.info(
        "phase %s: %d epochs of %d steps (batch %d), %s; training %s",
        phase.name, phase.epochs, steps, run.config.batch_size, describe_optimizer(run.config, phase, steps),
        "the head" if phase.first_trainable_block == POOLINGS else f"blocks {phase.first_trainable_block + 1}-{POOLINGS} and the head",
    )
    schedule = learning_rate_schedule(run.config, phase, steps)
    graphdef, state = nnx.split((model, optimizer))
    state = run.parallel.replicate(state)
    train_step = make_train_step(graphdef, trainable, run.cache_block, fitting.cache is not None, run.config.label_smoothing)
    for in_phase in range(progress.epoch_in_phase + 1, phase.epochs + 1):
        started = time.perf_counter()
        epoch = Epoch(phase, in_phase, progress.global_epoch + 1)
        state, train_metrics = train_epoch(fitting, train_step, schedule, state, epoch)
        nnx.update((model, optimizer), state)
        validating = time.perf_counter()
        validation, probabilities = validate(fitting.validation, run.validation_labels)
        progress = progress.after_epoch(epoch, validation.loss)
        ended = time.perf_counter()
        result = EpochResult(epoch, train_metrics, validation, learning_rate_at(schedule, epoch, steps, steps),
                             ended - started, ended - validating, best=progress.best_epoch == epoch.number)
        last_of_phase = in_phase == phase.epochs or progress.stopping.should_stop
        record_epoch(fitting, optimizer, progress, result, save=fitting.manager.due(
            result.best or last_of_phase, run.config.checkpoint_every_seconds))
        log_epoch(result)
        watch = watch_for_collapse(watch, epoch, validation, probabilities)
        if progress.stopping.should_stop:
            log.info("early stop: no validation improvement on the %s phase's best for %d epochs",
                     phase.name, progress.stopping.patience)
            break
    return progress, watch


def describe_optimizer(config: TrainConfig, phase: Phase, steps_per_epoch: int) -> str:
    """The phase's learning rates and clipping, in words for the log."""
    warmup = warmup_steps(config, phase, steps_per_epoch)
    parts = [f"peak learning rate {phase.learning_rate:g}" + (f" after {warmup} warm-up steps" if warmup else "")]
    if config.decay == "cosine":
        parts.append(f"cosine decay to {phase.learning_rate * config.final_learning_rate_fraction:g}")
    if config.clip_norm:
        parts.append(f"gradients clipped to global norm {config.clip_norm:g}")
    return ", ".join(parts)


def learning_rate_at(schedule: optax.Schedule, epoch: Epoch, steps_per_epoch: int, done: int) -> float:
    """The rate the epoch's `done`-th step trained at: the schedule counts the phase's
    optimizer steps from 0."""
    return float(schedule((epoch.in_phase - 1) * steps_per_epoch + done - 1))


def train_epoch(fitting: Fitting, train_step: Callable, schedule: optax.Schedule, state,
                epoch: Epoch) -> tuple[Any, EpochMetrics]:
    """One epoch's steps over its batches, as `train_epoch` in Flax's MNIST example:
    (state, epoch) -> (new state, the epoch's training metrics). Loss and accuracy stay
    summed on the devices, read back every log_every steps and at the epoch's end for the
    progress bar and the curves (at the global optimizer step). Batches are put on the
    devices two ahead of the step, so it never waits for a transfer."""
    run, parallel, steps = fitting.run, fitting.run.parallel, fitting.batches.steps
    epoch_key = jax.random.fold_in(jax.random.key(run.config.seed), epoch.number)
    bar = tqdm(total=steps, desc=epoch.description, unit="batch", leave=False, disable=not is_writer())

    def log_interval(done: int, so_far: EpochMetrics) -> None:
        bar.set_postfix(loss=f"{so_far.loss:.4f}", acc=f"{so_far.accuracy:.3f}")
        fitting.curves.step((epoch.number - 1) * steps + done, so_far.loss, so_far.accuracy,
                            learning_rate_at(schedule, epoch, steps, done))

    metrics = parallel.replicate(zero_metrics())
    done = 0
    for done, batch in enumerate(prefetch_to_device(fitting.batches.epoch(epoch.number), parallel.shard), start=1):
        state, metrics = train_step(state, metrics, batch["image"], batch["label"], jax.random.fold_in(epoch_key, done - 1),
                                    augmentation_of(batch))
        bar.update()
        if done % run.config.log_every == 0 and done < steps:  # the one host sync, every log_every steps
            log_interval(done, EpochMetrics.from_sums(host_value(metrics)))
    epoch_metrics = EpochMetrics.from_sums(host_value(metrics))
    log_interval(done, epoch_metrics)
    bar.close()
    return state, epoch_metrics


def validate(predictor: ValidationPredictor, labels: np.ndarray) -> tuple[ValidationMetrics, np.ndarray]:
    """The epoch's validation figures, and the class probabilities they come from."""
    probabilities = predictor()
    metrics = ValidationMetrics(cross_entropy(probabilities, labels), float((probabilities.argmax(-1) == labels).mean()),
                                roc_auc(labels == CATARACT, probabilities[:, CATARACT]))
    return metrics, probabilities


def watch_for_collapse(watch: CollapseWatch, epoch: Epoch, validation: ValidationMetrics,
                       probabilities: np.ndarray) -> CollapseWatch:
    """The watch after this epoch; what it has to say is logged, as a warning while the
    model has collapsed or sits at chance."""
    watch, message = watch.update(epoch.number, validation.auc, probabilities[:, CATARACT])
    if message is not None:
        (log.warning if watch.reported(epoch.number) else log.info)("%s", message)
    return watch


def restore_weights(run: PreparedRun, manager: ocp.CheckpointManager | AsyncCheckpoints, epoch: int) -> None:
    """The epoch's weights into the model (from AsyncCheckpoints once the save in flight is complete)."""
    model_state, _ = restore_states(manager, epoch, run.parallel.abstract(nnx.state(run.model)))
    nnx.update(run.model, model_state)


def record_epoch(fitting: Fitting, optimizer: nnx.Optimizer, progress: Progress, result: EpochResult,
                 save: bool = True) -> None:
    """The epoch's checkpoint when `save` (every process saves its part, in the background),
    its line of metrics.jsonl and its curves, which SIGTERM does not separate. The checksums
    that mark the checkpoint complete follow once its save has (AsyncCheckpoints): a run
    killed before them resumes from the last complete checkpoint, forgetting the lines of
    the epochs after it."""
    run = fitting.run
    saving = time.perf_counter()
    # The previous save is waited for outside the held section, so a SIGTERM meanwhile ends
    # training at once instead of waiting for two saves (a cluster's grace period is short).
    if save:
        fitting.manager.wait()
    with preemption.held():
        if save:
            fitting.manager.save(progress.global_epoch, nnx.state(run.model, nnx.Param), nnx.state(optimizer),
                                 progress.to_checkpoint(), result.validation.loss)
        if is_writer():
            # What the save held training up: waiting for the previous one, and the copy to host memory.
            record = {**result.record(), "checkpoint_seconds": time.perf_counter() - saving}
            append_epoch_metrics(run.paths, record)
            fitting.curves.epoch(result.epoch.number, record)


def log_epoch(result: EpochResult) -> None:
    epoch, train, validation = result.epoch, result.train, result.validation
    log.info(
        "epoch %d (%s %d/%d): loss %.4f acc %.3f | val loss %.4f acc %.3f AUC %.3f%s | lr %.2g | %.1fs, %.0f photos/s",
        epoch.number, epoch.phase.name, epoch.in_phase, epoch.phase.epochs, train.loss, train.accuracy,
        validation.loss, validation.accuracy, validation.auc, " (best)" if result.best else "", result.learning_rate,
        result.seconds, train.photos / result.seconds,
    )


class TrainingBatches:
    """Each epoch's shuffled, augmented batches: cached activations, or photos through one
    grain pipeline for all the epochs a run may still train, so its workers start once and
    stay ahead of the devices across epochs and phases. Photos are decoded once, when their
    pixels fit in --cache-memory-gb (DecodedPhotos), so the workers only draw each photo's
    augmentation, which the training step applies on the devices."""

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
                decoded=decode_once(run, records), augment_on_device=True,
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
    """The model's class probabilities on the validation photos, in one jitted pass. Their
    inputs (the cache's activations, or the photos decoded once) are put on the devices
    once, in chunks of the batch size; each call runs the model over every chunk on the
    devices and reads back only the probabilities. Each process predicts every validation
    photo on its own devices: validation is small, and every process then takes the same
    early-stopping decision."""

    def __init__(self, run: PreparedRun, cache: FrozenFeatureCache | None):
        self.run = run
        if cache is not None:
            inputs = cache.validation
        else:
            inputs = np.concatenate([batch["image"] for batch in epoch_batches(
                [image.record for image in run.validation], image_size=run.config.image_size,
                batch_size=run.config.batch_size, workers=run.config.workers)])
        self.count = len(inputs)
        self._chunks = put_chunks(inputs, run.local)
        self._first_block = run.cache_block if cache is not None else 0
        self._predict: Callable | None = None

    def __call__(self) -> np.ndarray:
        run = self.run
        run.model.eval()
        graphdef, state = nnx.split(run.model, nnx.Param)
        run.model.train()
        if self._predict is None:
            self._predict = make_predict_chunks(graphdef, self._first_block)
        probabilities = self._predict(run.local.replicate(local_values(state)), self._chunks)
        return np.asarray(probabilities).reshape(-1, probabilities.shape[-1])[: self.count]


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())


# -- stage 3: finalize --------------------------------------------------------------------


def finalize(fitted: FittedRun) -> RunPaths:
    """Restore the best epoch's weights, write its validation scores, choose the decision
    threshold on them (the one threshold evaluate and export use), and judge the run: its
    verdict goes to RUN/metrics.json, and export refuses a run that did not learn."""
    run, best = fitted.run, fitted.progress.best_epoch
    manager = checkpoint_manager(run.paths)
    restore_weights(run, manager, best)
    manager.close()
    # Rounded as val_predictions.csv stores them, so the threshold is one of the recorded scores.
    scores = np.round(fitted.validation()[:, CATARACT].astype(np.float64), 6)
    labels = run.validation_labels
    if not is_writer():
        return run.paths
    write_predictions(run.paths.validation_predictions, [image.record.path for image in run.validation], list(labels), scores)
    chosen = threshold_record(OperatingPoint.parse(run.config.operating_point), labels == CATARACT, scores, best)
    write_json(run.paths.threshold, chosen)
    log_threshold(chosen)
    # The gradability gate, fitted on the training photos with the weights just restored.
    fit_and_save_gate(run.model, run.train, run.validation, run.paths.root, workers=run.config.workers)
    # The log's last line: the validation AUC with its 95% interval, and whether that beats chance.
    verdict = judge(labels == CATARACT, scores)
    write_verdict(run.paths, verdict)
    (log.info if verdict.learned else log.warning)("verdict: %s", verdict.text)
    return run.paths
