"""Running a trained model: probabilities (and heatmaps) in fixed-shape batches, for the
trainer's validation, evaluation and export's parity check."""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec
from tqdm import tqdm

from cataract_contract import CATARACT
from train_jax.data.pipeline import batch_count, epoch_batches
from train_jax.data.scan import ImageRecord
from train_jax.model.vgg16 import VGG16
from train_jax.training.parallel import DataParallel


def make_predict(graphdef, first_block: int = 0) -> Callable:
    """(parameter state, inputs) -> class probabilities; inputs are uint8 images, or
    the activations entering block `first_block`."""
    return jax.jit(functools.partial(_probabilities, graphdef, first_block))


def make_predict_chunks(graphdef, first_block: int = 0) -> Callable:
    """(parameter state, inputs in chunks (chunks, batch, ...)) -> their class
    probabilities (chunks, batch, 2), in one call: the chunks one after another
    (lax.map), so the devices hold one chunk's activations at a time."""

    @jax.jit
    def predict(state, chunks):
        return jax.lax.map(functools.partial(_probabilities, graphdef, first_block, state), chunks)

    return predict


def _probabilities(graphdef, first_block: int, state, inputs):
    logits, _ = nnx.merge(graphdef, state).forward(inputs, from_block=first_block)
    return jax.nn.softmax(logits)


def pad_batch(array: np.ndarray, size: int) -> np.ndarray:
    """Pad a final short batch to `size` by repeating its last row, so every call has
    one shape and compiles once (the padded rows' results are dropped)."""
    if len(array) == size:
        return array
    return np.concatenate([array, np.repeat(array[-1:], size - len(array), axis=0)])


def put_chunks(inputs: np.ndarray, parallel: DataParallel) -> jax.Array:
    """Inputs (N, ...) on the devices as chunks of the batch size (ceil(N / batch), batch,
    ...), each split over the devices as a batch is, the last padded as `pad_batch` pads:
    what make_predict_chunks takes."""
    size = parallel.batch_size
    chunks = -(-len(inputs) // size)
    padded = pad_batch(inputs, chunks * size).reshape(chunks, size, *inputs.shape[1:])
    return jax.device_put(padded, NamedSharding(parallel.mesh, PartitionSpec(None, *parallel.batch.spec)))


def predict_records(model: VGG16, records: list[ImageRecord], batch_size: int, description: str = "predicting") -> np.ndarray:
    """Class probabilities (N, 2) of the photos, in order, with the model in eval mode."""
    model.eval()
    graphdef, state = nnx.split(model, nnx.Param)
    predict = make_predict(graphdef)
    batches = epoch_batches(records, image_size=model.config.image_size, batch_size=batch_size)
    outputs = []
    total = batch_count(len(records), batch_size, drop_remainder=False)
    for batch in tqdm(batches, total=total, desc=description, unit="batch", leave=False):
        images = batch["image"]
        outputs.append(np.asarray(predict(state, pad_batch(images, batch_size)))[: len(images)])
    return np.concatenate(outputs) if outputs else np.zeros((0, 2), np.float32)


def reference_outputs(model: VGG16, images: np.ndarray, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities (N, 2) and cataract heatmaps (N, h, w) of uint8 images, as an
    exported model must reproduce them: in float32 at the highest matrix precision,
    whatever precision the model trained in (bfloat16, or TF32 on a GPU's float32)."""
    reference = VGG16(dataclasses.replace(model.config, compute_dtype="float32"), rngs=nnx.Rngs(0))
    nnx.update(reference, nnx.state(model, nnx.Param))
    reference.eval()
    graphdef, state = nnx.split(reference, nnx.Param)

    @jax.jit
    def forward(state, images):
        model = nnx.merge(graphdef, state)
        logits, features = model.forward(images)
        return jax.nn.softmax(logits), model.class_activation_map(features, CATARACT)

    with jax.default_matmul_precision("highest"):  # applies where the function is traced
        outputs = [forward(state, pad_batch(images[i : i + batch_size], batch_size))
                   for i in range(0, len(images), batch_size)]
    count = len(images)
    return (np.concatenate([np.asarray(p) for p, _ in outputs])[:count],
            np.concatenate([np.asarray(h) for _, h in outputs])[:count])
