"""Pictures and small HTML pieces the dashboard shows (pure functions, no Panel).

Every string a user or a server controls (a file name, a label read from the model's
config, an error message) reaches the page through `html_text` or `markdown_text`, so
it is shown literally and never run.
"""

from __future__ import annotations

import html
import io
import re
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from cataract_contract import NOT_CHECKED, SERVED_THRESHOLD

if TYPE_CHECKING:  # screening.py imports this module
    from dashboards.screening import SessionCounts

THUMBNAIL_SIDE = 240
CATARACT_COLOUR = np.array([230, 30, 30], np.float32)
NORMAL_COLOUR = np.array([30, 90, 240], np.float32)
# A refused photo's card: amber, the colour of "not a result, act on it", neither label's.
UNGRADABLE_COLOUR, UNGRADABLE_BACKGROUND = "#b26a00", "#fff8e1"
UNGRADABLE_TITLE = "Ungradable \N{EM DASH} retake"
ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def html_text(text: object) -> str:
    """Any text, for an HTML pane: shown as written, never parsed as markup."""
    return html.escape(str(text), quote=True)


def markdown_text(text: object) -> str:
    """Any text, for a Markdown pane (or a widget that renders Markdown, such as the
    alerts): every ASCII punctuation mark backslash-escaped, which CommonMark then shows
    as itself, so neither Markdown nor HTML in it is interpreted."""
    return ASCII_PUNCTUATION.sub(r"\\\1", str(text))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def thumbnail_png(image: Image.Image, side: int = THUMBNAIL_SIDE) -> bytes:
    """A decoded photo as a PNG of at most `side` pixels a side: made once per photo."""
    small = image.copy() if max(image.size) <= side else image.resize(_fit(image.size, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return _png(small)


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    scale = side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def heatmap_overlay(thumbnail: bytes, heatmap: np.ndarray, opacity: float = 0.55) -> bytes:
    """The photo's thumbnail (PNG) with its class-activation map laid over it, as PNG:
    red where the model saw evidence for cataract, blue where it saw evidence for a
    normal eye, stronger the stronger the evidence (scaled to the map's largest magnitude).

    The model saw the photo squeezed to a square, so the map is stretched back to the
    photo's own shape.
    """
    image = Image.open(io.BytesIO(thumbnail)).convert("RGB")
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


def session_summary(counts: SessionCounts) -> str:
    """The session's answers counted by gradability, with its refusal rate."""
    if not counts.screened:
        return "<b>This session</b> no photos screened yet"
    parts = [f"{counts.graded} graded", f'<span class="ungradable-count" style="color:{UNGRADABLE_COLOUR}">'
             f"{counts.ungradable} ungradable</span>"]
    if counts.unchecked:
        parts.append(f"{counts.unchecked} {NOT_CHECKED}")
    return (f"<b>This session</b> {counts.screened} photo(s) screened: {', '.join(parts)}; "
            f'refusal rate <span class="refusal-rate">{100 * counts.refusal_rate:.1f}%</span>')
