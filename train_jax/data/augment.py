"""The earlier project's augmentation (Keras ImageDataGenerator settings), on uint8 arrays.

rotation +-10 degrees, width and height shifts of 10%, zoom +-10% (each axis drawn on
its own, as Keras does), brightness x[0.85, 1.15], horizontal flip, and Keras'
"nearest" fill for the pixels a transform brings in from outside the photo.

One function draws a photo's augmentation (`draw_augmentation`); it is applied either
here with OpenCV (`augment`: the frozen-feature cache's views) or on the devices inside
the training step (data/device_augment.py), from the same draws.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    rotation_degrees: float = 10.0
    shift_fraction: float = 0.1
    zoom_fraction: float = 0.1
    brightness_fraction: float = 0.15
    horizontal_flip: bool = True


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """One photo's drawn augmentation, independent of the photo's size."""

    angle_degrees: float
    shift_x: float  # fractions of the width and height
    shift_y: float
    zoom_x: float
    zoom_y: float
    brightness: float  # factor on every channel
    flip: bool  # mirrored left to right

    def output_to_input(self, height: int, width: int) -> np.ndarray:
        """The 2x3 affine map from an output pixel (x, y, 1) to the input pixel it samples:
        rotation, zoom and shift about the centre, p_in = A^-1 (p_out - c - t) + c,
        mirrored (x -> W-1-x) at the output when flipping."""
        angle = math.radians(self.angle_degrees)
        cos, sin = math.cos(angle), math.sin(angle)
        inverse = np.array([[cos / self.zoom_x, sin / self.zoom_x], [-sin / self.zoom_y, cos / self.zoom_y]])
        centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
        offset = centre - inverse @ (centre + np.array([self.shift_x * width, self.shift_y * height]))
        output_to_input = np.hstack([inverse, offset[:, None]])
        if self.flip:
            mirror = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
            output_to_input = output_to_input @ mirror
        return output_to_input


def draw_augmentation(rng: np.random.Generator, config: AugmentConfig = AugmentConfig()) -> Augmentation:
    """A photo's augmentation drawn from `rng`; the order of the draws is part of every
    run's record (a run resumed, or trained again, sees the same augmentation)."""
    angle = rng.uniform(-config.rotation_degrees, config.rotation_degrees)
    shift_x = rng.uniform(-config.shift_fraction, config.shift_fraction)
    shift_y = rng.uniform(-config.shift_fraction, config.shift_fraction)
    zoom_x, zoom_y = rng.uniform(1 - config.zoom_fraction, 1 + config.zoom_fraction, size=2)
    brightness = rng.uniform(1 - config.brightness_fraction, 1 + config.brightness_fraction)
    flip = config.horizontal_flip and rng.random() < 0.5
    return Augmentation(angle, shift_x, shift_y, float(zoom_x), float(zoom_y), brightness, bool(flip))


def brightness_levels(brightness: float) -> np.ndarray:
    """The uint8 level each level 0-255 becomes: level * brightness rounded, clipped (in
    float32, as the devices compute it)."""
    return np.clip(np.arange(256, dtype=np.float32) * np.float32(brightness) + np.float32(0.5), 0, 255).astype(np.uint8)


def augment(image: np.ndarray, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """A randomly transformed copy of a uint8 HxWx3 image, same shape."""
    return apply_augmentation(image, draw_augmentation(rng, config))


def apply_augmentation(image: np.ndarray, augmentation: Augmentation) -> np.ndarray:
    """Rotation, shifts, zoom and the flip in one bilinear resample whose border
    replicates the edge pixels (Keras' "nearest" fill); brightness is a lookup table.
    OpenCV does both outside Python's lock, so grain's threads and workers decode and
    augment in parallel (cataract bench input)."""
    import cv2

    height, width = image.shape[:2]
    transformed = cv2.warpAffine(image, augmentation.output_to_input(height, width), (width, height),
                                 flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return cv2.LUT(transformed, brightness_levels(augmentation.brightness))
