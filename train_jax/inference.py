"""Running a trained model over photos on disk, in fixed-shape batches."""

from __future__ import annotations

from typing import Callable

import jax
import numpy as np
from flax import nnx
from tqdm import tqdm

from train_jax.dataset import ImageRecord
from train_jax.model import POOLINGS, VGG16
from train_jax.pipeline import batch_count, epoch_batches


def make_predict(graphdef, first_block: int = 0) -> Callable:
    """(parameter state, inputs) -> class probabilities; inputs are uint8 images, or
    the activations entering block `first_block`."""

    @jax.jit
    def predict(state, inputs):
        model = nnx.merge(graphdef, state)
        x = model.preprocess(inputs) if first_block == 0 else inputs
        return jax.nn.softmax(model.classify(model.trunk(x, first_block, POOLINGS)))

    return predict


def pad_batch(array: np.ndarray, size: int) -> np.ndarray:
    """Pad a final short batch to `size` by repeating its last row, so every call has
    one shape and compiles once (the padded rows' results are dropped)."""
    if len(array) == size:
        return array
    return np.concatenate([array, np.repeat(array[-1:], size - len(array), axis=0)])


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
