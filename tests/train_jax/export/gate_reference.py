"""The gradability gate computed independently of the exported graph, for export's tests:
each measure in numpy (float64) straight from the contract's and spec.py's definitions,
and a GateSpec fitted from a model's own logged features, for runs trained before training fitted
one itself."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

import cataract_contract as contract
from train_jax.gradability import spec as spec_module
from train_jax.gradability.spec import GateSpec

FEATURE_BLOCKS = (4, 5)
SHRINKAGE = 0.5
FLOOR_FRACTION = 0.1  # the features' log floor, as a share of their mean (the gate's own fit's)


def pooled_features(model, images: np.ndarray, feature_blocks: tuple[int, ...]) -> np.ndarray:
    """The global average of each block's pooled output, concatenated (N, D), float32."""
    with jax.default_matmul_precision("highest"):
        return np.concatenate([np.asarray(model.activations(images, 0, block)).mean(axis=(1, 2))
                               for block in feature_blocks], axis=1).astype(np.float32)


def image_measures(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Brightness, colourfulness and sharpness (N,) as the contract defines them."""
    rgb = images.astype(np.float64)
    rg, yb = rgb[..., 0] - rgb[..., 1], (rgb[..., 0] + rgb[..., 1]) / 2 - rgb[..., 2]
    colourfulness = (np.hypot(rg.std(axis=(1, 2)), yb.std(axis=(1, 2)))
                     + contract.COLOURFULNESS_MEAN_WEIGHT * np.hypot(rg.mean(axis=(1, 2)), yb.mean(axis=(1, 2))))
    luminance = rgb @ np.array(contract.LUMA)
    kernel = np.array(contract.LAPLACIAN_KERNEL)
    height, width = luminance.shape[1] - 2, luminance.shape[2] - 2
    laplacian = sum(kernel[row, column] * luminance[:, row : row + height, column : column + width]
                    for row in range(3) for column in range(3))
    sharpness = np.log10((laplacian.var(axis=(1, 2)) + 1) / (luminance.var(axis=(1, 2)) + 1))
    return luminance.mean(axis=(1, 2)), colourfulness, sharpness


def colour_histogram(images: np.ndarray) -> np.ndarray:
    """spec.py's chromaticity histogram (N, bins ** 2) in float64, counted by np.bincount."""
    bins = spec_module.COLOUR_BINS
    rgb = images.astype(np.int64).reshape(len(images), -1, 3)
    total = rgb.sum(axis=-1)
    histograms = np.zeros((len(images), bins * bins))
    for row, (pixels, sums) in enumerate(zip(rgb, total)):
        lit = sums >= spec_module.LIT_SUM
        r, g = (np.minimum(bins * pixels[lit, channel] // sums[lit], bins - 1) for channel in (0, 1))
        histograms[row] = np.bincount(r * bins + g, minlength=bins * bins) / max(1, lit.sum())
    return histograms


def colour_distance(spec: GateSpec, images: np.ndarray) -> np.ndarray:
    if spec.colour_mean is None:
        return np.zeros(len(images))
    offsets = np.log(colour_histogram(images) + spec_module.COLOUR_FLOOR) - spec.colour_mean
    return np.einsum("nd,de,ne->n", offsets, spec.colour_precision.astype(np.float64), offsets)


def feature_distance(spec: GateSpec, features: np.ndarray) -> np.ndarray:
    features = features.astype(np.float64)
    logged = features if spec.feature_floor is None else np.log(features + spec.feature_floor)
    z = (logged - spec.feature_shift) / spec.feature_scale
    offsets = z[:, None, :] - spec.class_means[None].astype(np.float64)
    return np.einsum("ncd,de,nce->nc", offsets, spec.precision.astype(np.float64), offsets).min(axis=1)


def measures(model, spec: GateSpec, images: np.ndarray) -> dict[str, np.ndarray]:
    brightness, colourfulness, sharpness = image_measures(images)
    return {"brightness": brightness, "colourfulness": colourfulness, "sharpness": sharpness,
            "colour_distance": colour_distance(spec, images),
            "feature_distance": feature_distance(spec, pooled_features(model, images, spec.feature_blocks))}


def decide(model, spec: GateSpec, images: np.ndarray, photo_size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gradable, reason) (N,) by the contract's gate_decision on these measures."""
    measured = measures(model, spec, images)
    return contract.gate_decision(np.asarray(photo_size), {name: value.astype(np.float32) for name, value in measured.items()},
                                  spec.limits)


def fit_gate(model, images: np.ndarray, labels: np.ndarray, quantile: float = 0.02,
             feature_blocks: tuple[int, ...] = FEATURE_BLOCKS) -> GateSpec:
    """A GateSpec fitted on `images` (class-conditional means, a shrunk shared covariance,
    each limit the photos' `quantile`), as a stand-in for training's own fit."""
    features = pooled_features(model, images, feature_blocks).astype(np.float64)
    floor = FLOOR_FRACTION * features.mean(axis=0) + 1e-3
    features = np.log(features + floor)
    shift, scale = features.mean(axis=0), features.std(axis=0) + 1e-3
    z = (features - shift) / scale
    classes = np.unique(labels)
    means = np.stack([z[labels == label].mean(axis=0) for label in classes])
    centred = z - means[np.searchsorted(classes, labels)]
    colours = np.log(colour_histogram(images) + spec_module.COLOUR_FLOOR)
    colour_mean = colours.mean(axis=0)
    spec = GateSpec(limits=contract.GateLimits(quantile, 0, 0, 0, 0), feature_blocks=feature_blocks,
                    feature_shift=shift.astype(np.float32), feature_scale=scale.astype(np.float32),
                    class_means=means.astype(np.float32), precision=shrunk_precision(centred),
                    feature_floor=floor.astype(np.float32), colour_mean=colour_mean.astype(np.float32),
                    colour_precision=shrunk_precision(colours - colour_mean),
                    method="test stand-in: quantiles of the fitting photos", blind_spots=("a test gate",),
                    validation={"refused": 0.0})
    measured = measures(model, spec, images)
    limits = contract.GateLimits(
        quantile=quantile, min_brightness=float(np.quantile(measured["brightness"], quantile)),
        max_brightness=float(np.quantile(measured["brightness"], 1 - quantile)),
        min_sharpness=float(np.quantile(measured["sharpness"], quantile)),
        max_feature_distance=float(np.quantile(measured["feature_distance"], 1 - quantile)),
        min_colourfulness=float(np.quantile(measured["colourfulness"], quantile)),
        max_colour_distance=float(np.quantile(measured["colour_distance"], 1 - quantile)))
    return dataclasses.replace(spec, limits=limits)


def shrunk_precision(centred: np.ndarray) -> np.ndarray:
    """The inverse of the covariance of centred rows, shrunk by SHRINKAGE towards its mean variance."""
    covariance = np.cov(centred, rowvar=False)
    shrunk = (1 - SHRINKAGE) * covariance + SHRINKAGE * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    return np.linalg.inv(shrunk).astype(np.float32)


def probes(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Photos the gate must refuse, beside ones it should pass, with their photo sizes:
    the images themselves, black, blurred (a box blur), noise, the first in grey, the first
    in green (colours no fitting photo has), and the first again at a tiny decoded size."""
    from PIL import Image, ImageFilter

    size = images.shape[1]
    blurred = np.stack([np.asarray(Image.fromarray(image).filter(ImageFilter.BoxBlur(size / 8))) for image in images[:2]])
    noise = np.random.default_rng(1).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    grey = np.repeat(np.asarray(Image.fromarray(images[0]).convert("L"))[None, ..., None], 3, axis=-1)
    green = images[:1].astype(np.float64)
    # The same luminance, most of it moved into the green channel (the brightness check passes).
    luma = green @ np.array([0.299, 0.587, 0.114])
    green = np.stack([luma * 0.3, np.minimum(255, luma * (1 - 0.413 * 0.3) / 0.587), luma * 0.3], axis=-1)
    batch = np.concatenate([images, np.zeros_like(images[:1]), blurred, noise, grey, green.astype(np.uint8), images[:1]])
    photo_size = np.full((len(batch), 2), 480, np.int32)
    photo_size[:len(images)] = 0  # not known: not checked
    photo_size[-1] = (contract.MIN_PHOTO_SIDE - 1, 300)
    return batch, photo_size
