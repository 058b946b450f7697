"""`cataract bench train`: training throughput and model FLOP utilisation of the JAX step,
and on CPU the earlier project's Keras `fit` beside it.

Every figure times the trainer's own step function (training/steps.py: donated state,
metrics kept on the devices) on photos already on the devices, so it measures training
compute, not decoding (`cataract bench input` measures that). FLOPs per step come from
XLA's cost analysis of the step (lowered for the CPU, which counts the convolutions); utilisation (MFU) divides the achieved rate by
the device's peak: the measured rate of a large matrix product in the same precision, and
where known the data sheet's dense bfloat16 rate.

Figures:
- every layer trainable, at each --batch-sizes;
- the earlier project's recipe phase by phase: "head" (base frozen) and "finetune" (last
  block trainable), full forward pass every step, as the GPU path trains;
- on CPU, the recipe end to end over --epochs epochs per phase: the JAX trainer's cached
  path (the frozen blocks run once per augmented view) against Keras fit.

With --end-to-end, each recipe phase and the all-layers step are fed instead from real
photos through the trainer's own input pipeline: grain, the photos decoded once, each
photo's augmentation drawn on the host, batches put on the device two ahead, and the
augmentation applied inside the step. Beside each: the step-only figure (the same step
fed photos already on the device, without augmentation, so a slower step cannot raise
the ratio), the ratio, and the share of the wall time the host loop waited for its next
batch.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

import jax
import numpy as np
import optax
from flax import nnx

from benchmarks.configs import TrainBenchConfig
from benchmarks.timing import (
    data_sheet_tflops,
    device_description,
    measured_matmul_tflops,
    seconds_per_call,
    step_flops,
)
from train_jax.data.augment import AugmentConfig
from train_jax.data.decoded import DecodedPhotos
from train_jax.data.device_augment import augmentation_of, prefetch_to_device
from train_jax.data.pipeline import epoch_batches
from train_jax.data.scan import ImageRecord, discover
from train_jax.errors import UserError
from train_jax.model.architecture import POOLINGS, check_image_size
from train_jax.model.vgg16 import VGG16, ModelConfig, trainable_filter
from train_jax.training.config import TrainConfig, resolve_compute_dtype
from train_jax.training.parallel import DataParallel
from train_jax.training.steps import make_frozen_features, make_train_step, zero_metrics

LABEL_SMOOTHING = 0.1
LEARNING_RATE = 1e-4
# Steps of --end-to-end run before the timing: compilation, the pipeline's start.
END_TO_END_WARMUP_STEPS = 3


@dataclasses.dataclass(frozen=True)
class StepFigures:
    name: str
    batch: int
    images_per_second: float
    tflops_per_second: float  # achieved, from XLA's FLOP count of the step
    keras_images_per_second: float | None = None


def random_photos(count: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8), rng.integers(0, 2, count).astype(np.int32)


def phase_step(size: int, width: float, dtype: str, first_trainable_block: int, from_block: int = 0):
    """A fresh model, the trainer's step training it from `first_trainable_block`, and the
    step's [state, metric sums]: donated and replaced by every call."""
    model = VGG16(ModelConfig(image_size=size, width=width, compute_dtype=dtype), rngs=nnx.Rngs(0))
    trainable = trainable_filter(first_trainable_block)
    optimizer = nnx.Optimizer(model, optax.adam(LEARNING_RATE), wrt=trainable)
    graphdef, state = nnx.split((model, optimizer))
    return model, make_train_step(graphdef, trainable, from_block, from_block > 0, LABEL_SMOOTHING), [state, zero_metrics()]


def step_figures(name: str, size: int, batch: int, first_trainable_block: int, steps: int, dtype: str,
                 from_block: int = 0, width: float = 1.0) -> StepFigures:
    """The trainer's step, compiled once and timed; from_block > 0 feeds cached activations."""
    model, step, carried = phase_step(size, width, dtype, first_trainable_block, from_block)
    images, labels = random_photos(batch, size)
    inputs = images if from_block == 0 else make_frozen_features(nnx.graphdef(model), from_block)(nnx.state(model), images)
    inputs, labels, key = jax.device_put(inputs), jax.device_put(labels), jax.random.key(0)
    flops = step_flops(step, *carried, inputs, labels, key)
    seconds = seconds_per_step(step, carried, inputs, labels, key, steps)
    return StepFigures(name, batch, batch / seconds, flops / seconds / 1e12)


