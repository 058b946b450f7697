"""`cataract bench train`: training throughput of the JAX path against Keras `fit`.

Both sides train the same network (VGG16 convolutions, global average pooling, dropout,
a 2-way dense layer; Adam; label smoothing 0.1) on the same random photos, batch and
image size, in this process on this machine's devices. Photos are generated in memory,
so the figures measure training compute, not JPEG decoding.

Figures (images per second of training):
- every layer trainable: one step, both frameworks;
- the earlier project's recipe, phase by phase: "head" (base frozen) and "finetune"
  (last block trainable), one step each;
- the recipe end to end over --epochs epochs per phase of --photos photos: Keras fit
  running the full network every step, against the JAX trainer's path, which runs the
  frozen blocks once per augmented view (--augmented-views) and then only the last block.
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np
import optax
from flax import nnx

from train_jax.model.vgg16 import POOLINGS, VGG16, ModelConfig, check_image_size, trainable_filter
from train_jax.training.steps import make_frozen_features, make_train_step

LABEL_SMOOTHING = 0.1
LEARNING_RATE = 1e-4


def _photos(count: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8), rng.integers(0, 2, count).astype(np.int32)


def _rate(images: int, seconds: float) -> float:
    return images / seconds if seconds > 0 else float("nan")


# -- JAX ------------------------------------------------------------------------------------


def jax_step_rate(size: int, batch: int, first_trainable_block: int, steps: int, compute_dtype: str = "float32",
                  from_block: int = 0) -> float:
    """Images/s of the trainer's step; from_block > 0 feeds cached activations of that block."""
    model = VGG16(ModelConfig(image_size=size, compute_dtype=compute_dtype), rngs=nnx.Rngs(0))
    trainable = trainable_filter(first_trainable_block)
    optimizer = nnx.Optimizer(model, optax.adam(LEARNING_RATE), wrt=trainable)
    graphdef, state = nnx.split((model, optimizer))
    step = make_train_step(graphdef, trainable, from_block, from_block > 0, LABEL_SMOOTHING)
    images, labels = _photos(batch, size)
    inputs = images
    if from_block > 0:
        features = make_frozen_features(nnx.graphdef(model), from_block)
        inputs = np.asarray(features(nnx.state(model), images))
    key = jax.random.key(0)
    for _ in range(2):  # compile and warm up
        state, loss, _ = step(state, inputs, labels, key)
    loss.block_until_ready()
    started = time.perf_counter()
    for _ in range(steps):
        state, loss, _ = step(state, inputs, labels, key)
    loss.block_until_ready()
    return _rate(steps * batch, time.perf_counter() - started)


def jax_recipe_rate(size: int, batch: int, photos: int, epochs: int, views: int) -> tuple[float, float]:
    """Images/s of both phases end to end, frozen blocks run once per view; and the
    share of the time spent computing those cached activations."""
    cache_block = POOLINGS - 1
    model = VGG16(ModelConfig(image_size=size), rngs=nnx.Rngs(0))
    images, labels = _photos(photos, size)
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
        state, loss, _ = step(state, cached[0, :batch], labels[:batch], jax.random.key(0))  # compile
        loss.block_until_ready()
        started = time.perf_counter()
        rng = np.random.default_rng(0)
        for epoch in range(epochs):
            order = rng.permutation(photos)
            views_of = rng.integers(views, size=photos)
            for i in range(0, photos - batch + 1, batch):
                chosen = order[i : i + batch]
                state, loss, _ = step(state, cached[views_of[chosen], chosen], labels[chosen], jax.random.key(epoch))
        loss.block_until_ready()
        train_seconds += time.perf_counter() - started
    trained = 2 * epochs * (photos // batch) * batch
    total = cache_seconds + train_seconds
    return _rate(trained, total), cache_seconds / total


# -- Keras ----------------------------------------------------------------------------------


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

    images, labels = _photos(photos, size)
    inputs = keras.applications.vgg16.preprocess_input(images.astype(np.float32))
    targets = keras.utils.to_categorical(labels, 2)
    model = _keras_model(size, trainable_from_block)
    model.fit(inputs, targets, batch_size=batch, epochs=1, verbose=0)  # compile and warm up
    started = time.perf_counter()
    model.fit(inputs, targets, batch_size=batch, epochs=epochs, verbose=0, shuffle=True)
    return _rate(epochs * (photos // batch) * batch + epochs * (photos % batch), time.perf_counter() - started)


# -- report ---------------------------------------------------------------------------------


def device_description() -> str:
    device = jax.devices()[0]
    return f"{device.platform}: {getattr(device, 'device_kind', device)} x{jax.device_count()}, {os.cpu_count()} CPU cores"


def run_training_benchmark(args: argparse.Namespace) -> None:
    check_image_size(args.image_size)
    size, batch, steps = args.image_size, args.batch_size, args.steps
    photos = max(args.photos // batch, 1) * batch
    print(f"training throughput, images/s | {size}x{size}, batch {batch}, full-width VGG16 | {device_description()}")
    rows: list[tuple[str, float | None, float | None]] = []

    def keras_or_none(from_block: int, epochs: int) -> float | None:
        return None if args.skip_keras else keras_fit_rate(size, batch, from_block, photos, epochs)

    rows.append(("all layers trainable (one step)", jax_step_rate(size, batch, 0, steps), keras_or_none(0, 1)))
    rows.append(("  same, JAX in bfloat16", jax_step_rate(size, batch, 0, steps, "bfloat16"), None))
    rows.append(("recipe phase 1, base frozen (one step)", jax_step_rate(size, batch, POOLINGS, steps), keras_or_none(POOLINGS, 1)))
    rows.append(("recipe phase 2, block 5 trainable (one step)", jax_step_rate(size, batch, POOLINGS - 1, steps), keras_or_none(POOLINGS - 1, 1)))
    rows.append(("  same, JAX fed cached block-4 activations", jax_step_rate(size, batch, POOLINGS - 1, steps, from_block=POOLINGS - 1), None))
    recipe_rate, cache_share = jax_recipe_rate(size, batch, photos, args.epochs, args.augmented_views)
    keras_recipe = None
    if not args.skip_keras:
        phase_rates = [keras_fit_rate(size, batch, block, photos, args.epochs) for block in (POOLINGS, POOLINGS - 1)]
        keras_recipe = 2 / sum(1 / rate for rate in phase_rates)  # equal images per phase
    rows.append((f"recipe end to end, {args.epochs}+{args.epochs} epochs of {photos} photos", recipe_rate, keras_recipe))

    print(f"{'':52s} {'JAX':>9s} {'Keras fit':>10s} {'JAX/Keras':>10s}")
    for name, jax_rate, keras_rate in rows:
        ratio = f"{jax_rate / keras_rate:9.2f}x" if keras_rate else ""
        keras_text = f"{keras_rate:10.1f}" if keras_rate else f"{'':10s}"
        print(f"{name:52s} {jax_rate:9.1f} {keras_text} {ratio}")
    print(f"(JAX end to end: {args.augmented_views} augmented views per photo through blocks 1-4, "
          f"{cache_share:.0%} of its time; Keras runs all blocks every step)")
