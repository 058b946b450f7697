"""Fine-tuning VGG16 in the earlier project's two phases, as three stages:

    prepare_run   scan the photos, run the data checks, split, write the run folder
                  (or, with --resume, read all of that back from the run folder)
    fit           the loop: pure step functions, validation, checkpoints, early stopping
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
from typing import Callable, Iterator

import jax
import numpy as np
import optax
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
from train_jax.training.steps import make_train_step, zero_metrics
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


@dataclasses.dataclass
class Progress:
    """What a checkpoint must remember to resume exactly where training stopped."""

    phase: int = 0
    epoch_in_phase: int = 0  # epochs of `phase` completed
    phase_finished: bool = False
    global_epoch: int = 0  # also the checkpoint step
    best_epoch: int = 0
    best_val_loss: float = math.inf
    epochs_without_improvement: int = 0


@dataclasses.dataclass(frozen=True)
class ResumePoint:
    """Everything --resume takes from the run folder; found in one place, `find_resume_point`."""

    config: TrainConfig  # the run's own settings
    split: dict  # split.json
    model_config: ModelConfig
    checkpoint: int | None  # the newest intact checkpoint, None if every one is damaged
    progress: Progress


@dataclasses.dataclass
class PreparedRun:
    """The output of prepare_run: what fit and finalize work on."""

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
    cache: FrozenFeatureCache | None = None

    @property
    def train_labels(self) -> np.ndarray:
        return np.array([image.record.label for image in self.train], np.int32)

    @property
    def validation_labels(self) -> np.ndarray:
        return np.array([image.record.label for image in self.validation], np.int32)


def train(config: TrainConfig, resume: bool = False) -> RunPaths:
    run = prepare_run(config, resume)
    fit(run)
    return finalize(run)


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

    if resume_point is not None:
        model = VGG16(resume_point.model_config, rngs=nnx.Rngs(config.seed))
    else:
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
    progress = Progress()
    if latest is not None:
        progress = Progress(**restore_progress(manager, latest))
        if progress.best_epoch not in manager.all_steps():
            log.warning("the best checkpoint (epoch %d) is gone: epoch %d counts as the best so far", progress.best_epoch, latest)
            progress.best_epoch = latest
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


def fit(run: PreparedRun) -> None:
    """Every phase's epochs, from the resume point if there is one."""
    config, model = run.config, run.model
    manager = checkpoint_manager(run.paths)
    progress = dataclasses.replace(run.resume.progress) if run.resume else Progress()
    if run.cache_block > 0 and run.cache is None:
        run.cache = FrozenFeatureCache.build(config, model, run.cache_block, run.local,
                                             [image.record for image in run.train], [image.record for image in run.validation])
    batches = TrainingBatches(run, progress.global_epoch + 1)
    model.train()
    for phase_index, phase in enumerate(training_phases(config)):
        if phase_index < progress.phase or (phase_index == progress.phase and progress.phase_finished):
            continue
        trainable = trainable_filter(phase.first_trainable_block)
        optimizer = nnx.Optimizer(model, optax.adam(phase.learning_rate), wrt=trainable)
        if phase_index == progress.phase and progress.epoch_in_phase > 0:  # continue this phase
            model_state, optimizer_state = restore_states(
                manager, run.resume.checkpoint, run.parallel.abstract(nnx.state(model)), run.parallel.abstract(nnx.state(optimizer)))
            nnx.update(model, model_state)
            nnx.update(optimizer, optimizer_state)
        else:
            if progress.global_epoch > 0:  # a new phase starts from the best weights so far
                model_state, _ = restore_states(manager, progress.best_epoch, run.parallel.abstract(nnx.state(model)))
                nnx.update(model, model_state)
            progress = dataclasses.replace(progress, phase=phase_index, epoch_in_phase=0, phase_finished=False,
                                           epochs_without_improvement=0)
        if phase.epochs == 0:
            progress.phase_finished = True
            continue
        progress = fit_phase(run, phase, optimizer, trainable, manager, progress, batches)
    manager.close()


