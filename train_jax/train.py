"""Fine-tuning VGG16 in the earlier project's two phases, with pure jitted step functions.

Phase "head": the convolutional base is frozen and only the head learns. Phase
"finetune": the last `unfreeze_blocks` blocks learn too, at a lower rate. Each phase stops
early when the validation loss has not improved for `patience` epochs, and the next phase
(and the final model) starts from the best weights so far, as Keras' EarlyStopping with
restore_best_weights does.

Speed on a CPU comes from never running a backward pass through frozen layers and, with
`augmented_views > 0`, running the always-frozen blocks only once per image and view
(see FrozenFeatureCache).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Callable, Iterator

import jax
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm import tqdm

from train_jax import dataset as datasets
from train_jax import weights as pretrained
from train_jax.audit import check_training_data
from train_jax.augment import AugmentConfig
from train_jax.config import TrainConfig, read_json, write_json
from train_jax.dataset import CLASS_NAMES, ScannedImage
from train_jax.errors import UserError
from train_jax.inference import make_predict, pad_batch
from train_jax.model import POOLINGS, VGG16, ModelConfig, check_image_size, trainable_filter
from train_jax.pipeline import batch_count, epoch_batches
from train_jax.runs import (
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

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Phase:
    name: str
    epochs: int
    learning_rate: float
    first_trainable_block: int  # POOLINGS means: head only


def training_phases(config: TrainConfig) -> list[Phase]:
    return [
        Phase("head", config.head_epochs, config.learning_rate, POOLINGS),
        Phase("finetune", config.finetune_epochs, config.finetune_learning_rate, POOLINGS - config.unfreeze_blocks),
    ]


def validate(config: TrainConfig) -> None:
    check_image_size(config.image_size)
    if config.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {config.batch_size}")
    if config.head_epochs < 0 or config.finetune_epochs < 0 or config.head_epochs + config.finetune_epochs == 0:
        raise UserError("--head-epochs and --finetune-epochs must be >= 0 and not both 0")
    if not 0 <= config.unfreeze_blocks <= POOLINGS:
        raise UserError(f"--unfreeze-blocks must be between 0 and {POOLINGS}, got {config.unfreeze_blocks}")
    if not 0.0 <= config.label_smoothing < 1.0:
        raise UserError(f"--label-smoothing must be in [0, 1), got {config.label_smoothing}")
    if not 0.0 <= config.dropout < 1.0:
        raise UserError(f"--dropout must be in [0, 1), got {config.dropout}")
    if config.width <= 0 or config.width > 1:
        raise UserError(f"--width must be in (0, 1], got {config.width}")
    if config.learning_rate <= 0 or config.finetune_learning_rate <= 0:
        raise UserError("learning rates must be positive")
    if config.augmented_views < 0 or config.patience < 1 or config.workers < 0:
        raise UserError("--augmented-views and --workers must be >= 0 and --patience >= 1")


class DataParallel:
    """A 1-D mesh over all local devices: batches split along it, parameters replicated."""

    def __init__(self, batch_size: int):
        devices = jax.local_devices()
        if batch_size % len(devices):
            raise UserError(
                f"--batch-size {batch_size} does not split evenly over {len(devices)} devices"
            )
        self.mesh = Mesh(np.array(devices), ("data",))
        self.device_count = len(devices)
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.batch = NamedSharding(self.mesh, PartitionSpec("data"))

    def replicate(self, tree):
        return jax.device_put(tree, self.replicated)

    def shard(self, array: np.ndarray) -> jax.Array:
        return jax.device_put(array, self.batch)


# -- pure step functions ------------------------------------------------------------------


def make_train_step(graphdef, trainable, cache_block: int, inputs_are_features: bool, label_smoothing: float):
    """(state, inputs, labels, key) -> (state, loss, correct); state is nnx (model, optimizer)."""

    def loss_fn(model: VGG16, inputs, labels, rngs):
        frozen = inputs if inputs_are_features else model.trunk(model.preprocess(inputs), 0, cache_block)
        features = model.trunk(jax.lax.stop_gradient(frozen), cache_block, POOLINGS)
        logits = model.classify(features, rngs)
        targets = optax.smooth_labels(jax.nn.one_hot(labels, len(CLASS_NAMES)), label_smoothing)
        loss = optax.softmax_cross_entropy(logits, targets).mean()
        return loss, logits

    @jax.jit
    def train_step(state, inputs, labels, key):
        model, optimizer = nnx.merge(graphdef, state)
        grad_fn = nnx.value_and_grad(loss_fn, argnums=nnx.DiffState(0, trainable), has_aux=True)
        (loss, logits), grads = grad_fn(model, inputs, labels, nnx.Rngs(dropout=key))
        optimizer.update(model, grads)
        correct = (logits.argmax(-1) == labels).sum()
        return nnx.state((model, optimizer)), loss, correct

    return train_step


def make_frozen_features(graphdef, cache_block: int) -> Callable:
    @jax.jit
    def frozen_features(state, images):
        model = nnx.merge(graphdef, state)
        return model.trunk(model.preprocess(images), 0, cache_block)

    return frozen_features


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())


# -- input sources ------------------------------------------------------------------------


class FrozenFeatureCache:
    """Activations entering block `cache_block`, computed once: `views` augmented views of
    every training photo and one plain view of every validation photo.

    Blocks before `cache_block` are frozen in both phases, so their output for a given
    input never changes: computing it once per view and reusing it across epochs is
    exact. Epochs then pick one of each photo's views at random, which trades fresh
    augmentation every epoch for a fixed pool of `views` augmentations per photo.
    """

    def __init__(self, train: np.ndarray, validation: np.ndarray):
        self.train = train  # (views, photos, h, w, c)
        self.validation = validation  # (photos, h, w, c)

    @staticmethod
    def bytes_needed(config: TrainConfig, model_config: ModelConfig, cache_block: int, train_count: int, validation_count: int) -> int:
        side = config.image_size // 2**cache_block
        channels = model_config.block_channels()[cache_block - 1]
        return 4 * side * side * channels * (config.augmented_views * train_count + validation_count)

    @classmethod
    def build(cls, config, parallel: DataParallel, frozen_features, model_state, train_records, validation_records):
        def run(records, seed_epoch, augment_config, description):
            chunks = []
            batches = epoch_batches(
                records, image_size=config.image_size, batch_size=config.batch_size,
                seed=config.seed, epoch=seed_epoch, augment_config=augment_config, workers=config.workers,
            )
            total = batch_count(len(records), config.batch_size, drop_remainder=False)
            for batch in tqdm(batches, total=total, desc=description, unit="batch", leave=False):
                count = len(batch["image"])
                images = parallel.shard(pad_batch(batch["image"], config.batch_size))
                chunks.append(np.asarray(frozen_features(model_state, images))[:count])
            return np.concatenate(chunks)

        views = [
            run(train_records, 10_000 + view, AugmentConfig(), f"frozen blocks, view {view + 1}/{config.augmented_views}")
            for view in range(config.augmented_views)
        ]
        validation = run(validation_records, 0, None, "frozen blocks, validation")
        return cls(np.stack(views), validation)

    def epoch_batches(self, labels: np.ndarray, batch_size: int, seed: int, epoch: int) -> Iterator[dict[str, np.ndarray]]:
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(labels))
        view_of_photo = rng.integers(len(self.train), size=len(labels))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            photos = order[start : start + batch_size]
            yield {"image": self.train[view_of_photo[photos], photos], "label": labels[photos]}


# -- the training loop --------------------------------------------------------------------


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


class Trainer:
    def __init__(self, config: TrainConfig, resume: bool = False):
        validate(config)
        self.config = config
        self.paths = RunPaths(Path(config.out))
        self._prepare_run_folder(resume)
        config = self.config  # --resume may have restored the run's own settings
        self.parallel = DataParallel(config.batch_size)
        self.train_images, self.validation_images = self._load_split(resume)
        self.train_records = [image.record for image in self.train_images]
        self.validation_records = [image.record for image in self.validation_images]
        self.train_labels = np.array([r.label for r in self.train_records], np.int32)
        self.validation_labels = np.array([r.label for r in self.validation_records], np.int32)
        if len(self.train_records) < config.batch_size:
            raise UserError(
                f"--batch-size {config.batch_size} is larger than the {len(self.train_records)} training photos"
            )
        self.model, self.model_config = self._build_model(resume)
        # Blocks before cache_block never train; 0 means nothing is cached.
        self.cache_block = POOLINGS - config.unfreeze_blocks if config.augmented_views else 0
        self.cache: FrozenFeatureCache | None = None
        self._predict: Callable | None = None

    # -- set-up --

    def _prepare_run_folder(self, resume: bool) -> None:
        has_checkpoints = self.paths.checkpoints.is_dir() and any(self.paths.checkpoints.iterdir())
        if resume and not has_checkpoints:
            raise UserError(f"--resume: {self.paths.root} has no checkpoint to resume from")
        if not resume and has_checkpoints:
            raise UserError(
                f"{self.paths.root} already holds a run: add --resume to continue it, or choose another --out"
            )
        if resume:
            saved = TrainConfig.from_json(read_json(self.paths.config)["train"])
            changed = [
                f.name for f in dataclasses.fields(TrainConfig)
                if f.name not in ("workers", "out") and getattr(saved, f.name) != getattr(self.config, f.name)
            ]
            if changed:
                log.warning("--resume keeps the run's original settings; ignoring changed %s", ", ".join(changed))
                self.config = dataclasses.replace(saved, workers=self.config.workers, out=self.config.out)
        self.paths.root.mkdir(parents=True, exist_ok=True)

    def _load_split(self, resume: bool) -> tuple[list[ScannedImage], list[ScannedImage]]:
        splits = datasets.discover(self.config.data)
        if "train" not in splits:
            raise UserError(f"{self.config.data} has a test/ split but no train/ split to learn from")
        scanned, unreadable = datasets.scan(splits["train"], "reading training photos")
        self.unreadable = unreadable
        if resume and self.paths.split.is_file():
            saved = read_json(self.paths.split)
            by_path = {image.record.path: image for image in scanned}
            missing = [p for p in saved["train"] + saved["validation"] if p not in by_path]
            if missing:
                raise UserError(f"--resume: {len(missing)} photos of the run's split are gone, e.g. {missing[0]}")
            relabelled = {path: CLASS_NAMES.index(label) for path, label in saved.get("relabelled", [])}

            def as_saved(path: str) -> ScannedImage:
                image = by_path[path]
                return datasets.with_label(image, relabelled[path]) if path in relabelled else image

            return [as_saved(p) for p in saved["train"]], [as_saved(p) for p in saved["validation"]]
        test, _ = datasets.scan(splits.get("test", []), "reading test photos")
        check = check_training_data(scanned, test, self.config.label_conflicts)
        self._report_data_check(check)
        datasets.require_both_classes([image.record for image in check.usable], f"{self.config.data} (train)")
        train, validation = datasets.split_train_validation(check.usable, self.config.validation_fraction, self.config.seed)
        datasets.require_both_classes([image.record for image in validation], "the validation split")
        write_json(
            self.paths.split,
            {
                "train": [image.record.path for image in train],
                "validation": [image.record.path for image in validation],
                "content_hashes": {image.record.path: image.content_hash for image in train + validation},
                "unreadable": [dataclasses.asdict(bad) for bad in unreadable],
                "dropped_label_conflicts": check.dropped,
                "relabelled": check.relabelled,
                "leaked_test": check.leaked_test,
            },
        )
        return train, validation

    def _report_data_check(self, check) -> None:
        if check.dropped:
            log.warning("label conflicts: dropped %d training photos whose copies carry the other label (--label-conflicts drop)", len(check.dropped))
        for path, label in check.relabelled:
            log.warning("label conflict: %s now counts as %s, the label most of its copies carry", path, label)
        if check.leaked_test:
            message = (
                f"{len(check.leaked_test)} test photos are copies of training photos (e.g. {check.leaked_test[0]}): "
                "a test score on them would not be honest"
            )
            if not self.config.allow_leakage:
                raise UserError(message + "; remove them (see `cataract audit`) or pass --allow-leakage")
            log.warning("%s; training anyway (--allow-leakage): `cataract evaluate` reports the score with and without them", message)

    def _build_model(self, resume: bool) -> tuple[VGG16, ModelConfig]:
        config = self.config
        if resume:
            info = read_json(self.paths.config)
            model_config = ModelConfig(**info["model"])
            return VGG16(model_config, rngs=nnx.Rngs(config.seed)), model_config
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
        everything = self.train_images + self.validation_images
        write_json(
            self.paths.config,
            {
                "train": config.to_json(),
                "model": dataclasses.asdict(model_config),
                "weights_source": weights.source if weights else "none (random initialisation)",
                "weights_loaded": list(report.loaded) if report else [],
                "data": {
                    "fingerprint": datasets.fingerprint(everything),
                    "train": datasets.class_counts(self.train_records),
                    "validation": datasets.class_counts(self.validation_records),
                    "unreadable": len(self.unreadable),
                },
                "classes": list(CLASS_NAMES),
                "devices": [str(device) for device in jax.local_devices()],
            },
        )
        return model, model_config

    # -- running --

    def run(self) -> RunPaths:
        config = self.config
        manager = checkpoint_manager(self.paths)
        progress = Progress()
        latest = intact_checkpoint(self.paths, manager)
        if latest is not None:
            progress = Progress(**restore_progress(manager, latest))
            if progress.best_epoch not in manager.all_steps():
                log.warning("the best checkpoint (epoch %d) is gone: epoch %d counts as the best so far", progress.best_epoch, latest)
                progress.best_epoch = latest
            forget_epochs_after(self.paths, progress.global_epoch)
            log.info("resuming after epoch %d (%s epoch %d)", progress.global_epoch,
                     training_phases(config)[progress.phase].name, progress.epoch_in_phase)
        self.model.train()
        for phase_index, phase in enumerate(training_phases(config)):
            if phase_index < progress.phase or (phase_index == progress.phase and progress.phase_finished):
                continue
            trainable = trainable_filter(phase.first_trainable_block)
            optimizer = nnx.Optimizer(self.model, optax.adam(phase.learning_rate), wrt=trainable)
            if phase_index == progress.phase and progress.epoch_in_phase > 0:
                model_state, optimizer_state = restore_states(manager, latest, nnx.state(self.model), nnx.state(optimizer))
                nnx.update(self.model, model_state)
                nnx.update(optimizer, optimizer_state)
            else:
                if progress.global_epoch > 0:  # a new phase starts from the best weights so far
                    model_state, _ = restore_states(manager, progress.best_epoch, nnx.state(self.model))
                    nnx.update(self.model, model_state)
                progress = dataclasses.replace(progress, phase=phase_index, epoch_in_phase=0, phase_finished=False, epochs_without_improvement=0)
            if phase.epochs == 0:
                progress.phase_finished = True
                continue
            progress = self._run_phase(phase, optimizer, trainable, manager, progress)
        manager.close()
        self._write_validation_predictions()
        return self.paths

    def _run_phase(self, phase: Phase, optimizer, trainable, manager, progress: Progress) -> Progress:
        config = self.config
        use_cache = self.cache_block > 0
        if use_cache and self.cache is None:
            self.cache = self._build_cache()
        graphdef, state = nnx.split((self.model, optimizer))
        state = self.parallel.replicate(state)
        train_step = make_train_step(graphdef, trainable, self.cache_block, use_cache, config.label_smoothing)
        log.info(
            "phase %s: %d epochs at learning rate %g, training %s",
            phase.name, phase.epochs, phase.learning_rate,
            "the head" if phase.first_trainable_block == POOLINGS else f"blocks {phase.first_trainable_block + 1}-{POOLINGS} and the head",
        )
        for epoch in range(progress.epoch_in_phase, phase.epochs):
            started = time.perf_counter()
            global_epoch = progress.global_epoch + 1
            epoch_key = jax.random.fold_in(jax.random.key(config.seed), global_epoch)
            if use_cache:
                batches = self.cache.epoch_batches(self.train_labels, config.batch_size, config.seed, global_epoch)
            else:
                batches = epoch_batches(
                    self.train_records, image_size=config.image_size, batch_size=config.batch_size,
                    seed=config.seed, epoch=global_epoch, shuffle=True, augment_config=AugmentConfig(),
                    drop_remainder=True, workers=config.workers,
                )
            steps = batch_count(len(self.train_records), config.batch_size, drop_remainder=True)
            bar = tqdm(total=steps, desc=f"{phase.name} epoch {epoch + 1}/{phase.epochs}", unit="batch", leave=False)
            loss_sum, correct_sum, seen = 0.0, 0, 0
            for step, batch in enumerate(batches):
                state, loss, correct = train_step(
                    state, self.parallel.shard(batch["image"]), self.parallel.shard(batch["label"]),
                    jax.random.fold_in(epoch_key, step),
                )
                count = len(batch["label"])
                loss_sum, correct_sum, seen = loss_sum + float(loss) * count, correct_sum + int(correct), seen + count
                bar.update()
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct_sum / seen:.3f}")
            bar.close()
            nnx.update((self.model, optimizer), state)
            probabilities = self._predict_validation()
            val_loss = cross_entropy(probabilities, self.validation_labels)
            val_accuracy = float((probabilities.argmax(-1) == self.validation_labels).mean())
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
                "train_loss": loss_sum / max(seen, 1), "train_accuracy": correct_sum / max(seen, 1),
                "val_loss": val_loss, "val_accuracy": val_accuracy, "learning_rate": phase.learning_rate,
                "seconds": seconds, "train_images_per_second": seen / seconds, "best": improved,
            }
            append_epoch_metrics(self.paths, record)
            save_checkpoint(manager, global_epoch, nnx.state(self.model, nnx.Param), nnx.state(optimizer), dataclasses.asdict(progress), val_loss)
            record_checksums(self.paths, global_epoch)
            log.info(
                "epoch %d (%s %d/%d): loss %.4f acc %.3f | val loss %.4f acc %.3f%s | %.1fs",
                global_epoch, phase.name, epoch + 1, phase.epochs, record["train_loss"], record["train_accuracy"],
                val_loss, val_accuracy, " (best)" if improved else "", seconds,
            )
            if stop_early:
                log.info("early stop: no validation improvement for %d epochs", config.patience)
                break
        return progress

    def _build_cache(self) -> FrozenFeatureCache:
        config = self.config
        needed = FrozenFeatureCache.bytes_needed(config, self.model_config, self.cache_block, len(self.train_records), len(self.validation_records))
        if needed > config.cache_memory_gb * 2**30:
            raise UserError(
                f"caching frozen features needs {needed / 2**30:.1f} GiB, over --cache-memory-gb {config.cache_memory_gb}: "
                "raise it, lower --augmented-views, or pass --augmented-views 0"
            )
        log.info(
            "running frozen blocks 1-%d once: %d augmented views of %d photos + %d validation photos (%.2f GiB)",
            self.cache_block, config.augmented_views, len(self.train_records), len(self.validation_records), needed / 2**30,
        )
        graphdef, model_state = nnx.split(self.model, nnx.Param)
        frozen_features = make_frozen_features(graphdef, self.cache_block)
        return FrozenFeatureCache.build(
            config, self.parallel, frozen_features, self.parallel.replicate(model_state),
            self.train_records, self.validation_records,
        )

    def _predict_validation(self) -> np.ndarray:
        self.model.eval()
        graphdef, state = nnx.split(self.model, nnx.Param)
        self.model.train()
        state = self.parallel.replicate(state)
        size = self.config.batch_size
        if self._predict is None:  # compiled once, reused every epoch
            self._predict = make_predict(graphdef, self.cache_block if self.cache is not None else 0)
        predict = self._predict
        if self.cache is not None:
            chunks = (self.cache.validation[i : i + size] for i in range(0, len(self.cache.validation), size))
        else:
            chunks = (
                batch["image"]
                for batch in epoch_batches(self.validation_records, image_size=self.config.image_size, batch_size=size, workers=self.config.workers)
            )
        outputs = []
        for chunk in chunks:
            outputs.append(np.asarray(predict(state, self.parallel.shard(pad_batch(chunk, size))))[: len(chunk)])
        return np.concatenate(outputs)

    def _write_validation_predictions(self) -> None:
        """The best model's validation scores: evaluation picks its threshold from these."""
        manager = checkpoint_manager(self.paths)
        best = restore_progress(manager, manager.latest_step())["best_epoch"]
        model_state, _ = restore_states(manager, best, nnx.state(self.model, nnx.Param))
        manager.close()
        nnx.update(self.model, model_state)
        probabilities = self._predict_validation()
        write_predictions(
            self.paths.validation_predictions,
            [r.path for r in self.validation_records],
            list(self.validation_labels),
            probabilities[:, CLASS_NAMES.index("cataract")],
        )


def train(config: TrainConfig, resume: bool = False) -> RunPaths:
    return Trainer(config, resume).run()
