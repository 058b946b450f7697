"""Augmentation on the devices, inside the jitted training step, and batches put on the
devices ahead of the step.

On a GPU the host's OpenCV augmentation fed a quarter of what the step consumes. So the
photo path ships each batch's uint8 photos as they were decoded, with each photo's
augmentation drawn on the host exactly as before (augment.draw_augmentation, seeded by
seed, epoch and position: resuming and several processes see the same batches) as seven
float32 numbers: the 2x3 output-to-input map and the brightness factor. The step then
applies them as OpenCV does (`augment_photos`): one bilinear resample with nearest-edge
fill, the result rounded to uint8, then brightness rounded and clipped as the lookup
table does. OpenCV quantises coordinates to 1/32 of a pixel, so sharp edges differ by a
few grey levels (tests/train_jax/data/test_device_augment.py).

The resample is four gathers of the clamped neighbours of every output pixel. On this
2-core CPU a batch of 16 photos at 224x224 took 9-16 ms, against 47-60 ms with
jax.scipy.ndimage.map_coordinates per channel (which dm-pix's affine_transform calls, and
dm-pix would be one more dependency) and 7-12 ms with OpenCV on the host; on a GPU the
gathers are a small part of a step. Drawing a batch's augmentation on the host takes
0.6 ms.
"""

from __future__ import annotations

import collections
import itertools
from typing import Callable, Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from train_jax.data.pipeline import AUGMENTATION_KEYS

# Batches put on the devices ahead of the one the step works on.
BATCHES_IN_FLIGHT = 2


def augment_photos(images: jax.Array, output_to_input: jax.Array, brightness: jax.Array) -> jax.Array:
    """uint8 (n, h, w, c) photos, float32 (n, 2, 3) maps and (n,) factors -> the
    augmented uint8 photos, as augment.apply_augmentation makes them."""
    return jax.vmap(_augment_photo)(images, output_to_input, brightness)


def _augment_photo(image: jax.Array, output_to_input: jax.Array, brightness: jax.Array) -> jax.Array:
    height, width, channels = image.shape
    rows, columns = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32), jnp.arange(width, dtype=jnp.float32),
                                 indexing="ij")
    x = output_to_input[0, 0] * columns + output_to_input[0, 1] * rows + output_to_input[0, 2]
    y = output_to_input[1, 0] * columns + output_to_input[1, 1] * rows + output_to_input[1, 2]
    left, top = jnp.floor(x), jnp.floor(y)
    right_weight, bottom_weight = (x - left)[..., None], (y - top)[..., None]
    pixels = image.reshape(height * width, channels)

    def at(row: jax.Array, column: jax.Array) -> jax.Array:
        # Clamped neighbours: pixels from outside the photo take the nearest edge's value.
        row = jnp.clip(row, 0, height - 1).astype(jnp.int32)
        column = jnp.clip(column, 0, width - 1).astype(jnp.int32)
        return pixels[row * width + column].astype(jnp.float32)

    upper = at(top, left) * (1 - right_weight) + at(top, left + 1) * right_weight
    lower = at(top + 1, left) * (1 - right_weight) + at(top + 1, left + 1) * right_weight
    resampled = jnp.floor(upper * (1 - bottom_weight) + lower * bottom_weight + 0.5)  # OpenCV rounds to uint8
    return jnp.floor(jnp.clip(resampled * brightness + 0.5, 0, 255)).astype(jnp.uint8)


def augmentation_of(batch: dict) -> tuple | None:
    """The batch's drawn augmentation for the step, or None when its photos come augmented
    (or are cached activations)."""
    if AUGMENTATION_KEYS[0] not in batch:
        return None
    return tuple(batch[key] for key in AUGMENTATION_KEYS)


def prefetch_to_device(batches: Iterable[dict[str, np.ndarray]], put: Callable[[np.ndarray], jax.Array],
                       depth: int = BATCHES_IN_FLIGHT) -> Iterator[dict[str, jax.Array]]:
    """`batches` with every array put on the devices by `put`, `depth` batches ahead of
    the one handed out: their transfers run while the step computes (as
    flax.jax_utils.prefetch_to_device). Reads no further into `batches` than `depth`
    ahead of the consumer."""
    iterator = iter(batches)
    queue: collections.deque = collections.deque()

    def enqueue(count: int) -> None:
        for batch in itertools.islice(iterator, count):
            queue.append({key: put(value) for key, value in batch.items()})

    enqueue(depth)
    while queue:
        yield queue.popleft()
        enqueue(1)
