"""The contract every side of the product shares, in one module.

Training, export, the Triton python models, the client library and the dashboard all
import this module, so class names, model and tensor names, the model repository's
layout, size limits, and how a photo becomes model input are defined exactly once.

It imports nothing else of the project and needs only numpy and Pillow: `cataract
export` copies it into the model repository, where Triton's python backend imports it
in an environment that has nothing else of this project.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# -- classes: index order is the model's output order and labels.txt's ----------------------

CLASS_NAMES = ("cataract", "normal")
POSITIVE_CLASS = "cataract"
CATARACT = CLASS_NAMES.index(POSITIVE_CLASS)

# -- the model repository ---------------------------------------------------------------------

CLASSIFIER = "cataract_vgg16"  # uint8 pixels -> probabilities, heatmap
PREPROCESS = "preprocess"  # encoded photo bytes -> uint8 pixels
ENSEMBLE = "cataract"  # encoded photo bytes -> probabilities, heatmap
INPUT_IMAGE = "image"
INPUT_IMAGE_BYTES = "image_bytes"
OUTPUT_PROBABILITIES = "probabilities"
OUTPUT_HEATMAP = "heatmap"
LABELS_FILE = "labels.txt"
SAVEDMODEL_DIR = "model.savedmodel"  # <model>/<version>/model.savedmodel
MODEL_CARD = "model_card.json"  # <model>/<version>/model_card.json
SAVEDMODEL_SIGNATURE = "serving_default"
# Each of VGG16's five blocks halves the image: the heatmap's side is image_size / 32.
HEATMAP_REDUCTION = 32


def version_numbers(model_dir: str | os.PathLike) -> list[int]:
    """The exported versions of a model folder, ascending."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(child.name) for child in model_dir.iterdir() if child.is_dir() and child.name.isdigit())


# -- photos -----------------------------------------------------------------------------------

# Limits shared by every door into the system (client, CLI, dashboard, server).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # ~ a 7700x5200 photo; larger headers are treated as bombs

# One fixed filter: PIL's bilinear resize is area-aware when shrinking, so large
# photos are smoothed rather than aliased on their way down to 224x224.
RESIZE_FILTER = Image.Resampling.BILINEAR

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, Image.Image, np.ndarray]


class ImageError(ValueError):
    """The input is not a usable photo; the message says why in one line."""


def read_image_bytes(path: str | os.PathLike) -> bytes:
    """Read an image file, refusing ones over MAX_IMAGE_BYTES before reading them."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size > MAX_IMAGE_BYTES:
        raise ImageError(
            f"file is {size / 2**20:.1f} MiB, over the limit of {MAX_IMAGE_BYTES / 2**20:.0f} MiB"
        )
    return path.read_bytes()


def decode_image(data: bytes | bytearray | memoryview, reduce_to: int | None = None) -> Image.Image:
    """Decode encoded image bytes to an 8-bit RGB image, upright per its EXIF tag.

    Grayscale, palette, RGBA, CMYK and 16-bit images become RGB; animated images
    give their first frame. Raises ImageError naming the problem otherwise.
    With `reduce_to`, a JPEG may come back smaller, its longest side at least that many
    pixels: the decoder then skips detail nobody will look at (2-3x faster on large photos).
    """
    data = bytes(data)
    if not data:
        raise ImageError("empty input: no image bytes")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(
            f"image is {len(data) / 2**20:.1f} MiB, over the limit of {MAX_IMAGE_BYTES / 2**20:.0f} MiB"
        )
    try:
        with warnings.catch_warnings():
            # Our own pixel limit below is stricter; silence PIL's softer warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError("not an image: the bytes are in no known image format") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"refused as a decompression bomb: {exc}") from None
    except Exception as exc:  # PIL raises many types for malformed headers
        if "truncated" in str(exc).lower():
            raise ImageError(f"truncated or corrupt image data: {exc}") from None
        raise ImageError(f"cannot decode image: {exc}") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(
            f"image declares {width}x{height} pixels, over the limit of {MAX_IMAGE_PIXELS:,} "
            "(refused as a possible decompression bomb)"
        )
    if reduce_to is not None and max(width, height) > reduce_to:
        scale = reduce_to / max(width, height)  # the box keeps the photo's proportions
        image.draft("RGB", (max(1, round(width * scale)), max(1, round(height * scale))))
    try:
        image.load()
    except Exception as exc:
        raise ImageError(f"truncated or corrupt {image.format or 'image'} data: {exc}") from None
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """Return an upright 8-bit RGB copy of any PIL image."""
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not cost the photo itself
        pass
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit grayscale: scale the full range to 8 bits (convert() would clip).
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if pixels.max(initial=0) > 255 else 255.0
        gray = np.clip(pixels / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(np.stack([gray] * 3, axis=-1), "RGB")
    if image.mode == "F":
        gray = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0) * 255.0 + 0.5
        return Image.fromarray(np.stack([gray.astype(np.uint8)] * 3, axis=-1), "RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas carry arbitrary colours: show them as black, like a dark background.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def resize_for_model(image: Image.Image, size: int) -> np.ndarray:
    """Resize an RGB image to size x size (the whole photo, no crop) as uint8 HWC."""
    if image.mode != "RGB":
        image = to_rgb(image)
    if image.size != (size, size):
        image = image.resize((size, size), RESIZE_FILTER)
    return np.asarray(image, dtype=np.uint8)


def load_rgb(source: ImageSource) -> Image.Image:
    """Turn a path, encoded bytes, a PIL image or an HxWx3 uint8 array into RGB."""
    if isinstance(source, Image.Image):
        width, height = source.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ImageError(f"image is {width}x{height} pixels, over the limit of {MAX_IMAGE_PIXELS:,}")
        return to_rgb(source)
    if isinstance(source, np.ndarray):
        return array_to_rgb(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(source)
    if isinstance(source, (str, os.PathLike)):
        return decode_image(read_image_bytes(source))
    raise ImageError(f"unsupported image source of type {type(source).__name__}")


def array_to_rgb(array: np.ndarray) -> Image.Image:
    """An HxW or HxWx{1,3,4} uint8 array as an RGB image."""
    if array.dtype != np.uint8:
        raise ImageError(f"image arrays must be uint8, got {array.dtype}")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ImageError(f"image arrays must be HxW or HxWx3, got shape {array.shape}")
    if array.shape[0] * array.shape[1] > MAX_IMAGE_PIXELS:
        raise ImageError(f"image is {array.shape[1]}x{array.shape[0]} pixels, over the limit")
    return to_rgb(Image.fromarray(np.ascontiguousarray(array)))


def model_input(source: ImageSource, size: int) -> np.ndarray:
    """Any supported source as the classifier's input: uint8 (size, size, 3)."""
    return resize_for_model(load_rgb(source), size)
