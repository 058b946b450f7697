"""Pictures and small HTML pieces the dashboard shows (pure functions, no Panel)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from cataract_contract import SERVED_THRESHOLD, decode_image

THUMBNAIL_SIDE = 240
CATARACT_COLOUR = np.array([230, 30, 30], np.float32)
NORMAL_COLOUR = np.array([30, 90, 240], np.float32)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def thumbnail(photo: bytes, side: int = THUMBNAIL_SIDE) -> Image.Image:
    image = decode_image(photo)
    image.thumbnail((side, side))
    return image


def heatmap_overlay(photo: bytes, heatmap: np.ndarray, side: int = THUMBNAIL_SIDE, opacity: float = 0.55) -> bytes:
    """The photo with its class-activation map laid over it, as PNG: red where the model
    saw evidence for cataract, blue where it saw evidence for a normal eye, stronger the
    stronger the evidence (scaled to the map's largest magnitude).

    The model saw the photo squeezed to a square, so the map is stretched back to the
    photo's own shape.
    """
    image = thumbnail(photo, side)
    evidence = np.asarray(heatmap, np.float32)
    peak = float(np.abs(evidence).max())
    scaled = evidence / peak if peak > 0 else evidence  # -1 (normal) .. 1 (cataract)
    # Resize the signed map as an image: shift to 0..255, resize, shift back.
    as_image = Image.fromarray(((scaled + 1) * 127.5).astype(np.uint8))
    values = np.asarray(as_image.resize(image.size, Image.Resampling.BILINEAR), np.float32) / 127.5 - 1
    colours = np.where(values[..., None] >= 0, CATARACT_COLOUR, NORMAL_COLOUR)
    alpha = (opacity * np.abs(values))[..., None]
    blended = np.asarray(image, np.float32) * (1 - alpha) + colours * alpha
    return _png(Image.fromarray(blended.clip(0, 255).astype(np.uint8)))


def thumbnail_png(photo: bytes, side: int = THUMBNAIL_SIDE) -> bytes:
    return _png(thumbnail(photo, side))


def probability_bar(probability: float) -> str:
    """P(cataract) as served (at the model's operating point) as a bar, with its decision
    point, 50%, marked on it."""
    percent, mark = 100 * probability, 100 * SERVED_THRESHOLD
    colour = "#c62828" if probability >= SERVED_THRESHOLD else "#2e7d32"
    return (
        f'<div class="probability-bar" title="P(cataract) {percent:.1f}%, decides at {mark:.0f}%" '
        f'style="position:relative;height:14px;width:100%;background:#e0e0e0;border-radius:7px;">'
        f'<div style="width:{percent:.1f}%;height:100%;background:{colour};border-radius:7px;"></div>'
        f'<div style="position:absolute;left:{mark:.1f}%;top:-3px;width:2px;height:20px;background:#212121;"></div>'
        f"</div>"
        f'<div style="font-size:12px;color:#555;">P(cataract) {percent:.1f}% &middot; decides at {mark:.0f}%</div>'
    )
