"""The gradability gate's measures and decision in JAX: what `cataract evaluate` and the
fitting at the end of training compute, and what the exported TensorFlow graph must match.

    image_measures    brightness, colourfulness and sharpness of resized uint8 photos, as
                      the contract defines them (cataract_contract, "gradability")
    colour_histogram  the share of lit pixels in each rg-chromaticity bin (spec.py)
    colour_distance   the squared Mahalanobis distance of the logged histogram to the
                      training photos' mean (spec.py)
    pooled_features   the network's pooled features (spec.py's definition), from the same
                      blocks training runs (VGG16.activations)
    feature_distance  the smallest squared Mahalanobis distance of the logged features to a
                      class mean (spec.py)
    measure_photos    all of them for batches of photos (measure_records: photos on disk),
                      compiled once per model and blocks
    gate              the decision: gradable, reason and the measures behind it

`reference_image_measures` computes the image measures again in numpy and float64, the
reference the JAX and TensorFlow versions are tested against.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Iterable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from scipy import signal

from cataract_contract import COLOURFULNESS_MEAN_WEIGHT, LAPLACIAN_KERNEL, LUMA, gate_decision
from train_jax.data.pipeline import epoch_batches
from train_jax.data.scan import ImageRecord
from train_jax.gradability.spec import COLOUR_BINS, COLOUR_FLOOR, LIT_SUM, GateSpec
from train_jax.model.vgg16 import VGG16
from train_jax.training.parallel import local_values
from train_jax.training.predict import pad_batch

MEASURE_BATCH = 16  # photos per compiled call: one shape, so one compilation


def luminance(images: jax.Array) -> jax.Array:
    """(N, S, S, 3) RGB 0..255 -> (N, S, S) float32 luminance (LUMA weights)."""
    return images.astype(jnp.float32) @ jnp.asarray(LUMA, jnp.float32)


def colourfulness(images: Any, xp: Any = jnp) -> Any:
    """(N,) the contract's colourfulness (Hasler and Suesstrunk) of (N, S, S, 3) RGB 0..255
    photos, for numpy or jax.numpy (`xp`): the spread and the mean of the two opponent
    colour axes, so a grey picture, however bright or detailed, scores 0."""
    rgb = images.astype(xp.float32 if xp is jnp else xp.float64)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg, yb = red - green, 0.5 * (red + green) - blue
    spread = xp.sqrt(xp.var(rg, axis=(1, 2)) + xp.var(yb, axis=(1, 2)))
    return spread + COLOURFULNESS_MEAN_WEIGHT * xp.sqrt(xp.mean(rg, axis=(1, 2)) ** 2 + xp.mean(yb, axis=(1, 2)) ** 2)


def image_measures(images: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(brightness, colourfulness, sharpness), each (N,), of uint8 (N, S, S, 3) photos: the
    mean luminance, the colourfulness, and log10((var(Laplacian(Y)) + 1) / (var(Y) + 1))
    over the Laplacian's valid positions (the ratio makes sharpness independent of the
    photo's contrast)."""
    y = luminance(images)
    side_h, side_w = y.shape[1] - 2, y.shape[2] - 2
    laplacian = sum(weight * y[:, row : row + side_h, column : column + side_w]
                    for row, weights in enumerate(LAPLACIAN_KERNEL) for column, weight in enumerate(weights) if weight)
    sharpness = jnp.log10((jnp.var(laplacian, axis=(1, 2)) + 1.0) / (jnp.var(y, axis=(1, 2)) + 1.0))
    return y.mean(axis=(1, 2)), colourfulness(images), sharpness


