"""The base of the package: the settings the kinds are made with, and the drawing helpers
shared by several kinds. SIDES bounds a drawn picture's width and height; DARK_BRIGHTNESS,
BRIGHT_BRIGHTNESS, BLUR_DIVISOR, DIM_BRIGHTNESS, MOTION_DIVISOR and SHRUNK_SIDES set the
eye-derived kinds (and their descriptions in the KINDS table). The helpers draw a picture's
size and colours, turn pixels into an image, shade gradients, fractal noise (plasma) and
sensor grain, write words in the default font, trace pen paths, irregular blobs and ovals,
cast shadows, give each pixel's column and row (grid), and show a flat picture as a phone
camera takes it (photographed). It imports nothing else of the package."""

from __future__ import annotations

import colorsys
import math
import string

import numpy as np
from PIL import Image, ImageFilter, ImageFont

from cataract_contract import MIN_PHOTO_SIDE


SIDES = (300, 800)  # pixels: a drawn picture's width and height are drawn from this range
DARK_BRIGHTNESS = 0.03
BRIGHT_BRIGHTNESS = (3.0, 4.0)
BLUR_DIVISOR = 40  # GaussianBlur radius = max(width, height) / BLUR_DIVISOR
DIM_BRIGHTNESS = (0.05, 0.15)
MOTION_DIVISOR = 25  # streak length = max(width, height) / MOTION_DIVISOR
SHRUNK_SIDES = (8, MIN_PHOTO_SIDE)  # the shorter side after shrinking: at least 8, under the limit


def picture_size(rng: np.random.Generator) -> tuple[int, int]:
    width, height = rng.integers(SIDES[0], SIDES[1] + 1, size=2)
    return int(width), int(height)


def colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    red, green, blue = (int(value) for value in rng.integers(low, high, size=3))
    return red, green, blue


def to_image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def vertical_gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> np.ndarray:
    width, height = size
    share = np.linspace(0.0, 1.0, height)[:, None, None]
    row = (1 - share) * np.array(top, float) + share * np.array(bottom, float)
    return np.broadcast_to(row, (height, width, 3)).copy()


def plasma(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Fractal noise in 0..1, (height, width): random grids of doubling resolution, each
    enlarged smoothly and weighted by half the one before."""
    width, height = size
    total = np.zeros((height, width))
    for octave in range(1, 7):
        cells = 2**octave
        grid = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8), "L")
        total += np.asarray(grid.resize((width, height), Image.Resampling.BICUBIC), float) / 255 / 2**octave
    return (total - total.min()) / max(float(np.ptp(total)), 1e-9)


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def words(rng: np.random.Generator, count: int) -> str:
    letters = np.array(list(string.ascii_lowercase))
    return " ".join("".join(rng.choice(letters, size=int(rng.integers(2, 10)))) for _ in range(count))


def grain(pixels: np.ndarray, rng: np.random.Generator, strength: float = 6.0) -> np.ndarray:
    """A camera's sensor noise over a drawing, so drawn kinds are not perfectly flat."""
    return pixels + rng.normal(0.0, strength, pixels.shape)


def pen_path(rng: np.random.Generator, start: np.ndarray, steps: int, step: float, turn: float) -> list[tuple]:
    """The points of a hand's line: `steps` steps of `step` pixels, the heading turning by a
    normal amount of spread `turn` radians at each."""
    angle, points = rng.uniform(0, 2 * math.pi), [start]
    for _ in range(steps):
        angle += rng.normal(0, turn)
        points.append(points[-1] + step * np.array([math.cos(angle), math.sin(angle)]))
    return [tuple(point) for point in points]


def photographed(picture: Image.Image, rng: np.random.Generator, blur: tuple[float, float] = (0.3, 1.0)) -> Image.Image:
    """A flat picture as a phone camera takes it: lit more from one side, darker towards the
    corners, a little soft, sensor grain."""
    width, height = picture.size
    y, x = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, 2 * math.pi)
    ramp = ((x - width / 2) * math.cos(angle) + (y - height / 2) * math.sin(angle)) / max(width, height)
    corners = np.hypot((x - width / 2) / width, (y - height / 2) / height) * 2 / math.sqrt(2)
    light = (1 + rng.uniform(0.0, 0.35) * ramp) * (1 - rng.uniform(0.0, 0.3) * corners**2)
    soft = picture.filter(ImageFilter.GaussianBlur(rng.uniform(*blur)))
    return to_image(grain(np.asarray(soft, float) * light[..., None], rng, rng.uniform(2, 5)))


def blob(rng: np.random.Generator, centre: np.ndarray, radius: float, aspect: float,
         wander: float = 0.1) -> list[tuple[float, float]]:
    """An irregular rounded outline: an ellipse whose radius wanders smoothly by about
    `wander` of itself, turned at random."""
    turns = np.linspace(0, 2 * math.pi, 36, endpoint=False)
    wobble = 1 + sum(rng.normal(0, wander / harmonic) * np.cos(harmonic * turns + rng.uniform(0, 2 * math.pi))
                     for harmonic in range(2, 6))
    angle = rng.uniform(0, math.pi)
    points = []
    for turn, scale in zip(turns, wobble):
        along, across = radius * scale * math.cos(turn), radius * scale * aspect * math.sin(turn)
        points.append((centre[0] + along * math.cos(angle) - across * math.sin(angle),
                       centre[1] + along * math.sin(angle) + across * math.cos(angle)))
    return points


def hsv(hue: float, saturation: float, value: float) -> np.ndarray:
    """An RGB colour as floats in 0..255 from a hue (turning round at 1), a saturation and a value."""
    saturation, value = (float(np.clip(share, 0, 1)) for share in (saturation, value))
    return np.array(colorsys.hsv_to_rgb(float(hue) % 1.0, saturation, value)) * 255


def rgb(values: np.ndarray) -> tuple[int, int, int]:
    red, green, blue = (int(value) for value in np.clip(values, 0, 255))
    return red, green, blue


def oval(centre: np.ndarray, radius: float, aspect: float, angle: float, points: int = 72) -> list[tuple[float, float]]:
    """An ellipse's outline as a polygon: `radius` along `angle`, `radius * aspect` across."""
    turns = np.linspace(0, 2 * math.pi, points, endpoint=False)
    along, across = radius * np.cos(turns), radius * aspect * np.sin(turns)
    return list(zip((centre[0] + along * math.cos(angle) - across * math.sin(angle)).tolist(),
                    (centre[1] + along * math.sin(angle) + across * math.cos(angle)).tolist()))


def heading(angle: float) -> np.ndarray:
    return np.array([math.cos(angle), math.sin(angle)])


def cast_shadow(pixels: np.ndarray, mask: Image.Image, offset: np.ndarray, spread: float, strength: float) -> np.ndarray:
    """`pixels` darkened where `mask`, moved by `offset` and blurred by `spread`, throws its shadow."""
    shadow = Image.new("L", mask.size, 0)
    shadow.paste(mask, (round(offset[0]), round(offset[1])))
    share = np.asarray(shadow.filter(ImageFilter.GaussianBlur(spread)), float)[..., None] / 255
    return pixels * (1 - strength * share)


def grid(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's column and row, as floats, (height, width) each."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    return x.astype(float), y.astype(float)
