"""The earlier project's augmentation: each transform does what it says, within range."""

from __future__ import annotations

import numpy as np

from train_jax.data.augment import AugmentConfig, augment

NONE = AugmentConfig(rotation_degrees=0, shift_fraction=0, zoom_fraction=0, brightness_fraction=0, horizontal_flip=False)


def half_bright(size: int = 64) -> np.ndarray:
    image = np.zeros((size, size, 3), np.uint8)
    image[:, : size // 2] = 200
    return image


def test_no_transform_is_the_identity():
    image = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    out = augment(image, np.random.default_rng(1), NONE)
    assert np.abs(out.astype(int) - image).max() <= 1


def test_flip_mirrors_left_and_right():
    config = AugmentConfig(rotation_degrees=0, shift_fraction=0, zoom_fraction=0, brightness_fraction=0)
    flipped = [augment(half_bright(), np.random.default_rng(seed), config) for seed in range(20)]
    right_bright = [img[:, -8:].mean() > 150 for img in flipped]
    assert 3 <= sum(right_bright) <= 17  # about half the draws flip


def test_brightness_stays_within_15_percent():
    config = AugmentConfig(rotation_degrees=0, shift_fraction=0, zoom_fraction=0, horizontal_flip=False)
    gray = np.full((16, 16, 3), 100, np.uint8)
    means = [augment(gray, np.random.default_rng(seed), config).mean() for seed in range(50)]
    assert 84 <= min(means) < 95 and 105 < max(means) <= 116


def test_shift_moves_content_by_at_most_10_percent_and_fills_with_the_nearest_edge():
    config = AugmentConfig(rotation_degrees=0, zoom_fraction=0, brightness_fraction=0, horizontal_flip=False)
    image = half_bright(100)
    for seed in range(20):
        out = augment(image, np.random.default_rng(seed), config)
        edge = np.flatnonzero(out[50, :, 0] < 100)[0]  # first dark column
        assert 39 <= edge <= 61
        assert out[:, 0].min() >= 190  # the left border stays bright: nearest fill, no black


def test_same_generator_state_gives_the_same_image():
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    first = augment(image, np.random.default_rng(5))
    second = augment(image, np.random.default_rng(5))
    np.testing.assert_array_equal(first, second)
    assert first.shape == image.shape and first.dtype == np.uint8