def reference_image_measures(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """image_measures in numpy and float64, by scipy's correlation: the tests' reference."""
    y = images.astype(np.float64) @ np.asarray(LUMA, np.float64)
    kernel = np.asarray(LAPLACIAN_KERNEL, np.float64)
    laplacian = np.stack([signal.correlate2d(photo, kernel, mode="valid") for photo in y])
    sharpness = np.log10((laplacian.var(axis=(1, 2)) + 1.0) / (y.var(axis=(1, 2)) + 1.0))
    return y.mean(axis=(1, 2)), colourfulness(images, np), sharpness


def colour_histogram(images: jax.Array) -> jax.Array:
    """(N, COLOUR_BINS ** 2) float32: spec.py's chromaticity histogram of uint8 (N, S, S, 3)
    photos, binned in integers (the exported graph bins every pixel alike)."""
    rgb = images.astype(jnp.int32).reshape(images.shape[0], -1, 3)
    total = rgb.sum(axis=-1)
    lit = total >= LIT_SUM
    bins = jnp.minimum(COLOUR_BINS * rgb[..., :2] // jnp.maximum(total, 1)[..., None], COLOUR_BINS - 1)
    index = jnp.where(lit, bins[..., 0] * COLOUR_BINS + bins[..., 1], -1)
    counts = (index[..., None] == jnp.arange(COLOUR_BINS**2)).sum(axis=1)  # XLA fuses the compare into the sum
    return counts.astype(jnp.float32) / jnp.maximum(lit.sum(axis=1), 1)[:, None].astype(jnp.float32)


def colour_distance(spec: GateSpec, histograms: Any, xp: Any = jnp) -> Any:
    """(N,) spec.py's colour distance of (N, COLOUR_BINS ** 2) histograms, for numpy or
    jax.numpy (`xp`); zeros for a gate fitted before the check (which then skips it)."""
    if spec.colour_mean is None:
        return xp.zeros(histograms.shape[0], xp.float32)
    return distance_to_mean(histograms, spec.colour_mean, spec.colour_precision, xp)


def logged_shares(histograms: Any, xp: Any = np) -> Any:
    """spec.py's log(histogram + COLOUR_FLOOR): what the colour statistics are fitted on."""
    return xp.log(histograms + COLOUR_FLOOR)


def distance_to_mean(histograms: Any, mean: Any, precision: Any, xp: Any = np) -> Any:
    """The colour distance under (mean, precision) for numpy or jax.numpy: fitting's
    cross-fitted distances and the gate compute it alike."""
    offsets = logged_shares(histograms, xp) - xp.asarray(mean)
    return xp.einsum("nd,de,ne->n", offsets, xp.asarray(precision), offsets)


def pooled_features(model: VGG16, images: jax.Array, blocks: tuple[int, ...]) -> jax.Array:
    """(N, D) float32: the global average of each 1-based block in `blocks` (after its max
    pooling), concatenated in that order; the blocks after the last one listed never run."""
    pooled = {}
    x = images
    for block in range(max(blocks)):
        x = model.activations(x, block, block + 1)
        pooled[block + 1] = x.astype(jnp.float32).mean(axis=(1, 2))
    return jnp.concatenate([pooled[block] for block in blocks], axis=-1)


def feature_distance(spec: GateSpec, features: jax.Array) -> jax.Array:
    """(N,) the smallest squared Mahalanobis distance of standardised features to a class
    mean under the spec's shared precision."""
    return distance_to_means(features, spec.feature_floor, spec.feature_shift, spec.feature_scale, spec.class_means,
                             spec.precision, jnp)


def distance_to_means(features: Any, floor: Any, shift: Any, scale: Any, class_means: Any, precision: Any,
                      xp: Any = np) -> Any:
    """spec.py's distance for numpy or jax.numpy arrays (`xp`) of pooled features: fitting's
    cross-fitted distances and the gate compute it alike. floor None: features not logged."""
    logged = features if floor is None else xp.log(features + xp.asarray(floor))
    z = (logged - xp.asarray(shift)) / xp.asarray(scale)
    offsets = z[:, None, :] - xp.asarray(class_means)[None]  # (N, classes, D)
    distances = xp.einsum("ncd,de,nce->nc", offsets, xp.asarray(precision), offsets)
    return distances.min(axis=-1)


@dataclasses.dataclass(frozen=True)
class PhotoMeasures:
    """What the gate measures of each photo, in order: (N,) brightness, colourfulness and
    sharpness, (N, COLOUR_BINS ** 2) colour histograms, (N, D) pooled features."""

    brightness: np.ndarray
    colourfulness: np.ndarray
    sharpness: np.ndarray
    colour_histogram: np.ndarray
    features: np.ndarray


def measure_photos(model: VGG16, blocks: tuple[int, ...], batches: Iterable[np.ndarray]) -> PhotoMeasures:
    """The measures of every photo of uint8 (n, S, S, 3) batches, in order, with the model in
    eval mode; batches are padded to MEASURE_BATCH so the measures compile once."""
    model.eval()
    graphdef, state = nnx.split(model, nnx.Param)
    state = local_values(state)
    parts = []
    for batch in batches:
        for start in range(0, len(batch), MEASURE_BATCH):
            chunk = batch[start : start + MEASURE_BATCH]
            measured = _measure(graphdef, tuple(blocks), state, pad_batch(chunk, MEASURE_BATCH))
            parts.append([np.asarray(value)[: len(chunk)] for value in measured])
    if not parts:
        width = sum(model.config.block_channels()[block - 1] for block in blocks)
        return PhotoMeasures(*(np.zeros(0, np.float32) for _ in range(3)), np.zeros((0, COLOUR_BINS**2), np.float32),
                             np.zeros((0, width), np.float32))
    return PhotoMeasures(*(np.concatenate(values) for values in zip(*parts)))


def measure_records(model: VGG16, blocks: tuple[int, ...], records: list[ImageRecord], workers: int = 0) -> PhotoMeasures:
    """The measures of photos on disk, decoded and resized as the classifier sees them
    (no augmentation), in order."""
    batches = epoch_batches(records, image_size=model.config.image_size, batch_size=MEASURE_BATCH, workers=workers)
    return measure_photos(model, blocks, (batch["image"] for batch in batches))


@functools.partial(jax.jit, static_argnums=(0, 1))  # compiled once per model structure and blocks
def _measure(graphdef, blocks: tuple[int, ...], state, images: jax.Array) -> tuple[jax.Array, ...]:
    return *image_measures(images), colour_histogram(images), pooled_features(nnx.merge(graphdef, state), images, blocks)


def decide(spec: GateSpec, measures: PhotoMeasures, photo_size: Any = None) -> dict[str, np.ndarray]:
    """The gate's decision from measured photos: gradable (N,) bool, reason (N,) int32 and
    the measures it rests on. photo_size (N, 2) height, width; None = not known (0, 0)."""
    count = len(measures.brightness)
    size = np.zeros((count, 2), np.int32) if photo_size is None else np.asarray(photo_size, np.int32)
    distance = np.asarray(feature_distance(spec, jnp.asarray(measures.features)))
    colours = np.asarray(colour_distance(spec, measures.colour_histogram, np))  # numpy: exact, never TF32 on a GPU
    measured = {"brightness": measures.brightness, "colourfulness": measures.colourfulness,
                "sharpness": measures.sharpness, "colour_distance": colours, "feature_distance": distance}
    gradable, reason = gate_decision(jnp.asarray(size), {name: jnp.asarray(value) for name, value in measured.items()},
                                     spec.limits, xp=jnp)
    return {"gradable": np.asarray(gradable), "reason": np.asarray(reason), **measured}


def gate(model: VGG16, spec: GateSpec, images: np.ndarray, photo_size: Any = None) -> dict[str, np.ndarray]:
    """The gate on uint8 (N, S, S, 3) photos, resized as the classifier sees them:
    dict(gradable, reason, brightness, colourfulness, sharpness, colour_distance,
    feature_distance), each (N,)."""
    return decide(spec, measure_photos(model, spec.feature_blocks, [np.asarray(images)]), photo_size)
