"""The pure, jitted step functions of training: each takes the model's state explicitly
and returns new state, so the loop around them holds no hidden mutation."""

from __future__ import annotations

from typing import Callable

import jax
import optax
from flax import nnx

from cataract_contract import CLASS_NAMES
from train_jax.model.vgg16 import VGG16


def make_train_step(graphdef, trainable, cache_block: int, inputs_are_features: bool, label_smoothing: float) -> Callable:
    """(state, inputs, labels, key) -> (state, loss, correct); state is nnx (model, optimizer).

    Blocks before `cache_block` never train: no gradient flows into them, and with
    `inputs_are_features` the inputs are their cached output instead of images."""

    def loss_fn(model: VGG16, inputs, labels, rngs):
        from_block = cache_block if inputs_are_features else 0
        logits, _ = model.forward(inputs, from_block=from_block, frozen_until=cache_block, rngs=rngs)
        targets = optax.smooth_labels(jax.nn.one_hot(labels, len(CLASS_NAMES)), label_smoothing)
        return optax.softmax_cross_entropy(logits, targets).mean(), logits

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
    """(parameter state, images) -> the activations entering block `cache_block`."""

    @jax.jit
    def frozen_features(state, images):
        return nnx.merge(graphdef, state).activations(images, 0, cache_block)

    return frozen_features
