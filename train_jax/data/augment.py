"""The earlier project's augmentation (Keras ImageDataGenerator settings), on uint8 arrays.

rotation +-10 degrees, width and height shifts of 10%, zoom +-10% (each axis drawn on
its own, as Keras does), brightness x[0.85, 1.15], horizontal flip, and Keras'
"nearest" fill for the pixels a transform brings in from outside the photo.
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


def augment(image: np.ndarray, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """A randomly transformed copy of a uint8 HxWx3 image, same shape.

    Rotation, shifts, zoom and the flip are one affine map about the centre, applied in
    one bilinear resample whose border replicates the edge pixels (Keras' "nearest"
    fill); brightness is a lookup table. OpenCV does both outside Python's lock, so
    grain's threads and workers decode and augment in parallel (cataract bench input).
    """
    import cv2

    height, width = image.shape[:2]
    angle = math.radians(rng.uniform(-config.rotation_degrees, config.rotation_degrees))
    shift_x = rng.uniform(-config.shift_fraction, config.shift_fraction) * width
    shift_y = rng.uniform(-config.shift_fraction, config.shift_fraction) * height
    zoom_x, zoom_y = rng.uniform(1 - config.zoom_fraction, 1 + config.zoom_fraction, size=2)
    brightness = rng.uniform(1 - config.brightness_fraction, 1 + config.brightness_fraction)
    flip = config.horizontal_flip and rng.random() < 0.5

    # The map from output to input pixel: p_in = A^-1 (p_out - c - t) + c, mirrored
    # (x -> W-1-x) at the output when flipping.
    cos, sin = math.cos(angle), math.sin(angle)
    inverse = np.array([[cos / zoom_x, sin / zoom_x], [-sin / zoom_y, cos / zoom_y]])
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    offset = centre - inverse @ (centre + np.array([shift_x, shift_y]))
    output_to_input = np.hstack([inverse, offset[:, None]])
    if flip:
        mirror = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        output_to_input = output_to_input @ mirror
    transformed = cv2.warpAffine(image, output_to_input, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_REPLICATE)
    levels = np.clip(np.arange(256, dtype=np.float32) * brightness + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(transformed, levels)
