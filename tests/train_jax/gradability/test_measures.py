"""The gate's JAX measures against their numpy reference and the definitions in spec.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from flax import nnx

from cataract_contract import GateLimits, UngradableReason
from train_jax.gradability.fit import colour_statistics, standardised_statistics
from train_jax.gradability.measures import (
    colour_distance,
    colour_histogram,
    distance_to_mean,
    distance_to_means,
    feature_distance,
    gate,
    image_measures,
    measure_photos,
    reference_image_measures,
)
from tests.train_jax.export import gate_reference
from train_jax.gradability.spec import COLOUR_BINS, COLOUR_FLOOR, GateSpec
from train_jax.model.vgg16 import VGG16, ModelConfig


def photos(count: int = 6, side: int = 40, seed: int = 0) -> np.ndarray:
    """Noise, flat, dark, smooth and striped photos: every measure's range."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, side, side, 3), dtype=np.uint8)
    images[1] = 128
    images[2] //= 20
    images[3] = np.linspace(0, 255, side, dtype=np.uint8)[None, :, None]
    images[4, :, ::2] = 255
    return images


def test_jax_image_measures_match_an_independent_float64_reference():
    """Held to the formulas written out again in float64 (the export tests' reference),
    not to the module's own numpy path, which shares their code."""
    images = photos()
    images[5] = (255, 0, 0)  # pure red: rg = 255, yb = 127.5 everywhere, no spread
    brightness, colourfulness, sharpness = (np.asarray(value) for value in image_measures(images))
    expected_brightness, expected_colourfulness, expected_sharpness = gate_reference.image_measures(images)
    np.testing.assert_allclose(brightness, expected_brightness, rtol=1e-5)
    np.testing.assert_allclose(colourfulness, expected_colourfulness, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(sharpness, expected_sharpness, atol=1e-4)
    assert colourfulness[1] == colourfulness[3] == pytest.approx(0.0, abs=1e-3)  # grey, flat or not
    assert colourfulness[5] == pytest.approx(0.3 * np.hypot(255, 127.5), rel=1e-5)
    assert colourfulness[0] > 50  # independent channels of noise
    assert sharpness[1] == pytest.approx(0.0, abs=1e-6)  # flat: log10(1 / 1)
    assert sharpness[0] > 1.0 > sharpness[3]  # noise is far sharper than a smooth ramp


def test_the_colour_histogram_bins_every_pixel_as_the_reference_and_the_definition_do():
    images = photos(8, 24, seed=2)
    images[5] = (255, 0, 0)  # pure red: r = 1 (the last bin), g = 0
    images[6] = (100, 100, 100)  # grey: r = g = 1/3, bin 8 * 100 // 300 = 2
    images[7, :12] = (10, 10, 10)  # half too dark to count, half (0, 200, 100): r = 0, g = 1600 // 300 = 5
    images[7, 12:] = (0, 200, 100)
    histograms = np.asarray(colour_histogram(images))
    assert histograms.shape == (8, COLOUR_BINS**2) and histograms.dtype == np.float32
    np.testing.assert_allclose(histograms, gate_reference.colour_histogram(images), atol=1e-7)
    shares = histograms.sum(axis=1)
    assert shares[2] == 0.0  # the dark photo: no pixel lit, no share
    np.testing.assert_allclose(np.delete(shares, 2), 1.0, rtol=1e-6)
    for row, (r, g) in ((5, (7, 0)), (6, (2, 2)), (7, (0, 5))):
        assert histograms[row, r * COLOUR_BINS + g] == 1.0  # the dark half of row 7 is left out


def test_the_colour_distance_is_the_squared_mahalanobis_distance_of_the_logged_histogram():
    rng = np.random.default_rng(3)
    histograms = rng.dirichlet(np.full(COLOUR_BINS**2, 0.5), 50).astype(np.float32)
    mean, precision = colour_statistics(histograms)
    spec = dataclasses.replace(spec_for(rng.gamma(2.0, size=(50, 4)).astype(np.float32), np.arange(50) % 2,
                                        GateLimits(0.01, 0, 255, -9, 1e9)), colour_mean=mean, colour_precision=precision)
    probe = histograms[:3]
    offsets = np.log(probe.astype(np.float64) + COLOUR_FLOOR) - mean
    by_hand = np.array([row @ precision @ row for row in offsets])
    np.testing.assert_allclose(np.asarray(colour_distance(spec, probe)), by_hand, rtol=1e-4)
    # A gate fitted before the check measures nothing for it.
    assert not np.asarray(colour_distance(dataclasses.replace(spec, colour_mean=None), probe)).any()


def tiny_model(side: int = 32) -> VGG16:
    return VGG16(ModelConfig(image_size=side, width=0.125), rngs=nnx.Rngs(0))


def test_pooled_features_are_each_block_s_global_average_in_the_listed_order():
    model = tiny_model()
    images = photos(21, 32, seed=3)  # in batches that are not multiples of the compiled batch
    measured = measure_photos(model, (5, 2), [images[:5], images[5:]])
    channels = model.config.block_channels()
    assert measured.features.shape == (21, channels[4] + channels[1])
    block_output = nnx.jit(lambda model, images, block: model.activations(images, 0, block), static_argnums=2)
    for block, columns in ((5, slice(0, channels[4])), (2, slice(channels[4], None))):
        np.testing.assert_allclose(measured.features[:, columns],
                                   np.asarray(block_output(model, images, block)).mean(axis=(1, 2)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(measured.brightness, reference_image_measures(images)[0], rtol=1e-5)


def spec_for(features: np.ndarray, labels: np.ndarray, limits: GateLimits) -> GateSpec:
    floor, shift, scale, means, precision = standardised_statistics(features, labels)
    return GateSpec(limits=limits, feature_blocks=(5,), feature_shift=shift, feature_scale=scale, class_means=means,
                    precision=precision, feature_floor=floor)


@pytest.mark.parametrize("logged", [True, False], ids=["logged", "fitted-before-the-floor"])
def test_feature_distance_is_the_smallest_squared_mahalanobis_distance_to_a_class_mean(logged):
    rng = np.random.default_rng(1)
    features = rng.gamma(2.0, size=(40, 4)).astype(np.float32)  # positive, as pooled ReLU outputs are
    labels = np.arange(40) % 2
    spec = spec_for(features, labels, GateLimits(0.01, 0, 255, -9, 1e9))
    if not logged:
        spec = dataclasses.replace(spec, feature_floor=None)
    probe = rng.gamma(2.0, size=(5, 4)).astype(np.float32)
    entering = np.log(probe.astype(np.float64) + spec.feature_floor) if logged else probe.astype(np.float64)
    z = (entering - spec.feature_shift) / spec.feature_scale
    by_hand = np.array([min((row - mean) @ spec.precision @ (row - mean) for mean in spec.class_means) for row in z])
    np.testing.assert_allclose(np.asarray(feature_distance(spec, probe)), by_hand, rtol=1e-4)
    np.testing.assert_allclose(distance_to_means(probe, spec.feature_floor, spec.feature_shift, spec.feature_scale,
                                                 spec.class_means, spec.precision), by_hand, rtol=1e-4)


def test_gate_gives_the_contract_s_reasons_in_its_order():
    model = tiny_model()
    images = photos(6, 32)[:5]  # noise at a tiny size, flat grey, dark, a smooth ramp, stripes
    images[3, ..., 0] = 200  # a coloured ramp: smooth, not grey
    features = measure_photos(model, (5,), [photos(30, 32, seed=5)]).features
    brightness, _, _ = reference_image_measures(images)
    limits = GateLimits(0.01, min_brightness=float(brightness[2]) + 1, max_brightness=200, min_sharpness=-0.5,
                        max_feature_distance=1e12, min_colourfulness=1.0)
    spec = spec_for(features, np.arange(30) % 2, limits)
    sizes = [(20, 40)] + [(40, 40)] * 4
    decided = gate(model, spec, images, sizes)
    assert decided["reason"].tolist() == [UngradableReason.TOO_SMALL, UngradableReason.GREYSCALE,
                                          UngradableReason.TOO_DARK, UngradableReason.BLURRED, 0]
    assert decided["gradable"].tolist() == [False, False, False, False, True]
    assert set(decided) == {"gradable", "reason", "brightness", "colourfulness", "sharpness", "colour_distance",
                            "feature_distance"}
    # A gate fitted before the grey check has no limit for it, and passes the grey photo.
    before_colour = gate(model, spec.with_limits(dataclasses.replace(limits, min_colourfulness=None)), images, sizes)
    assert before_colour["reason"][1] == 0


def test_the_colour_distribution_check_refuses_colours_the_training_photos_lack():
    """Fitted on reddish photos, it passes another reddish one and refuses the same photo
    in green as not an eye photo, whatever the features say (their limit is left open)."""
    model = tiny_model()
    rng = np.random.default_rng(6)
    reddish = np.clip(rng.normal((170, 110, 90), 25, (30, 32, 32, 3)), 0, 255).astype(np.uint8)
    mean, precision = colour_statistics(np.asarray(colour_histogram(reddish)))
    fitted = distance_to_mean(np.asarray(colour_histogram(reddish[:29])), mean, precision)
    limits = GateLimits(0.01, 0, 255, -9, 1e12, min_colourfulness=None, max_colour_distance=float(fitted.max()) * 2)
    features = measure_photos(model, (5,), [reddish]).features
    spec = dataclasses.replace(spec_for(features, np.arange(30) % 2, limits), colour_mean=mean, colour_precision=precision)
    green = reddish[29:][..., [1, 0, 2]]  # red and green swapped
    decided = gate(model, spec, np.concatenate([reddish[29:], green]))
    assert decided["reason"].tolist() == [0, UngradableReason.NOT_AN_EYE_PHOTO]
    assert decided["colour_distance"][1] > limits.max_colour_distance > decided["colour_distance"][0]
    skipped = gate(model, spec.with_limits(dataclasses.replace(limits, max_colour_distance=None)), green)
    assert skipped["reason"].tolist() == [0]  # a gate fitted before the check

