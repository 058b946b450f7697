"""The pure, jitted step functions of training: each takes the model's state explicitly
and returns new state, so the loop around them holds no hidden mutation.

The training step donates its state and the running metrics (their buffers are reused for
the results, so a step never holds two copies of the parameters and optimizer state),
and keeps loss and accuracy as sums on the devices: the loop reads them back only every
few steps, so JAX's asynchronous dispatch keeps the devices busy. On the photo path it
also augments the batch's photos first, from the augmentation the host drew for each
(data/device_augment.py).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from cataract_contract import CLASS_NAMES
from train_jax.data.device_augment import augment_photos
from train_jax.model.vgg16 import VGG16


# Running sums kept on the devices: [sum of per-photo losses, photos right, photos seen].
METRIC_SUMS = 3


def zero_metrics() -> jax.Array:
    return jnp.zeros(METRIC_SUMS, jnp.float32)


@dataclasses.dataclass(frozen=True)
class EpochMetrics:
    """Training loss and accuracy over the photos an epoch has trained on so far."""

    loss: float
    accuracy: float
    photos: int

    @classmethod
    def from_sums(cls, sums: np.ndarray) -> "EpochMetrics":
        """From the running sums, read back to the host."""
        loss_sum, correct, seen = sums
        return cls(float(loss_sum / max(seen, 1)), float(correct / max(seen, 1)), int(seen))


def make_train_step(graphdef, trainable, cache_block: int, inputs_are_features: bool, label_smoothing: float) -> Callable:
    """(state, metric sums, inputs, labels, key[, augmentation]) -> (state, metric sums);
    state is nnx (model, optimizer). State and sums are donated.

    Blocks before `cache_block` never train: no gradient flows into them, and with
    `inputs_are_features` the inputs are their cached output instead of images. With
    `augmentation` (each photo's output-to-input map and brightness factor), the uint8
    photos are augmented before the forward pass."""

    def loss_fn(model: VGG16, inputs, labels, rngs):
        from_block = cache_block if inputs_are_features else 0
        logits, _ = model.forward(inputs, from_block=from_block, frozen_until=cache_block, rngs=rngs)
        targets = optax.smooth_labels(jax.nn.one_hot(labels, len(CLASS_NAMES)), label_smoothing)
        return optax.softmax_cross_entropy(logits, targets).mean(), logits

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def train_step(state, metrics, inputs, labels, key, augmentation=None):
        if augmentation is not None:
            inputs = augment_photos(inputs, *augmentation)
        model, optimizer = nnx.merge(graphdef, state)
        grad_fn = nnx.value_and_grad(loss_fn, argnums=nnx.DiffState(0, trainable), has_aux=True)
        (loss, logits), grads = grad_fn(model, inputs, labels, nnx.Rngs(dropout=key))
        optimizer.update(model, grads)
        count = labels.shape[0]
        correct = (logits.argmax(-1) == labels).sum()
        metrics = metrics + jnp.stack([loss * count, correct, count]).astype(jnp.float32)
        return nnx.state((model, optimizer)), metrics

    return train_step


def make_frozen_features(graphdef, cache_block: int) -> Callable:
    """(parameter state, images) -> the activations entering block `cache_block`."""

    @jax.jit
    def frozen_features(state, images):
        return nnx.merge(graphdef, state).activations(images, 0, cache_block)

    return frozen_features