def fit_phase(run: PreparedRun, phase: Phase, optimizer, trainable, manager, progress: Progress,
              batches: TrainingBatches) -> Progress:
    config, model, parallel = run.config, run.model, run.parallel
    use_cache = run.cache is not None
    graphdef, state = nnx.split((model, optimizer))
    state = parallel.replicate(state)
    train_step = make_train_step(graphdef, trainable, run.cache_block, use_cache, config.label_smoothing)
    log.info(
        "phase %s: %d epochs at learning rate %g (batch %d), training %s",
        phase.name, phase.epochs, phase.learning_rate, config.batch_size,
        "the head" if phase.first_trainable_block == POOLINGS else f"blocks {phase.first_trainable_block + 1}-{POOLINGS} and the head",
    )
    validation_predictor = ValidationPredictor(run)
    for epoch in range(progress.epoch_in_phase, phase.epochs):
        started = time.perf_counter()
        global_epoch = progress.global_epoch + 1
        epoch_key = jax.random.fold_in(jax.random.key(config.seed), global_epoch)
        bar = tqdm(total=batches.steps, desc=f"{phase.name} epoch {epoch + 1}/{phase.epochs}", unit="batch", leave=False,
                   disable=not is_writer())
        metrics = parallel.replicate(zero_metrics())
        for step, batch in enumerate(batches.epoch(global_epoch)):
            state, metrics = train_step(
                state, metrics, parallel.shard(batch["image"]), parallel.shard(batch["label"]),
                jax.random.fold_in(epoch_key, step),
            )
            bar.update()
            if (step + 1) % config.log_every == 0:  # the one host sync, every log_every steps
                loss_sum, correct, seen = host_value(metrics)
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.3f}")
        bar.close()
        loss_sum, correct, seen = host_value(metrics)
        nnx.update((model, optimizer), state)
        probabilities = validation_predictor()
        val_loss = cross_entropy(probabilities, run.validation_labels)
        val_accuracy = float((probabilities.argmax(-1) == run.validation_labels).mean())
        improved = val_loss < progress.best_val_loss - 1e-6
        progress.global_epoch = global_epoch
        progress.epoch_in_phase = epoch + 1
        if improved:
            progress.best_val_loss, progress.best_epoch, progress.epochs_without_improvement = val_loss, global_epoch, 0
        else:
            progress.epochs_without_improvement += 1
        stop_early = progress.epochs_without_improvement >= config.patience
        progress.phase_finished = stop_early or epoch + 1 == phase.epochs
        seconds = time.perf_counter() - started
        record = {
            "epoch": global_epoch, "phase": phase.name, "epoch_in_phase": epoch + 1,
            "train_loss": float(loss_sum / max(seen, 1)), "train_accuracy": float(correct / max(seen, 1)),
            "val_loss": val_loss, "val_accuracy": val_accuracy, "learning_rate": phase.learning_rate,
            "seconds": seconds, "train_images_per_second": float(seen / seconds), "best": improved,
        }
        save_checkpoint(manager, global_epoch, nnx.state(model, nnx.Param), nnx.state(optimizer), dataclasses.asdict(progress), val_loss)
        if is_writer():
            append_epoch_metrics(run.paths, record)
            record_checksums(run.paths, global_epoch)
        log.info(
            "epoch %d (%s %d/%d): loss %.4f acc %.3f | val loss %.4f acc %.3f%s | %.1fs, %.0f photos/s",
            global_epoch, phase.name, epoch + 1, phase.epochs, record["train_loss"], record["train_accuracy"],
            val_loss, val_accuracy, " (best)" if improved else "", seconds, record["train_images_per_second"],
        )
        if stop_early:
            log.info("early stop: no validation improvement for %d epochs", config.patience)
            break
    return progress


class TrainingBatches:
    """Each epoch's shuffled, augmented batches: cached activations, or photos through one
    grain pipeline for all the epochs a run may still train, so its workers start once and
    stay ahead of the devices across epochs and phases. Photos are decoded once, when their
    pixels fit in --cache-memory-gb (DecodedPhotos), so the workers only augment."""

    def __init__(self, run: PreparedRun, first_epoch: int):
        config = run.config
        self.run, self.next_epoch = run, first_epoch
        self.steps = batch_count(len(run.train), config.batch_size, drop_remainder=True)
        self._photos = None
        if run.cache is None:
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
            return self.run.cache.epoch_batches(self.run.train_labels, config.batch_size, config.seed, global_epoch)
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

    def __init__(self, run: PreparedRun):
        self.run = run
        self._predict: Callable | None = None

    def __call__(self) -> np.ndarray:
        run, size = self.run, self.run.config.batch_size
        run.model.eval()
        graphdef, state = nnx.split(run.model, nnx.Param)
        run.model.train()
        state = run.local.replicate(local_values(state))
        if self._predict is None:
            self._predict = make_predict(graphdef, run.cache_block if run.cache is not None else 0)
        if run.cache is not None:
            chunks = (run.cache.validation[i : i + size] for i in range(0, len(run.cache.validation), size))
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


def finalize(run: PreparedRun) -> RunPaths:
    """Restore the best epoch's weights, write its validation scores, and choose the
    decision threshold on them: the one threshold evaluate and export use."""
    manager = checkpoint_manager(run.paths)
    best = restore_progress(manager, manager.latest_step())["best_epoch"]
    model_state, _ = restore_states(manager, best, run.parallel.abstract(nnx.state(run.model, nnx.Param)))
    manager.close()
    nnx.update(run.model, model_state)
    # Rounded as val_predictions.csv stores them, so the threshold is one of the recorded scores.
    scores = np.round(ValidationPredictor(run)()[:, CATARACT].astype(np.float64), 6)
    labels = run.validation_labels
    if not is_writer():
        return run.paths
    write_predictions(run.paths.validation_predictions, [image.record.path for image in run.validation], list(labels), scores)
    threshold = choose_threshold(labels == CATARACT, scores)
    write_json(run.paths.threshold, {"decision_threshold": threshold, "rule": THRESHOLD_RULE, "best_epoch": best,
                                     "validation_photos": len(labels)})
    log.info("decision threshold %.3f (%s)", threshold, THRESHOLD_RULE.split(":")[0])
    return run.paths
