"""VGG16's shape, without any framework: its blocks, their Keras names, and which image
sizes survive its poolings. Light to import (the command line's settings use it)."""

from __future__ import annotations

from train_jax.errors import UserError

# (channels, convolutions) per block, as in Simonyan & Zisserman's configuration D.
VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
POOLINGS = len(VGG16_BLOCKS)
MIN_IMAGE_SIZE = 2**POOLINGS


def keras_layer_name(block: int, conv: int) -> str:
    """Keras' name for convolution `conv` of block `block` (both 0-based)."""
    return f"block{block + 1}_conv{conv + 1}"


def conv_layer_names() -> list[str]:
    """The 13 convolutions in network order, by their Keras names."""
    return [keras_layer_name(b, c) for b, (_, count) in enumerate(VGG16_BLOCKS) for c in range(count)]


def check_image_size(image_size: int) -> None:
    if image_size < MIN_IMAGE_SIZE or image_size % MIN_IMAGE_SIZE:
        raise UserError(
            f"--image-size {image_size} does not survive VGG16's {POOLINGS} poolings: "
            f"use a multiple of {MIN_IMAGE_SIZE} (e.g. 64 for tests, 224 for the real model)"
        )