def seconds_per_step(step: Callable, carried: list, inputs: jax.Array, labels: jax.Array, key: jax.Array,
                     steps: int) -> float:
    """The step compiled once and timed on inputs already on the device; `carried` holds
    the state it continues from, and after the timing the state it reached."""
    compiled = step.lower(*carried, inputs, labels, key).compile()

    def call():
        carried[:] = compiled(*carried, inputs, labels, key)
        return carried[1]

    return seconds_per_call(call, steps)


def jax_recipe_rate(size: int, batch: int, photos: int, epochs: int, views: int,
                    width: float = 1.0) -> tuple[float, float]:
    """Images/s of both phases end to end on the CPU path (frozen blocks run once per
    view, then only the last block trains); and the share of time spent on the cache."""
    cache_block = POOLINGS - 1
    model = VGG16(ModelConfig(image_size=size, width=width), rngs=nnx.Rngs(0))
    images, labels = random_photos(photos, size)
    frozen = make_frozen_features(nnx.graphdef(model), cache_block)
    params = nnx.state(model)
    jax.block_until_ready(frozen(params, images[:batch]))  # compile outside the timing
    started = time.perf_counter()
    cached = np.stack([
        np.concatenate([np.asarray(frozen(params, images[i : i + batch])) for i in range(0, photos, batch)])
        for _ in range(views)
    ])
    cache_seconds = time.perf_counter() - started
    train_seconds = 0.0
    for first_trainable in (POOLINGS, cache_block):
        trainable = trainable_filter(first_trainable)
        optimizer = nnx.Optimizer(model, optax.adam(LEARNING_RATE), wrt=trainable)
        graphdef, state = nnx.split((model, optimizer))
        step = make_train_step(graphdef, trainable, cache_block, True, LABEL_SMOOTHING)
        metrics = zero_metrics()
        state, metrics = step(state, metrics, cached[0, :batch], labels[:batch], jax.random.key(0))  # compile
        jax.block_until_ready(metrics)
        started = time.perf_counter()
        rng = np.random.default_rng(0)
        for epoch in range(epochs):
            order = rng.permutation(photos)
            views_of = rng.integers(views, size=photos)
            for i in range(0, photos - batch + 1, batch):
                chosen = order[i : i + batch]
                state, metrics = step(state, metrics, cached[views_of[chosen], chosen], labels[chosen], jax.random.key(epoch))
        jax.block_until_ready(metrics)
        train_seconds += time.perf_counter() - started
        nnx.update((model, optimizer), state)  # the step donated the model's arrays
    trained = 2 * epochs * (photos // batch) * batch
    total = cache_seconds + train_seconds
    return trained / total, cache_seconds / total


# -- Keras ----------------------------------------------------------------------------------


def keras_available() -> bool:
    try:
        import keras  # noqa: F401
    except ImportError:
        return False
    return True


def _keras_model(size: int, trainable_from_block: int):
    import keras

    base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(size, size, 3))
    for layer in base.layers:
        block = int(layer.name[5]) - 1 if layer.name.startswith("block") else -1
        layer.trainable = block >= trainable_from_block
    model = keras.Sequential([
        base,
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=LABEL_SMOOTHING),
    )
    return model


