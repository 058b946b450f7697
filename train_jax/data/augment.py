"""The earlier project's augmentation (Keras ImageDataGenerator settings), on uint8 arrays.

rotation +-10 degrees, width and height shifts of 10%, zoom +-10% (each axis drawn on
its own, as Keras does), brightness x[0.85, 1.15], horizontal flip, and Keras'
"nearest" fill for the pixels a transform brings in from outside the photo.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from PIL import Image


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    rotation_degrees: float = 10.0
    shift_fraction: float = 0.1
    zoom_fraction: float = 0.1
    brightness_fraction: float = 0.15
    horizontal_flip: bool = True


def augment(image: np.ndarray, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """A randomly transformed copy of a uint8 HxWx3 image, same shape."""
    height, width = image.shape[:2]
    angle = math.radians(rng.uniform(-config.rotation_degrees, config.rotation_degrees))
    shift_x = rng.uniform(-config.shift_fraction, config.shift_fraction) * width
    shift_y = rng.uniform(-config.shift_fraction, config.shift_fraction) * height
    zoom_x, zoom_y = rng.uniform(1 - config.zoom_fraction, 1 + config.zoom_fraction, size=2)
    brightness = rng.uniform(1 - config.brightness_fraction, 1 + config.brightness_fraction)
    flip = config.horizontal_flip and rng.random() < 0.5

    # Edge padding makes PIL's affine sampling behave like Keras' "nearest" fill: a point
    # outside the photo takes the colour of the closest border pixel.
    pad = int(math.ceil(0.35 * max(height, width)))
    padded = Image.fromarray(np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge"))

    # PIL wants the map from output to input pixel: p_in = A^-1 (p_out - c - t) + c.
    cos, sin = math.cos(angle), math.sin(angle)
    inverse = np.array([[cos / zoom_x, sin / zoom_x], [-sin / zoom_y, cos / zoom_y]])
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    offset = centre - inverse @ (centre + np.array([shift_x, shift_y])) + pad
    coefficients = (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])
    transformed = padded.transform((width, height), Image.Transform.AFFINE, coefficients, Image.Resampling.BILINEAR)

    pixels = np.asarray(transformed, dtype=np.float32) * brightness
    if flip:
        pixels = pixels[:, ::-1]
    return np.clip(pixels + 0.5, 0, 255).astype(np.uint8)
