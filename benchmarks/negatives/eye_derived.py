"""The kinds made from an eye photo instead of drawn: each function takes the photo (RGB) and
the kind's generator and returns one picture. darken (dark), brighten (bright) and dim
(dim) change its brightness, blur (blurred) puts it under a Gaussian blur, streak
(motion-blurred) smears it along a line, and shrink (shrunk) makes its shorter side
smaller than MIN_PHOTO_SIDE; the settings are canvas's constants."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from benchmarks.negatives.canvas import (
    BLUR_DIVISOR,
    BRIGHT_BRIGHTNESS,
    DARK_BRIGHTNESS,
    DIM_BRIGHTNESS,
    MOTION_DIVISOR,
    SHRUNK_SIDES,
    to_image,
)


def darken(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageEnhance.Brightness(photo).enhance(DARK_BRIGHTNESS)


def brighten(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageEnhance.Brightness(photo).enhance(rng.uniform(*BRIGHT_BRIGHTNESS))


def blur(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    return photo.filter(ImageFilter.GaussianBlur(max(photo.size) / BLUR_DIVISOR))


def shrink(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    shorter = int(rng.integers(*SHRUNK_SIDES))
    scale = shorter / min(photo.size)
    width, height = (max(1, round(side * scale)) for side in photo.size)
    return photo.resize((width, height), Image.Resampling.LANCZOS)


def dim(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageEnhance.Brightness(photo).enhance(rng.uniform(*DIM_BRIGHTNESS))


def streak(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Motion blur: each pixel the mean of a line of pixels along a random direction."""
    length = max(2, round(max(photo.size) / MOTION_DIVISOR))
    angle = float(rng.uniform(0, 180))
    turned = np.asarray(photo.rotate(angle, Image.Resampling.BILINEAR, expand=True), float)
    sums = np.cumsum(np.pad(turned, ((0, 0), (length, 0), (0, 0)), mode="edge"), axis=1)
    streaked = to_image((sums[:, length:] - sums[:, :-length]) / length)
    back = streaked.rotate(-angle, Image.Resampling.BILINEAR, expand=True)
    left, top = (back.width - photo.width) // 2, (back.height - photo.height) // 2
    return back.crop((left, top, left + photo.width, top + photo.height))