def keras_fit_rate(size: int, batch: int, trainable_from_block: int, photos: int, epochs: int) -> float:
    """Images/s of model.fit after its first (compiling) epoch."""
    import keras

    images, labels = random_photos(photos, size)
    inputs = keras.applications.vgg16.preprocess_input(images.astype(np.float32))
    targets = keras.utils.to_categorical(labels, 2)
    model = _keras_model(size, trainable_from_block)
    model.fit(inputs, targets, batch_size=batch, epochs=1, verbose=0)  # compile and warm up
    started = time.perf_counter()
    model.fit(inputs, targets, batch_size=batch, epochs=epochs, verbose=0, shuffle=True)
    return (epochs * (photos // batch) * batch + epochs * (photos % batch)) / (time.perf_counter() - started)


# -- report ---------------------------------------------------------------------------------


def run_training_benchmark(config: TrainBenchConfig) -> dict:
    if config.end_to_end:
        return run_end_to_end_benchmark(config)
    accelerated = jax.default_backend() != "cpu"
    size = config.image_size or (224 if accelerated else 64)
    check_image_size(size)
    batches = config.batches or ([64, 256] if accelerated else [32])
    dtype = resolve_compute_dtype(config.compute_dtype, jax.default_backend())
    # Keras times the full VGG16 only.
    use_keras = not (config.skip_keras or accelerated) and config.width == 1 and keras_available()
    largest, width = max(batches), config.width
    print(f"training throughput and utilisation | {size}x{size}, {network(width)}, {dtype} | {device_description()}")
    matmul_peak = measured_matmul_tflops(dtype)
    sheet_peak = data_sheet_tflops() if dtype == "bfloat16" else None

    rows = [step_figures("all layers trainable", size, batch, 0, config.steps, dtype, width=width) for batch in batches]
    rows.append(step_figures("recipe phase 1, base frozen", size, largest, POOLINGS, config.steps, dtype, width=width))
    rows.append(step_figures("recipe phase 2, last block trainable", size, largest, POOLINGS - 1, config.steps, dtype,
                             width=width))
    if not accelerated:
        rows.append(step_figures("  same, fed cached block-4 activations", size, largest, POOLINGS - 1, config.steps,
                                 dtype, from_block=POOLINGS - 1, width=width))
    if use_keras:
        keras_blocks = {"all layers trainable": 0, "recipe phase 1, base frozen": POOLINGS,
                        "recipe phase 2, last block trainable": POOLINGS - 1}
        photos = max(config.photos // largest, 1) * largest
        rows = [dataclasses.replace(row, keras_images_per_second=keras_fit_rate(size, row.batch, keras_blocks[row.name], photos, 1))
                if row.name in keras_blocks else row for row in rows]

    peak_text = f"measured {matmul_peak:.1f} TFLOP/s" + (f", data sheet {sheet_peak:.0f}" if sheet_peak else "")
    print(f"peak ({dtype} matrix product): {peak_text}")
    print(f"{'':40s} {'batch':>6s} {'images/s':>10s} {'TFLOP/s':>9s} {'MFU':>6s} {'MFU sheet':>10s} {'Keras':>8s} {'JAX/Keras':>10s}")
    for row in rows:
        sheet = f"{row.tflops_per_second / sheet_peak:10.1%}" if sheet_peak else f"{'':10s}"
        keras_text = f"{row.keras_images_per_second:8.1f} {row.images_per_second / row.keras_images_per_second:9.2f}x" \
            if row.keras_images_per_second else ""
        print(f"{row.name:40s} {row.batch:6d} {row.images_per_second:10.1f} {row.tflops_per_second:9.2f} "
              f"{row.tflops_per_second / matmul_peak:6.1%} {sheet} {keras_text}")
    report = {"device": device_description(), "image_size": size, "width": width, "dtype": dtype,
              "matmul_peak_tflops": matmul_peak,
              "data_sheet_peak_tflops": sheet_peak, "steps": [dataclasses.asdict(row) for row in rows]}

    if not accelerated:
        photos = max(config.photos // largest, 1) * largest
        recipe_rate, cache_share = jax_recipe_rate(size, largest, photos, config.epochs, config.augmented_views, width)
        keras_recipe = None
        if use_keras:
            phase_rates = [keras_fit_rate(size, largest, block, photos, config.epochs) for block in (POOLINGS, POOLINGS - 1)]
            keras_recipe = 2 / sum(1 / rate for rate in phase_rates)  # equal images per phase
        ratio = f", Keras fit {keras_recipe:.1f} ({recipe_rate / keras_recipe:.2f}x)" if keras_recipe else ""
        print(f"recipe end to end, {config.epochs}+{config.epochs} epochs of {photos} photos: JAX {recipe_rate:.1f} "
              f"images/s{ratio} (JAX: {config.augmented_views} augmented views through blocks 1-4, {cache_share:.0%} of "
              f"its time; Keras runs all blocks every step)")
        report["recipe_end_to_end"] = {"jax": recipe_rate, "keras": keras_recipe}
    return report


def network(width: float) -> str:
    return "full-width VGG16" if width == 1 else f"VGG16 at width {width:g}"


# -- end to end -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EndToEndFigures:
    name: str
    batch: int
    images_per_second: float  # from the photos, through the input pipeline, augmented in the step
    step_only_images_per_second: float  # the same step fed photos already on the device, not augmented
    ratio: float
    waiting_share: float  # of the timed wall time, the host loop waiting for its next batch


# The phases timed end to end: (name, first trainable block).
END_TO_END_PHASES = (("recipe phase 1, base frozen", POOLINGS), ("recipe phase 2, last block trainable", POOLINGS - 1),
                     ("all layers trainable", 0))


def end_to_end_figures(name: str, first_trainable_block: int, records: list[ImageRecord], decoded: DecodedPhotos,
                       size: int, width: float, batch: int, workers: int, steps: int, dtype: str) -> EndToEndFigures:
    """The phase's step fed as training feeds it, timed over `steps` steps after a warm-up,
    beside the same step fed photos already on the device."""
    _, step, carried = phase_step(size, width, dtype, first_trainable_block)
    key = jax.random.key(0)
    photos, labels = (jax.device_put(array) for array in random_photos(batch, size))
    step_only = batch / seconds_per_step(step, carried, photos, labels, key, steps)
    per_epoch = len(records) // batch
    epochs = range(1, 1 + -(-(END_TO_END_WARMUP_STEPS + steps) // per_epoch))
    parallel = DataParallel(batch, jax.devices()[:1])  # the step-only figure's device
    batches = prefetch_to_device(epoch_batches(
        records, image_size=size, batch_size=batch, seed=0, epochs=epochs, shuffle=True, augment_config=AugmentConfig(),
        drop_remainder=True, workers=workers, decoded=decoded, augment_on_device=True), parallel.shard)

    def train_on(shipped: dict) -> None:
        carried[:] = step(*carried, shipped["image"], shipped["label"], key, augmentation_of(shipped))

    for shipped in itertools.islice(batches, END_TO_END_WARMUP_STEPS):
        train_on(shipped)
    jax.block_until_ready(carried[1])
    waited, started = 0.0, time.perf_counter()
    for _ in range(steps):
        asked = time.perf_counter()
        shipped = next(batches)
        waited += time.perf_counter() - asked
        train_on(shipped)
    jax.block_until_ready(carried[1])
    seconds = time.perf_counter() - started
    rate = steps * batch / seconds
    return EndToEndFigures(name, batch, rate, step_only, rate / step_only, waited / seconds)


def run_end_to_end_benchmark(config: TrainBenchConfig) -> dict:
    accelerated = jax.default_backend() != "cpu"
    size = config.image_size or (224 if accelerated else 64)
    check_image_size(size)
    dtype = resolve_compute_dtype(config.compute_dtype, jax.default_backend())
    splits = discover(config.data)
    if "train" not in splits:
        raise UserError(f"{config.data} has no train/ split to read photos from")
    records = splits["train"]
    # Unless told, the batch and the workers `cataract train` would choose for these photos
    # (less its validation share) on one device.
    recipe = TrainConfig(data=config.data, out="", workers=config.workers)
    chosen = recipe.resolved(jax.default_backend(), 1, 1, os.cpu_count() or 1,
                             int(len(records) * (1 - recipe.validation_fraction)))
    batch = max(config.batches) if config.batches else chosen.batch_size
    if len(records) < batch:
        raise UserError(f"{config.data} has {len(records)} training photos, fewer than a batch of {batch}")
    print(f"training end to end | {len(records)} photos of {config.data}, {size}x{size}, {network(config.width)}, "
          f"{dtype}, batch {batch}, {chosen.workers} grain workers | {device_description()}")
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        decoded = DecodedPhotos.build(records, size, Path(folder) / "decoded.npy", epoch_batches(
            records, image_size=size, batch_size=batch, workers=chosen.workers))
        decode_seconds = time.perf_counter() - started
        print(f"decoding the photos once: {decode_seconds:.1f} s (not in the figures)")
        rows = [end_to_end_figures(name, block, records, decoded, size, config.width, batch, chosen.workers,
                                   config.steps, dtype) for name, block in END_TO_END_PHASES]
    print(f"{'':40s} {'batch':>6s} {'images/s':>10s} {'step only':>10s} {'ratio':>7s} {'waited':>7s}")
    for row in rows:
        print(f"{row.name:40s} {row.batch:6d} {row.images_per_second:10.1f} {row.step_only_images_per_second:10.1f} "
              f"{row.ratio:7.1%} {row.waiting_share:7.1%}")
    print(f"(end to end: grain, photos decoded once, augmentation drawn on the host and applied in the step, batches "
          f"on the device two ahead; step only: photos already on the device, no augmentation; waited: the share of "
          f"the wall time the host loop waited for its next batch; {config.steps} steps each)")
    return {"device": device_description(), "image_size": size, "width": config.width, "dtype": dtype, "batch": batch,
            "workers": chosen.workers, "photos": len(records), "decode_seconds": decode_seconds,
            "end_to_end": [dataclasses.asdict(row) for row in rows]}
