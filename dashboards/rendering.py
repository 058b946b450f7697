"""Pictures and small HTML pieces the dashboard shows (pure functions, no Panel)."""

from __future__ import annotations

import html
import io

import numpy as np
from PIL import Image

from client.imaging import decode_image

THUMBNAIL_SIDE = 240


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def thumbnail(photo: bytes, side: int = THUMBNAIL_SIDE) -> Image.Image:
    image = decode_image(photo)
    image.thumbnail((side, side))
    return image


def heat_colours(values: np.ndarray) -> np.ndarray:
    """0..1 -> RGB, transparent blue through yellow to red (a compact "jet")."""
    values = np.clip(values, 0.0, 1.0)[..., None]
    anchors = np.array([[0, 0, 255], [0, 255, 255], [255, 255, 0], [255, 0, 0]], np.float32)
    position = values * (len(anchors) - 1)
    low = np.floor(position).astype(int).clip(0, len(anchors) - 2)
    fraction = position - low
    return (anchors[low[..., 0]] * (1 - fraction) + anchors[low[..., 0] + 1] * fraction).astype(np.uint8)


def heatmap_overlay(photo: bytes, heatmap: np.ndarray, side: int = THUMBNAIL_SIDE, opacity: float = 0.45) -> bytes:
    """The photo with its class-activation map laid over it, as PNG.

    Only evidence FOR cataract is coloured (positive values, scaled to the map's maximum);
    the model saw the photo squeezed to a square, so the map is stretched back to the
    photo's own shape.
    """
    image = thumbnail(photo, side)
    evidence = np.clip(np.asarray(heatmap, np.float32), 0.0, None)
    peak = float(evidence.max())
    scaled = evidence / peak if peak > 0 else evidence
    heat = Image.fromarray((scaled * 255).astype(np.uint8)).resize(image.size, Image.Resampling.BILINEAR)
    values = np.asarray(heat, np.float32) / 255.0
    colours = heat_colours(values).astype(np.float32)
    alpha = (opacity * values)[..., None]
    blended = np.asarray(image, np.float32) * (1 - alpha) + colours * alpha
    return _png(Image.fromarray(blended.clip(0, 255).astype(np.uint8)))


def thumbnail_png(photo: bytes, side: int = THUMBNAIL_SIDE) -> bytes:
    return _png(thumbnail(photo, side))


def probability_bar(probability: float, threshold: float) -> str:
    """P(cataract) as a bar, with the served decision threshold marked on it."""
    percent, mark = 100 * probability, 100 * threshold
    colour = "#c62828" if probability >= threshold else "#2e7d32"
    return (
        f'<div class="probability-bar" title="P(cataract) {percent:.1f}%, threshold {mark:.1f}%" '
        f'style="position:relative;height:14px;width:100%;background:#e0e0e0;border-radius:7px;">'
        f'<div style="width:{percent:.1f}%;height:100%;background:{colour};border-radius:7px;"></div>'
        f'<div style="position:absolute;left:{mark:.1f}%;top:-3px;width:2px;height:20px;background:#212121;"></div>'
        f"</div>"
        f'<div style="font-size:12px;color:#555;">P(cataract) {percent:.1f}% &middot; threshold {html.escape(f"{mark:.1f}")}%</div>'
    )
