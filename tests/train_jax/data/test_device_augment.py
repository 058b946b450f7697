"""Augmentation on the devices: the host's draws (the earlier project's ranges), the same
transform as OpenCV's on real photos, the batches that ship the draws, and batches put on
the devices ahead of the step."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from cataract_contract import decode_image, read_image_bytes, resize_for_model
from train_jax.data.augment import AugmentConfig, Augmentation, apply_augmentation, brightness_levels, draw_augmentation
from train_jax.data.device_augment import augment_photos, augmentation_of, prefetch_to_device
from train_jax.data.pipeline import epoch_batches
from train_jax.data.scan import discover

SIZE = 224
# Output pixels whose sampled point lies at least this far inside the photo count as
# interior: no edge pixel is replicated into them.
MARGIN = 8

# Fixed draws at the ranges' ends, then draws as training makes them.
FIXED = [
    Augmentation(10.0, 0.1, -0.1, 0.9, 1.1, 1.15, True),
    Augmentation(-10.0, -0.1, 0.1, 1.1, 0.9, 0.85, False),
    Augmentation(3.7, 0.02, 0.05, 1.03, 0.97, 1.0, True),
]
DRAWN = [draw_augmentation(np.random.default_rng([0, 1, position])) for position in range(5)]


def on_device(images: np.ndarray, draws: list[Augmentation]) -> np.ndarray:
    height, width = images.shape[1:3]
    maps = np.stack([draw.output_to_input(height, width) for draw in draws]).astype(np.float32)
    brightness = np.array([draw.brightness for draw in draws], np.float32)
    return np.asarray(jax.jit(augment_photos)(images, maps, brightness))


def interior(draw: Augmentation, height: int, width: int) -> np.ndarray:
    """(height, width) True where the output pixel samples the photo at least MARGIN
    pixels inside its edges."""
    rows, columns = np.mgrid[:height, :width]
    x, y = np.tensordot(draw.output_to_input(height, width), np.stack([columns, rows, np.ones_like(rows)]), 1)
    return (x >= MARGIN) & (x <= width - 1 - MARGIN) & (y >= MARGIN) & (y <= height - 1 - MARGIN)


def test_on_real_photos_the_device_transform_matches_opencv(real_photos):
    paths = sorted((real_photos / "train" / "cataract").glob("*.jpg"))[:2] + sorted(
        (real_photos / "train" / "normal").glob("*.jpg"))[:2]
    photos = np.stack([resize_for_model(decode_image(read_image_bytes(path)), SIZE) for path in paths])
    # Each fixed draw on every photo, then a batch whose photos each have their own draw.
    for draws in [[draw] * len(photos) for draw in FIXED + DRAWN] + [DRAWN[: len(photos)]]:
        device = on_device(photos, draws).astype(int)
        opencv = np.stack([apply_augmentation(photo, draw) for photo, draw in zip(photos, draws)]).astype(int)
        inside = np.stack([interior(draw, SIZE, SIZE) for draw in draws])
        assert inside.mean() > 0.6, "the interior is most of the photo"
        difference = np.abs(device - opencv)
        assert np.percentile(difference[inside], 99) <= 2, draws
        assert difference.mean() < 0.2, draws  # the whole photo, border fill included


def test_the_device_brightness_is_the_lookup_table():
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    for brightness in (0.85, 0.9137, 1.0, 1.0621, 1.15):
        plain = Augmentation(0.0, 0.0, 0.0, 1.0, 1.0, brightness, False)
        np.testing.assert_array_equal(on_device(levels[None], [plain])[0], brightness_levels(brightness)[levels])


def test_the_draws_span_the_earlier_projects_ranges():
    draws = [draw_augmentation(np.random.default_rng([3, 1, position])) for position in range(4000)]

    def spread(name: str) -> np.ndarray:
        return np.array([getattr(draw, name) for draw in draws], np.float64)

    for name, low, high in [("angle_degrees", -10, 10), ("shift_x", -0.1, 0.1), ("shift_y", -0.1, 0.1),
                            ("zoom_x", 0.9, 1.1), ("zoom_y", 0.9, 1.1), ("brightness", 0.85, 1.15)]:
        values = spread(name)
        assert low <= values.min() < low + 0.01 * (high - low) and high - 0.01 * (high - low) < values.max() <= high, name
        assert abs(values.mean() - (low + high) / 2) < 0.03 * (high - low), name  # uniform, centred
    assert abs(np.corrcoef(spread("zoom_x"), spread("zoom_y"))[0, 1]) < 0.05  # each axis drawn on its own
    assert 0.47 < spread("flip").mean() < 0.53
    assert not any(draw_augmentation(np.random.default_rng(seed), AugmentConfig(horizontal_flip=False)).flip
                   for seed in range(50))


def test_the_output_to_input_map_rotates_shifts_zooms_and_mirrors_about_the_centre():
    np.testing.assert_allclose(Augmentation(0, 0, 0, 1, 1, 1, False).output_to_input(40, 60), [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_allclose(Augmentation(0, 0, 0, 1, 1, 1, True).output_to_input(40, 60), [[-1, 0, 59], [0, 1, 0]])
    shifted = Augmentation(0, 0.1, -0.1, 1, 1, 1, False).output_to_input(40, 60)
    np.testing.assert_allclose(shifted @ [30, 20, 1], [24, 24])  # content moves right 6 and up 4
    zoomed = Augmentation(0, 0, 0, 1.1, 0.9, 1, False).output_to_input(41, 61)
    np.testing.assert_allclose(zoomed @ [30, 20, 1], [30, 20])  # the centre stays put
    np.testing.assert_allclose(zoomed @ [41, 20, 1], [30 + 11 / 1.1, 20])
    turned = Augmentation(90, 0, 0, 1, 1, 1, False).output_to_input(41, 41)
    np.testing.assert_allclose(turned @ [30, 20, 1], [20, 10], atol=1e-9)


def test_batches_for_the_devices_ship_the_photos_as_decoded_and_each_ones_draw(synthetic_photos):
    records = discover(synthetic_photos)["train"][:16]
    options = dict(image_size=32, batch_size=8, seed=7, epochs=(2, 3), shuffle=True, drop_remainder=True)
    plain = list(epoch_batches(records, **options))
    shipped = list(epoch_batches(records, **options, augment_config=AugmentConfig(), augment_on_device=True))
    halves = [list(epoch_batches(records, **options, augment_config=AugmentConfig(), augment_on_device=True,
                                 shard=(rank, 2))) for rank in range(2)]
    assert len(plain) == len(shipped) == 4
    for step, (unaugmented, batch) in enumerate(zip(plain, shipped)):
        np.testing.assert_array_equal(batch["image"], unaugmented["image"])
        epoch, first = 2 + step // 2, (step % 2) * 8
        draws = [draw_augmentation(np.random.default_rng([7, epoch, position])) for position in range(first, first + 8)]
        np.testing.assert_array_equal(batch["output_to_input"],
                                      np.stack([draw.output_to_input(32, 32) for draw in draws]).astype(np.float32))
        np.testing.assert_array_equal(batch["brightness"], np.array([draw.brightness for draw in draws], np.float32))
        for key in batch:  # each process ships its rows of the one-process batch, draws included
            np.testing.assert_array_equal(np.concatenate([halves[0][step][key], halves[1][step][key]]), batch[key])
    assert augmentation_of(plain[0]) is None and len(augmentation_of(shipped[0])) == 2


def test_batches_are_put_on_the_device_two_ahead_of_the_step_and_no_further():
    taken = []

    def batches():
        for index in range(5):
            taken.append(index)
            yield {"image": np.full((2, 4), index, np.uint8)}

    prefetched = prefetch_to_device(batches(), jax.device_put)
    first = next(prefetched)
    assert isinstance(first["image"], jax.Array) and taken == [0, 1]  # the step's batch and the next
    second = next(prefetched)  # while the first step computes: batches 1 and 2 on their way
    assert taken == [0, 1, 2]
    rest = list(prefetched)
    assert [int(batch["image"][0, 0]) for batch in [first, second, *rest]] == [0, 1, 2, 3, 4]
    with pytest.raises(StopIteration):
        next(prefetched)
