"""Pictures the gradability gate must refuse, drawn here: no download, no fixed public image
collection, the same pictures for the same seed.

Two groups, kept apart on purpose:
    seen    the kinds the gate's method was designed with (train_jax/gradability); they
            may inform a design choice, never a fitted limit:
              noise           random noise and textures: stripes, checkerboards, plasma
              documents       pages of text, ruled lines and tables
              dark            eye photos at 3% brightness (ImageEnhance.Brightness(0.03))
              bright          eye photos at 300-400% brightness, washed out
              blurred         eye photos under GaussianBlur(max(width, height) / 40)
              shrunk          eye photos shrunk until their shorter side is under MIN_PHOTO_SIDE
            these six informed the feature log floor chosen on 2026-12-01 and so moved to seen:
              scenes          outdoor and indoor scenes: sky, ground, houses, trees, sun, rooms
              fundus-like     the back of the eye: an orange-red disc, a bright optic disc and
                              dark branching vessels on black (another kind of eye image)
              objects         shaded balls, boxes and four-legged animal shapes on backgrounds
              screenshots/UI  flat panels, title bars, buttons, input boxes and text
              dim             eye photos at 5-15% brightness
              motion-blurred  eye photos streaked along a line of max(width, height) / 25
            these four informed the colour check chosen on 2026-12-01 and so moved to seen:
              radiographs     X-ray-like films: bright bone shapes (rounded bars, ellipses,
                              joints) softly lit on a dark ground, a little blurred, film grain,
                              sometimes a bright label in a corner
              charts          plots on a light background: axes with ticks, bars, lines or
                              scatter points in a few colours, a title and axis labels
              blank surfaces  accidental shots of a wall, ceiling, floor or tabletop: one colour,
                              unevenly lit and vignetted, a faint texture, sometimes a light
                              switch, a socket or the edge between two surfaces
              sketches        pen sketches on off-white paper: strokes, curves, circles, hatching
                              and scribbles in dark ink, sometimes a few words
    unseen  kinds chosen for this benchmark alone, used in no choice of the gate, so their
            refusal rate says how it meets pictures nobody planned for:
              ECG printouts      electrocardiogram paper photographed: a red, pink, green or grey
                                 millimetre grid on off-white, strips of P-QRS-T beats in dark ink
                                 with lead names, often a printed header, sometimes tilted
              microscope slides  stained cells under a microscope: a bright field, sometimes in
                                 the eyepiece's dark circle, pink or blue-violet blobs with darker
                                 nuclei, overlapping, sometimes out of focus
              skin close-ups     dermatology close-ups: skin of any tone with pores, creases and
                                 uneven light, a mole, lesion, rash or scar, maybe hairs; no eyes
              street maps        map tiles: a light ground, buildings, parks, water, white and
                                 yellow or orange roads with edges, names, sometimes a pin
Drawn pictures are 300-800 pixels a side, like photos; the eye-derived kinds are made from
the eye photos given (the benchmark gives the run's validation photos), one per photo.
"""

from __future__ import annotations

import dataclasses
import io
import math
import string
import zlib
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from cataract_contract import MIN_PHOTO_SIDE

SIDES = (300, 800)  # pixels: a drawn picture's width and height are drawn from this range
DARK_BRIGHTNESS = 0.03
BRIGHT_BRIGHTNESS = (3.0, 4.0)
BLUR_DIVISOR = 40  # GaussianBlur radius = max(width, height) / BLUR_DIVISOR
DIM_BRIGHTNESS = (0.05, 0.15)
MOTION_DIVISOR = 25  # streak length = max(width, height) / MOTION_DIVISOR
SHRUNK_SIDES = (8, MIN_PHOTO_SIDE)  # the shorter side after shrinking: at least 8, under the limit

Draw = Callable[[np.random.Generator], Image.Image]
Derive = Callable[[Image.Image, np.random.Generator], Image.Image]


@dataclasses.dataclass(frozen=True)
class Kind:
    """One kind of picture to refuse: drawn from nothing (`draw`) or made from an eye photo
    (`derive`). `goal` names the goal of issue 20 it counts towards, if any."""

    name: str
    seen: bool
    description: str
    goal: str | None
    image_format: str  # how it is encoded before the benchmark decodes it, like a file
    draw: Draw | None = None
    derive: Derive | None = None

    @property
    def eye_derived(self) -> bool:
        return self.derive is not None


@dataclasses.dataclass(frozen=True)
class Negative:
    kind: str
    index: int
    image: Image.Image

    def encoded(self, image_format: str) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, image_format, **({"quality": 92} if image_format == "JPEG" else {}))
        return buffer.getvalue()


def kind_rng(seed: int, kind: str) -> np.random.Generator:
    """Each kind its own stream, so adding a kind or changing a count moves no other kind."""
    return np.random.default_rng([seed, zlib.crc32(kind.encode())])


def make_negatives(kind: Kind, seed: int, count: int, eye_photos: list[Image.Image]) -> list[Negative]:
    """`count` drawn pictures of `kind`, or one per eye photo for an eye-derived kind."""
    rng = kind_rng(seed, kind.name)
    if kind.derive is not None:
        return [Negative(kind.name, index, kind.derive(photo.convert("RGB"), rng)) for index, photo in enumerate(eye_photos)]
    assert kind.draw is not None
    return [Negative(kind.name, index, kind.draw(rng)) for index in range(count)]


# -- helpers ---------------------------------------------------------------------------------

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


# -- seen: drawn ------------------------------------------------------------------------------

def draw_noise(rng: np.random.Generator) -> Image.Image:
    size = picture_size(rng)
    width, height = size
    pattern = rng.choice(["uniform", "gaussian", "stripes", "checkerboard", "plasma"])
    if pattern == "uniform":
        return to_image(rng.integers(0, 256, (height, width, 3)))
    if pattern == "gaussian":
        return to_image(rng.normal(rng.uniform(60, 200), rng.uniform(20, 70), (height, width, 3)))
    y, x = np.mgrid[0:height, 0:width]
    first, second = np.array(colour(rng), float), np.array(colour(rng), float)
    if pattern == "stripes":
        angle, period = rng.uniform(0, math.pi), rng.uniform(6, 80)
        share = 0.5 + 0.5 * np.sin(2 * math.pi * (x * math.cos(angle) + y * math.sin(angle)) / period)
    elif pattern == "checkerboard":
        cell = int(rng.integers(8, 100))
        share = ((x // cell + y // cell) % 2).astype(float)
    else:
        share = plasma(rng, size)
    return to_image(grain(first + share[..., None] * (second - first), rng, 3.0))


def draw_document(rng: np.random.Generator) -> Image.Image:
    """A page: a heading, paragraphs of lines of words, sometimes a ruled table."""
    width, height = picture_size(rng)
    paper = colour(rng, 225, 256)
    page = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(page)
    ink = colour(rng, 0, 70)
    margin, size = int(rng.integers(15, 50)), int(rng.integers(9, 18))
    y = margin
    draw.text((margin, y), words(rng, 3).title(), fill=ink, font=font(size * 2))
    y += size * 3
    while y < height - margin - size:
        if rng.random() < 0.2:  # a table
            rows, columns = int(rng.integers(2, 7)), int(rng.integers(2, 6))
            row_height, column_width = size * 2, (width - 2 * margin) // columns
            for row in range(rows):
                for column in range(columns):
                    left, top = margin + column * column_width, y + row * row_height
                    draw.rectangle([left, top, left + column_width, top + row_height], outline=ink)
                    draw.text((left + 4, top + size // 3), words(rng, 1), fill=ink, font=font(size))
            y += rows * row_height + size
        else:  # a paragraph, a line rule now and then
            for _ in range(int(rng.integers(2, 8))):
                draw.text((margin, y), words(rng, int((width - 2 * margin) / (size * 4)) + 1), fill=ink, font=font(size))
                y += int(size * 1.5)
            if rng.random() < 0.3:
                draw.line([margin, y, width - margin, y], fill=ink, width=1)
            y += size
    return page


# -- seen: made from eye photos ---------------------------------------------------------------

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


# -- seen since 2026-12-01: drawn -------------------------------------------------------------

def draw_scene(rng: np.random.Generator) -> Image.Image:
    return draw_outdoor(rng) if rng.random() < 0.65 else draw_indoor(rng)


def draw_outdoor(rng: np.random.Generator) -> Image.Image:
    size = picture_size(rng)
    width, height = size
    sky_top, sky_bottom = (colour(rng, 20, 120), colour(rng, 150, 256))
    horizon = int(height * rng.uniform(0.45, 0.75))
    pixels = vertical_gradient(size, sky_top, sky_bottom)
    ground = np.array(colour(rng, 30, 140), float)
    hills = horizon + (np.sin(np.arange(width) / rng.uniform(40, 160) + rng.uniform(0, 6)) * rng.uniform(5, 40)).astype(int)
    rows = np.arange(height)[:, None]
    below = rows >= hills[None, :]
    shade = 0.6 + 0.4 * (rows - horizon).clip(0) / max(height - horizon, 1)
    pixels[below] = (ground * shade[..., None].repeat(width, 1))[below]
    scene = to_image(grain(pixels, rng, 4.0))
    draw = ImageDraw.Draw(scene)
    sun = (int(rng.integers(0, width)), int(rng.integers(0, horizon // 2 + 1)), int(rng.integers(15, 50)))
    draw.ellipse([sun[0] - sun[2], sun[1] - sun[2], sun[0] + sun[2], sun[1] + sun[2]], fill=colour(rng, 220, 256))
    for _ in range(int(rng.integers(0, 5))):  # clouds
        x, y, w = int(rng.integers(0, width)), int(rng.integers(0, horizon // 2 + 1)), int(rng.integers(40, 150))
        draw.ellipse([x, y, x + w, y + w // 3], fill=colour(rng, 225, 256))
    for _ in range(int(rng.integers(1, 6))):  # houses and trees standing on the ground
        x, base = int(rng.integers(0, width)), int(rng.integers(horizon, height))
        scale = 0.5 + (base - horizon) / max(height - horizon, 1)
        if rng.random() < 0.5:
            w, h = int(80 * scale), int(60 * scale)
            draw.rectangle([x, base - h, x + w, base], fill=colour(rng, 80, 230))
            draw.polygon([(x - w // 8, base - h), (x + w + w // 8, base - h), (x + w // 2, base - h - h // 2)],
                         fill=colour(rng, 60, 160))
            draw.rectangle([x + w // 5, base - h // 2, x + w // 5 + w // 6, base - h // 4], fill=colour(rng, 150, 256))
            draw.rectangle([x + w // 2, base - h // 2, x + w // 2 + w // 6, base], fill=colour(rng, 40, 110))
        else:
            trunk, crown = int(12 * scale), int(45 * scale)
            draw.rectangle([x, base - 3 * trunk, x + trunk, base], fill=colour(rng, 60, 110))
            draw.ellipse([x + trunk // 2 - crown, base - 3 * trunk - 2 * crown, x + trunk // 2 + crown, base - 3 * trunk],
                         fill=(int(rng.integers(20, 80)), int(rng.integers(90, 170)), int(rng.integers(20, 80))))
    return scene


def draw_indoor(rng: np.random.Generator) -> Image.Image:
    size = picture_size(rng)
    width, height = size
    floor_line = int(height * rng.uniform(0.55, 0.8))
    wall, floor = colour(rng, 140, 240), colour(rng, 60, 170)
    pixels = vertical_gradient(size, wall, tuple(int(0.8 * value) for value in wall))
    pixels[floor_line:] = vertical_gradient((width, height - floor_line), floor, tuple(int(0.6 * v) for v in floor))
    room = to_image(grain(pixels, rng, 4.0))
    draw = ImageDraw.Draw(room)
    x, y = int(rng.integers(0, width // 2)), int(rng.integers(10, floor_line // 3))
    w, h = int(rng.integers(80, width // 2)), int(rng.integers(60, floor_line // 2))
    draw.rectangle([x, y, x + w, y + h], fill=colour(rng, 120, 256), outline=colour(rng, 60, 200), width=6)  # a window
    draw.line([x + w // 2, y, x + w // 2, y + h], fill=colour(rng, 60, 200), width=4)
    left, top = int(rng.integers(0, width // 2)), floor_line - int(rng.integers(40, 120))
    right = left + int(rng.integers(100, width // 2))
    draw.rectangle([left, top, right, top + 12], fill=colour(rng, 60, 150))  # a table and its legs
    for leg in (left + 6, right - 16):
        draw.rectangle([leg, top + 12, leg + 10, floor_line + 20], fill=colour(rng, 50, 120))
    return room


def draw_fundus(rng: np.random.Generator) -> Image.Image:
    """The retina as a fundus camera shows it: a disc darker towards its rim, the optic
    disc, the macula, and vessels branching out of the optic disc."""
    size = picture_size(rng)
    width, height = size
    radius = min(width, height) * rng.uniform(0.40, 0.48)
    centre = np.array([width / 2, height / 2]) + rng.uniform(-0.04, 0.04, 2) * min(width, height)
    y, x = np.mgrid[0:height, 0:width]
    distance = np.hypot(x - centre[0], y - centre[1]) / radius
    base = np.array([rng.uniform(170, 230), rng.uniform(60, 110), rng.uniform(20, 50)])
    pixels = base * (1 - 0.45 * distance**2)[..., None] * (0.9 + 0.2 * plasma(rng, size))[..., None]
    side = rng.choice([-1, 1])
    optic = centre + np.array([side * radius * rng.uniform(0.3, 0.5), radius * rng.uniform(-0.1, 0.1)])
    optic_radius = radius * rng.uniform(0.10, 0.16)
    glow = np.exp(-(np.hypot(x - optic[0], y - optic[1]) / optic_radius) ** 4)
    pixels += glow[..., None] * (np.array([255, 230, 170]) - pixels) * 0.9
    macula = centre - np.array([side * radius * 0.15, 0])
    pixels *= (1 - 0.35 * np.exp(-(np.hypot(x - macula[0], y - macula[1]) / (radius * 0.12)) ** 2))[..., None]
    retina = to_image(grain(pixels, rng, 3.0))
    draw = ImageDraw.Draw(retina)
    vessel = (int(rng.integers(90, 140)), int(rng.integers(15, 40)), int(rng.integers(10, 30)))

    def branch(start: np.ndarray, angle: float, length: float, thickness: float, depth: int) -> None:
        if depth == 0 or thickness < 1:
            return
        points = [start]
        for _ in range(6):
            angle += rng.normal(0, 0.15)
            points.append(points[-1] + length / 6 * np.array([math.cos(angle), math.sin(angle)]))
        draw.line([tuple(point) for point in points], fill=vessel, width=max(1, round(thickness)), joint="curve")
        for turn in (-1, 1):
            branch(points[-1], angle + turn * rng.uniform(0.3, 0.8), length * 0.7, thickness * 0.7, depth - 1)

    toward_centre = math.atan2(centre[1] - optic[1], centre[0] - optic[0])
    for arcade in (-1, 1):  # the upper and lower vascular arcades
        branch(optic, toward_centre + arcade * rng.uniform(0.8, 1.4), radius * 0.5, radius * 0.03, 4)
    outside = Image.fromarray(((distance > 1) * 255).astype(np.uint8), "L")
    retina.paste((0, 0, 0), mask=outside)  # black around the disc
    return retina


def draw_objects(rng: np.random.Generator) -> Image.Image:
    size = picture_size(rng)
    width, height = size
    scene = to_image(grain(vertical_gradient(size, colour(rng, 90, 256), colour(rng, 40, 200)), rng, 4.0))
    for _ in range(int(rng.integers(1, 4))):
        shape = rng.choice(["ball", "box", "animal"])
        extent = int(rng.integers(min(width, height) // 6, min(width, height) // 2))
        x, y = int(rng.integers(0, width - extent // 2)), int(rng.integers(extent // 2, height))
        draw_shadow(scene, x, y, extent)
        {"ball": draw_ball, "box": draw_box, "animal": draw_animal}[shape](scene, rng, x, y, extent)
    return scene


def draw_shadow(scene: Image.Image, x: int, y: int, extent: int) -> None:
    shadow = Image.new("L", scene.size, 0)
    ImageDraw.Draw(shadow).ellipse([x - extent // 10, y - extent // 12, x + extent, y + extent // 12], fill=90)
    scene.paste((0, 0, 0), mask=shadow.filter(ImageFilter.GaussianBlur(extent / 20)))


def draw_ball(scene: Image.Image, rng: np.random.Generator, x: int, y: int, extent: int) -> None:
    """A sphere lit from the upper left: a radial gradient from a highlight."""
    radius = extent // 2
    yy, xx = np.mgrid[-radius:radius, -radius:radius]
    inside = np.hypot(xx, yy) <= radius
    light = np.clip(1 - np.hypot(xx + radius / 3, yy + radius / 3) / (1.6 * radius), 0.15, 1)
    ball = to_image(np.array(colour(rng, 60, 256), float) * light[..., None] * 1.3)
    scene.paste(ball, (x, y - 2 * radius), Image.fromarray((inside * 255).astype(np.uint8), "L"))


def draw_box(scene: Image.Image, rng: np.random.Generator, x: int, y: int, extent: int) -> None:
    """A box in oblique view: front face, a lighter top, a darker side."""
    draw = ImageDraw.Draw(scene)
    face = np.array(colour(rng, 60, 220), float)
    depth = extent // 4
    draw.rectangle([x, y - extent, x + extent, y], fill=tuple(face.astype(int)))
    draw.polygon([(x, y - extent), (x + depth, y - extent - depth), (x + extent + depth, y - extent - depth),
                  (x + extent, y - extent)], fill=tuple(np.clip(face * 1.3, 0, 255).astype(int)))
    draw.polygon([(x + extent, y), (x + extent, y - extent), (x + extent + depth, y - extent - depth),
                  (x + extent + depth, y - depth)], fill=tuple((face * 0.6).astype(int)))


def draw_animal(scene: Image.Image, rng: np.random.Generator, x: int, y: int, extent: int) -> None:
    """A four-legged animal's silhouette with shading: body, head, ears, legs, tail."""
    draw = ImageDraw.Draw(scene)
    fur = np.array(colour(rng, 40, 220), float)
    dark, light = tuple((fur * 0.7).astype(int)), tuple(np.clip(fur * 1.15, 0, 255).astype(int))
    body_w, body_h, leg = extent, extent // 2, extent // 3
    top = y - leg - body_h
    for offset in (0.1, 0.25, 0.7, 0.85):  # legs
        left = x + int(body_w * offset)
        draw.rectangle([left, y - leg - body_h // 4, left + extent // 12, y], fill=dark)
    draw.ellipse([x, top, x + body_w, top + body_h], fill=tuple(fur.astype(int)))
    draw.ellipse([x + body_w // 6, top + body_h // 8, x + body_w * 5 // 6, top + body_h // 2], fill=light)
    facing = rng.choice([-1, 1])
    head_x = x + body_w if facing > 0 else x
    head = extent // 3
    draw.ellipse([head_x - head // 2, top - head // 2, head_x + head // 2, top + head // 2], fill=tuple(fur.astype(int)))
    for ear in (-1, 1):
        ex = head_x + ear * head // 4
        draw.polygon([(ex - head // 6, top - head // 3), (ex + head // 6, top - head // 3), (ex, top - head // 2 - head // 3)],
                     fill=dark)
    draw.ellipse([head_x + facing * head // 6 - 3, top - 3, head_x + facing * head // 6 + 3, top + 3], fill=(10, 10, 10))
    tail_x = x if facing > 0 else x + body_w
    draw.line([tail_x, top + body_h // 3, tail_x - facing * extent // 4, top - extent // 8], fill=dark, width=max(2, extent // 25))


def draw_screenshot(rng: np.random.Generator) -> Image.Image:
    """An application window: a title bar, a side panel of entries, buttons, input boxes
    and lines of text on flat colours."""
    width, height = picture_size(rng)
    theme_dark = rng.random() < 0.4
    background = colour(rng, 20, 60) if theme_dark else colour(rng, 230, 256)
    text = colour(rng, 200, 256) if theme_dark else colour(rng, 0, 80)
    accent = colour(rng, 0, 256)
    screen = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(screen)
    bar = int(rng.integers(24, 48))
    draw.rectangle([0, 0, width, bar], fill=accent)
    draw.text((10, bar // 4), words(rng, 2).title(), fill=(255, 255, 255), font=font(bar // 2))
    panel = int(width * rng.uniform(0.15, 0.3))
    draw.rectangle([0, bar, panel, height], fill=colour(rng, 40, 90) if theme_dark else colour(rng, 200, 235))
    for row in range(int((height - bar) / 30)):
        draw.text((12, bar + 10 + row * 30), words(rng, 1), fill=text, font=font(13))
    y, size = bar + 20, int(rng.integers(11, 16))
    while y < height - 60:
        element = rng.choice(["text", "button", "input"])
        if element == "button":
            w = int(rng.integers(70, 160))
            draw.rounded_rectangle([panel + 20, y, panel + 20 + w, y + 30], radius=6, fill=colour(rng, 0, 256))
            draw.text((panel + 30, y + 8), words(rng, 1), fill=(255, 255, 255), font=font(size))
            y += 45
        elif element == "input":
            draw.rectangle([panel + 20, y, width - 20, y + 28], outline=text, fill=background)
            draw.text((panel + 28, y + 7), words(rng, 2), fill=text, font=font(size))
            y += 40
        else:
            draw.text((panel + 20, y), words(rng, int(rng.integers(3, 10))), fill=text, font=font(size))
            y += size + 10
    return screen


# -- seen since 2026-12-01: made from eye photos ----------------------------------------------

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


# -- seen since 2026-12-01: drawn -------------------------------------------------------------

def draw_radiograph(rng: np.random.Generator) -> Image.Image:
    """An X-ray film: soft tissue as a faint glow, bones as bright rounded bars with a joint
    at each end or as ellipses, densest at their middle, a little blurred, then film grain."""
    size = picture_size(rng)
    width, height = size
    reach = min(width, height)
    bones = Image.new("L", size, 0)
    draw = ImageDraw.Draw(bones)
    for _ in range(int(rng.integers(2, 7))):
        thickness = reach * rng.uniform(0.04, 0.11)
        start = rng.uniform(0.15, 0.85, 2) * size
        if rng.random() < 0.7:  # a long bone: a rounded bar with a knob at each end
            angle, length = rng.uniform(0, math.pi), reach * rng.uniform(0.3, 0.7)
            end = start + length * np.array([math.cos(angle), math.sin(angle)])
            draw.line([tuple(start), tuple(end)], fill=255, width=round(thickness))
            for joint in (start, end):
                knob = thickness * rng.uniform(0.6, 1.0)
                draw.ellipse([joint[0] - knob, joint[1] - knob, joint[0] + knob, joint[1] + knob], fill=255)
        else:  # a flat or round bone
            across, along = thickness * rng.uniform(1.5, 4), thickness * rng.uniform(1, 2.5)
            draw.ellipse([start[0] - across, start[1] - along, start[0] + across, start[1] + along], fill=255)
    hard = np.asarray(bones, float) / 255
    soft = np.asarray(bones.filter(ImageFilter.GaussianBlur(reach / 30)), float) / 255
    tissue = Image.new("L", size, 0)
    ImageDraw.Draw(tissue).ellipse([width * 0.1, height * 0.1, width * 0.9, height * 0.9], fill=255)
    glow = np.asarray(tissue.filter(ImageFilter.GaussianBlur(reach / 8)), float) / 255
    density = rng.uniform(5, 30) + rng.uniform(20, 60) * glow + rng.uniform(140, 210) * hard * (0.5 + 0.5 * soft)
    film = Image.fromarray(np.clip(density, 0, 255).astype(np.uint8), "L").filter(
        ImageFilter.GaussianBlur(rng.uniform(0.8, 2.5)))
    grey = grain(np.asarray(film, float), rng, rng.uniform(4, 10))
    radiograph = to_image(np.repeat(grey[..., None], 3, axis=2))  # grain alike in every channel: grey
    if rng.random() < 0.5:  # a marker burnt into a corner
        label = f"{rng.choice(['L', 'R'])} {words(rng, int(rng.integers(1, 3))).upper()}"
        corner = (int(rng.choice([0.04, 0.7]) * width), int(rng.choice([0.04, 0.9]) * height))
        ImageDraw.Draw(radiograph).text(corner, label, fill=(235, 235, 235), font=font(int(rng.integers(12, 24))))
    return radiograph


def draw_chart(rng: np.random.Generator) -> Image.Image:
    """A plot as a screen or printout shows it: a title, axes with ticks and numbers, axis
    labels, and bars, lines or scatter points in a few colours, a legend when several."""
    width, height = picture_size(rng)
    background = colour(rng, 235, 256)
    chart = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(chart)
    ink, size = colour(rng, 0, 60), int(rng.integers(10, 16))
    left, right = max(int(width * rng.uniform(0.12, 0.18)), 5 * size), int(width * rng.uniform(0.9, 0.96))
    top, bottom = 3 * size, height - 4 * size
    draw.text((left, size // 2), words(rng, int(rng.integers(2, 5))).title(), fill=ink, font=font(size + 4))

    def at(share_x: float, share_y: float) -> tuple[float, float]:
        return left + share_x * (right - left), bottom - share_y * (bottom - top)

    ticks, scale = int(rng.integers(4, 9)), float(rng.choice([1, 5, 10, 100, 1000]))
    grid = rng.random() < 0.5
    for tick in range(ticks + 1):
        x, y = at(tick / ticks, 0)[0], at(0, tick / ticks)[1]
        draw.line([x, bottom, x, bottom + 5], fill=ink)
        draw.text((x - size // 2, bottom + 8), f"{tick * scale:g}", fill=ink, font=font(size - 2))
        draw.line([left - 5, y, left, y], fill=ink)
        draw.text((left - 4 * size, y - size // 2), f"{tick * scale:g}", fill=ink, font=font(size - 2))
        if grid and tick:
            draw.line([left, y, right, y], fill=tuple(int(0.85 * value) for value in background))
    draw.line([left, top, left, bottom, right, bottom], fill=ink, width=int(rng.integers(1, 3)))
    draw.text(((left + right) // 2 - 3 * size, bottom + 2 * size + 4), words(rng, 2), fill=ink, font=font(size))
    label = words(rng, 2)
    box = draw.textbbox((0, 0), label, font=font(size))
    tag = Image.new("RGB", (box[2], box[3]), background)
    ImageDraw.Draw(tag).text((0, 0), label, fill=ink, font=font(size))
    chart.paste(tag.rotate(90, expand=True), (size // 4, (top + bottom) // 2 - box[2] // 2))  # the y label, upright

    series = [colour(rng, 0, 200) for _ in range(int(rng.integers(1, 5)))]
    plot = rng.choice(["bars", "lines", "scatter"])
    if plot == "bars":
        groups = int(rng.integers(3, 12))
        slot = 1 / groups
        for group in range(groups):
            for index, fill in enumerate(series):
                share = group * slot + slot * (0.15 + 0.7 * index / len(series))
                x0, y0 = at(share, rng.uniform(0.1, 0.95))
                draw.rectangle([x0, y0, at(share + 0.7 * slot / len(series), 0)[0], bottom - 1], fill=fill)
    else:
        points = int(rng.integers(6, 40)) if plot == "lines" else int(rng.integers(20, 150))
        for fill in series:
            shares_x = np.linspace(0.02, 0.98, points) if plot == "lines" else rng.uniform(0.02, 0.98, points)
            walk = np.cumsum(rng.normal(0, 1, points)) + rng.uniform(-1, 1) * shares_x * points ** 0.5
            shares_y = 0.05 + 0.9 * (walk - walk.min()) / max(float(np.ptp(walk)), 1e-9)
            xy = [at(x, y) for x, y in zip(shares_x, shares_y)]
            if plot == "lines":
                draw.line(xy, fill=fill, width=int(rng.integers(1, 4)), joint="curve")
            if plot == "scatter" or rng.random() < 0.5:  # a line's points marked now and then
                dot = int(rng.integers(2, 5))
                for x, y in xy:
                    draw.ellipse([x - dot, y - dot, x + dot, y + dot], fill=fill)
    if len(series) > 1:
        for index, fill in enumerate(series):
            y = top + index * (size + 6)
            draw.rectangle([right - 7 * size, y, right - 6 * size, y + size], fill=fill)
            draw.text((right - 6 * size + 6, y), words(rng, 1), fill=ink, font=font(size))
    return chart


def draw_surface(rng: np.random.Generator) -> Image.Image:
    """An accidental shot of a wall, ceiling, floor or tabletop: one paint lit from one side,
    darker towards the corners, a faint texture, sometimes an edge where a second surface
    begins and a light switch or a socket."""
    size = picture_size(rng)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    paint = np.array(colour(rng, 80, 240), float)
    paint = paint.mean() + rng.uniform(0.1, 1.0) * (paint - paint.mean())  # paints are mostly muted
    surface = np.broadcast_to(paint, (height, width, 3)).copy()
    if rng.random() < 0.35:  # an edge: wall and ceiling, wall and floor, table and wall
        normal = rng.uniform(0, 2 * math.pi)
        through = rng.uniform(0.2, 0.8, 2) * size
        beyond = (x - through[0]) * math.cos(normal) + (y - through[1]) * math.sin(normal) > 0
        surface[beyond] = paint * rng.uniform(0.6, 0.9) if rng.random() < 0.6 else np.array(colour(rng, 60, 220), float)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = ((x - width / 2) * math.cos(angle) + (y - height / 2) * math.sin(angle)) / max(size)
    corners = np.hypot((x - width / 2) / width, (y - height / 2) / height) * 2 / math.sqrt(2)
    light = (1 + rng.uniform(0.2, 0.5) * ramp) * (1 - rng.uniform(0.15, 0.4) * corners**2)
    texture = 1 + rng.uniform(0.02, 0.06) * (plasma(rng, size) - 0.5)
    shot = to_image(surface * (light * texture)[..., None])
    if rng.random() < 0.3:
        draw_fixture(shot, rng)
    return to_image(grain(np.asarray(shot, float), rng, rng.uniform(2, 5)))


def draw_fixture(shot: Image.Image, rng: np.random.Generator) -> None:
    """A light switch (a rocker) or a socket (two holes) on a pale plate with a soft shadow."""
    width, height = shot.size
    plate = int(min(width, height) * rng.uniform(0.1, 0.25))
    x, y = int(rng.integers(0, width - plate)), int(rng.integers(0, height - plate))
    shadow = Image.new("L", shot.size, 0)
    ImageDraw.Draw(shadow).rounded_rectangle([x + 3, y + 4, x + plate + 3, y + plate + 4], radius=plate // 8, fill=80)
    shot.paste((0, 0, 0), mask=shadow.filter(ImageFilter.GaussianBlur(plate / 25)))
    draw = ImageDraw.Draw(shot)
    white = int(rng.integers(205, 250))
    face = (white, white, white - int(rng.integers(0, 12)))  # white plastic, a little yellowed
    draw.rounded_rectangle([x, y, x + plate, y + plate], radius=plate // 8, fill=face,
                           outline=tuple(int(0.8 * value) for value in face))
    middle, quarter = plate // 2, plate // 4
    if rng.random() < 0.5:
        draw.rectangle([x + quarter, y + quarter // 2, x + plate - quarter, y + plate - quarter // 2],
                       fill=tuple(int(0.93 * value) for value in face), outline=tuple(int(0.75 * value) for value in face))
    else:
        hole = max(2, plate // 14)
        for side in (-1, 1):
            hx, hy = x + middle + side * quarter * 2 // 3, y + middle
            draw.ellipse([hx - hole, hy - hole, hx + hole, hy + hole], fill=(30, 30, 30))


def draw_sketch(rng: np.random.Generator) -> Image.Image:
    """A pen sketch: strokes, curves, hand-drawn circles, hatching and scribbles in dark ink
    of 1-4 pixels on an off-white page, sometimes a few words."""
    size = picture_size(rng)
    width, height = size
    grey = int(rng.integers(225, 252))
    paper = (grey, grey - int(rng.integers(0, 8)), grey - int(rng.integers(4, 20)))  # off-white, a little warm
    page = to_image(grain(vertical_gradient(size, paper, tuple(int(0.93 * value) for value in paper)), rng, 2.0))
    draw = ImageDraw.Draw(page)
    ink, reach = colour(rng, 0, 60), min(width, height)
    for _ in range(int(rng.integers(6, 25))):
        start, line_width = rng.uniform(0.05, 0.95, 2) * size, int(rng.integers(1, 5))
        mark = rng.choice(["stroke", "curve", "circle", "hatching", "scribble"])
        if mark == "hatching":
            angle, gap = rng.uniform(0, math.pi), rng.uniform(3, 9)
            along, across = np.array([math.cos(angle), math.sin(angle)]), np.array([-math.sin(angle), math.cos(angle)])
            length = reach * rng.uniform(0.05, 0.2)
            for line in range(int(rng.integers(5, 20))):
                origin = start + line * gap * across + rng.normal(0, 1.5, 2)
                draw.line([tuple(origin), tuple(origin + length * rng.uniform(0.8, 1.1) * along)], fill=ink,
                          width=line_width)
            continue
        if mark == "circle":  # a loop closed by hand: the radius wanders and the end overshoots
            turns = np.linspace(0, 2 * math.pi * rng.uniform(1.0, 1.15), 48)
            radius = reach * rng.uniform(0.03, 0.2) * (1 + np.cumsum(rng.normal(0, 0.015, turns.size)))
            aspect = rng.uniform(0.6, 1.0)
            points = [tuple(start + r * np.array([math.cos(t), aspect * math.sin(t)])) for r, t in zip(radius, turns)]
        else:
            steps, step, turn = {"stroke": (3, 0.06, 0.05), "curve": (20, 0.02, 0.25), "scribble": (40, 0.012, 1.2)}[mark]
            points = pen_path(rng, start, steps, reach * step, turn)
        draw.line(points, fill=ink, width=line_width, joint="curve")
    for _ in range(int(rng.integers(0, 4)) if rng.random() < 0.5 else 0):
        corner = (int(rng.integers(0, width * 3 // 4)), int(rng.integers(0, height * 9 // 10)))
        draw.text(corner, words(rng, int(rng.integers(1, 4))), fill=ink, font=font(int(rng.integers(12, 26))))
    return page


def pen_path(rng: np.random.Generator, start: np.ndarray, steps: int, step: float, turn: float) -> list[tuple]:
    """The points of a hand's line: `steps` steps of `step` pixels, the heading turning by a
    normal amount of spread `turn` radians at each."""
    angle, points = rng.uniform(0, 2 * math.pi), [start]
    for _ in range(steps):
        angle += rng.normal(0, turn)
        points.append(points[-1] + step * np.array([math.cos(angle), math.sin(angle)]))
    return [tuple(point) for point in points]


# -- unseen: drawn ----------------------------------------------------------------------------

ECG_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
ECG_GRIDS = {  # paper tints: (fine lines, bold lines)
    "red": ((246, 196, 196), (228, 118, 118)),
    "pink": ((248, 208, 220), (236, 140, 170)),
    "green": ((196, 228, 204), (118, 186, 138)),
    "grey": ((212, 212, 212), (150, 150, 150)),
}


def draw_ecg(rng: np.random.Generator) -> Image.Image:
    """An electrocardiogram printout, photographed: millimetre paper (fine lines each
    millimetre, bold each five) in red, pink, green or grey on off-white, one to twelve
    strips of P-QRS-T beats in black or dark-blue ink with their lead names, often a printed
    header, sometimes a calibration pulse; now and then tilted on a table, lit unevenly."""
    width, height = picture_size(rng)
    tilt = float(rng.uniform(-6, 6)) if rng.random() < 0.4 else 0.0
    grow = 1.15 if tilt else 1.0
    big = (int(width * grow) + 2, int(height * grow) + 2)
    white = int(rng.integers(236, 254))
    paper = (white, white - int(rng.integers(0, 8)), white - int(rng.integers(2, 16)))
    sheet = Image.new("RGB", big, paper)
    draw = ImageDraw.Draw(sheet)
    fine, bold = ECG_GRIDS[str(rng.choice(["red", "red", "pink", "green", "grey"]))]
    fine, bold = (tuple(int(np.clip(value + rng.normal(0, 6), 0, 255)) for value in tint) for tint in (fine, bold))
    mm = rng.uniform(2.6, 6.0)  # pixels a millimetre
    for index in range(int(max(big) / mm) + 2):  # the fine lines first, the bold over them
        if index % 5:
            draw.line([index * mm, 0, index * mm, big[1]], fill=fine)
            draw.line([0, index * mm, big[0], index * mm], fill=fine)
    bold_width = int(rng.integers(1, 3))
    for index in range(0, int(max(big) / mm) + 2, 5):
        draw.line([index * mm, 0, index * mm, big[1]], fill=bold, width=bold_width)
        draw.line([0, index * mm, big[0], index * mm], fill=bold, width=bold_width)

    if rng.random() < 0.7:  # black ink
        dark = int(rng.integers(0, 40))
        ink = (dark, dark, dark + int(rng.integers(0, 10)))
    else:  # dark blue
        ink = (int(rng.integers(10, 40)), int(rng.integers(20, 50)), int(rng.integers(90, 150)))
    left, right = (big[0] - width) // 2, (big[0] + width) // 2  # the part the photo will keep
    top, bottom = (big[1] - height) // 2, (big[1] + height) // 2
    size = int(np.clip(mm * rng.uniform(2.5, 4), 10, 18))
    if rng.random() < 0.7:  # a header: a name, rate, speed, gain, filter, as many as fit
        parts = [words(rng, 2).title(), f"HR {int(rng.integers(50, 110))} bpm", "25 mm/s", "10 mm/mV",
                 f"0.{int(rng.integers(5, 50)):02d}-{int(rng.choice([40, 100, 150]))} Hz"]
        header = "   ".join(parts)
        while len(parts) > 1 and draw.textlength(header, font=font(size)) > width - 2 * size:
            parts.pop()
            header = "   ".join(parts)
        draw.text((left + size, top + size // 2), header, fill=ink, font=font(size))
        top += 2 * size
    rows = int(np.clip(round((bottom - top) / (mm * rng.uniform(22, 50))), 1, 12))
    columns = int(rng.choice([1, 4])) if 3 <= rows <= 6 and width > 450 else 1
    heart = rng.uniform(50, 115) / 60  # beats a second
    lead_names = iter(ECG_LEADS * 2)
    strip_height = (bottom - top) / rows
    line_width = int(rng.integers(1, 4))
    for row in range(rows):
        base = top + (row + 0.6) * strip_height
        first_beat = rng.uniform(0, 1 / heart)
        for column in range(columns):
            x0 = left + size + column * (right - left - 2 * size) / columns
            x1 = left + size + (column + 1) * (right - left - 2 * size) / columns - 4
            gain = min(10 * mm, strip_height * 0.45 / 1.6)  # pixels a millivolt: 10 mm unless the strip is short
            if column == 0 and rng.random() < 0.5:  # the calibration pulse: 1 mV for 0.2 s
                pulse = 5 * mm
                draw.line([(x0, base), (x0 + mm, base), (x0 + mm, base - gain), (x0 + mm + pulse, base - gain),
                           (x0 + mm + pulse, base), (x0 + 2 * mm + pulse, base)], fill=ink, width=line_width)
                x0 += 2 * mm + pulse
            lead = next(lead_names)
            draw.text((x0 + 2, base - min(strip_height * 0.55, gain * 1.4)), lead, fill=ink, font=font(size))
            xs = np.arange(x0, x1, 1.0)
            seconds = (xs - left) / (25 * mm)
            volts = heartbeats(rng, seconds, heart, first_beat, inverted=lead == "aVR")
            ys = base - gain * volts
            draw.line(list(zip(xs.tolist(), ys.tolist())), fill=ink, width=line_width, joint="curve")
            if columns > 1 and column:
                draw.line([x0 - 3, base - gain * 0.4, x0 - 3, base + gain * 0.2], fill=ink, width=line_width)
    if tilt:  # photographed on a table, a little turned
        sheet = sheet.rotate(tilt, Image.Resampling.BICUBIC, fillcolor=colour(rng, 40, 200))
    sheet = sheet.crop(((big[0] - width) // 2, (big[1] - height) // 2, (big[0] - width) // 2 + width,
                        (big[1] - height) // 2 + height))
    return photographed(sheet, rng)


def heartbeats(rng: np.random.Generator, seconds: np.ndarray, rate: float, first: float, inverted: bool) -> np.ndarray:
    """Millivolts along `seconds`: a P wave, a QRS complex and a T wave each beat, `rate`
    beats a second with a little variation between beats, a wandering baseline and noise."""
    count = int(seconds.max() * rate) + 3
    beats = first + np.cumsum(np.r_[0, rng.normal(1 / rate, 0.03 / rate, count)]) - 1 / rate
    r_wave, s_wave = rng.uniform(0.5, 1.7), rng.uniform(0.05, 0.5)
    p_wave, t_wave, q_wave = rng.uniform(0.08, 0.25), rng.uniform(0.1, 0.5) * rng.choice([1, 1, 1, -1]), rng.uniform(0, 0.2)
    width_qrs = rng.uniform(0.008, 0.016)

    def bump(at: np.ndarray, centre: float, spread: float) -> np.ndarray:
        return np.exp(-0.5 * ((at - centre) / spread) ** 2)

    volts = np.zeros_like(seconds)
    for beat in beats:
        at = seconds - beat
        near = np.abs(at) < 0.6
        a = at[near]
        volts[near] += (p_wave * bump(a, -0.18, 0.025) - q_wave * bump(a, -0.03, width_qrs)
                        + r_wave * bump(a, 0.0, width_qrs) - s_wave * bump(a, 0.035, width_qrs)
                        + t_wave * bump(a, 0.27, 0.045))
    if inverted:
        volts = -volts
    wander = rng.uniform(0, 0.15) * np.sin(2 * math.pi * rng.uniform(0.1, 0.4) * seconds + rng.uniform(0, 6))
    return volts + wander + rng.normal(0, rng.uniform(0.003, 0.02), seconds.size)


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


STAINS = {  # what a fully stained layer transmits: (cytoplasm, nucleus)
    "H&E": ((232, 128, 184), (84, 40, 128)),
    "blue": ((150, 160, 226), (40, 42, 128)),
    "violet": ((190, 150, 226), (70, 30, 120)),
}


def draw_micrograph(rng: np.random.Generator) -> Image.Image:
    """Stained cells under a microscope, as a camera at the eyepiece sees them: a bright
    field, sometimes inside the eyepiece's dark circle; a smear of cells (pink or blue-violet
    blobs of many sizes with darker grainy nuclei, sometimes among pale red blood cells) or a
    tissue section (crowded nuclei among wavy pink fibres); where they overlap the stains add
    up; sometimes out of focus."""
    size = picture_size(rng)
    width, height = size
    reach = min(width, height)
    y, x = np.mgrid[0:height, 0:width]
    cytoplasm, nucleus = (np.array(tint, float) + rng.normal(0, 8, 3) for tint in STAINS[str(rng.choice(list(STAINS)))])
    absorb_cytoplasm = -np.log(np.clip(cytoplasm, 1, 255) / 255)  # optical density of a full layer
    absorb_nucleus = -np.log(np.clip(nucleus, 1, 255) / 255)
    tissue = rng.random() < 0.35
    ground = rng.uniform(0.02, 0.1) * plasma(rng, size)
    typical = reach * rng.uniform(0.012, 0.04)
    if tissue:  # a section: wavy fibres, with gaps where the tissue tore or thinned
        angle, period = rng.uniform(0, math.pi), reach * rng.uniform(0.02, 0.06)
        bend = plasma(rng, size) * period * rng.uniform(3, 8)
        bands = 0.5 + 0.5 * np.sin(2 * math.pi * (x * math.cos(angle) + y * math.sin(angle) + bend) / period)
        present = np.clip((plasma(rng, size) - rng.uniform(0.2, 0.45)) * 5, 0, 1)
        ground += rng.uniform(0.35, 0.7) * (0.65 + 0.35 * bands**3) * present
        count = int(width * height / (typical**2 * rng.uniform(3, 10)))
    else:
        count = int(width * height / (typical**2 * rng.uniform(4, 25)))
    layers = [Image.new("L", size, 0) for _ in range(3)]
    nuclei = Image.new("L", size, 0)
    draws, nucleus_draw = [ImageDraw.Draw(layer) for layer in layers], ImageDraw.Draw(nuclei)
    if not tissue and rng.random() < 0.5:  # a blood smear: red cells, pale in their middle
        red_radius = typical * rng.uniform(0.5, 0.8)
        for _ in range(min(int(width * height / (red_radius**2 * rng.uniform(4, 12))), 4000)):
            centre, radius = rng.uniform(0, 1, 2) * size, red_radius * rng.uniform(0.85, 1.15)
            layer_draw, strength = draws[int(rng.integers(0, 3))], int(rng.integers(60, 130))
            layer_draw.polygon(blob(rng, centre, radius, rng.uniform(0.8, 1.0), 0.04), fill=strength)
            layer_draw.ellipse([*(centre - radius * 0.45), *(centre + radius * 0.45)], fill=strength // 2)
        count //= 4
    for _ in range(min(count, 3000)):
        radius = typical * rng.lognormal(0, 0.3)
        centre = rng.uniform(0, 1, 2) * size
        if not tissue or rng.random() < 0.2:
            draws[int(rng.integers(0, 3))].polygon(blob(rng, centre, radius, rng.uniform(0.6, 1.0)),
                                                   fill=int(rng.integers(90, 230)))
        if rng.random() < 0.85:
            lobes = 1 if rng.random() < 0.85 else int(rng.integers(2, 4))
            for _ in range(lobes):
                where = centre + rng.normal(0, radius * (0.12 if lobes == 1 else 0.3), 2)
                shape = blob(rng, where, radius * rng.uniform(0.3, 0.6) / lobes**0.3, rng.uniform(0.55, 1.0))
                nucleus_draw.polygon(shape, fill=int(rng.integers(150, 255)))
    density = ground[..., None] * absorb_cytoplasm
    for layer in layers:
        density += np.asarray(layer.filter(ImageFilter.GaussianBlur(typical * 0.06)), float)[..., None] / 255 * absorb_cytoplasm
    speckle = Image.fromarray((rng.random((height, width)) * 255).astype(np.uint8), "L")
    chromatin = np.asarray(speckle.filter(ImageFilter.GaussianBlur(max(1.0, typical * 0.06))), float) / 255
    chromatin = 0.75 + 2.5 * (chromatin - chromatin.mean())  # clumped: darker and lighter grains
    nucleus_density = np.asarray(nuclei.filter(ImageFilter.GaussianBlur(typical * 0.04)), float) / 255 * chromatin
    density += nucleus_density[..., None] * absorb_nucleus
    lamp = np.array([rng.uniform(235, 255), rng.uniform(232, 252), rng.uniform(225, 255)])
    centre = np.array([width / 2, height / 2]) + rng.uniform(-0.05, 0.05, 2) * reach
    distance = np.hypot(x - centre[0], y - centre[1])
    if rng.random() < 0.5:  # the eyepiece's circle: bright inside, dark outside, a soft rim
        radius = reach * rng.uniform(0.4, 0.5)
        field = 1 / (1 + np.exp((distance - radius) / (reach * rng.uniform(0.005, 0.02))))
        field = field * (1 - 0.25 * (distance / radius).clip(0, 1) ** 2) + rng.uniform(0.0, 0.04)
    else:
        field = 1 - rng.uniform(0.05, 0.3) * (distance / (0.7 * math.hypot(width, height))) ** 2
    seen = to_image(lamp * np.exp(-density) * field[..., None])
    blur = rng.uniform(1.5, 3.5) if rng.random() < 0.3 else rng.uniform(0.3, 0.9)
    return to_image(grain(np.asarray(seen.filter(ImageFilter.GaussianBlur(blur)), float), rng, rng.uniform(2, 5)))


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


def draw_skin(rng: np.random.Generator) -> Image.Image:
    """A dermatology close-up: skin from light to dark in a range of hues, mottled, with
    pores and fine creases, lit unevenly with a little sheen, and a mole, a lesion, a rash or
    a scar somewhere; sometimes a few hairs. No eyes, no face."""
    size = picture_size(rng)
    width, height = size
    reach = min(width, height)
    darkness = rng.uniform(0, 1)
    tone = (1 - darkness) * np.array([238, 204, 180]) + darkness * np.array([96, 62, 44])
    warmth = rng.uniform(-0.02, 0.08)
    tone = np.sort(tone * np.array([1 + warmth, 1, 1 - warmth]) + rng.normal(0, 6, 3))[::-1]  # red over green over blue
    mottle, redness = plasma(rng, size), plasma(rng, size)
    skin = tone * (1 + rng.uniform(0.04, 0.12) * (mottle - 0.5))[..., None]
    skin[..., 0] *= 1 + rng.uniform(0.02, 0.08) * (redness - 0.5)
    skin[..., 1] *= 1 - rng.uniform(0.0, 0.05) * (redness - 0.5)
    marks = Image.new("L", size, 0)  # pores and creases, darker than the skin around
    draw = ImageDraw.Draw(marks)
    for _ in range(int(width * height / rng.uniform(120, 500))):
        x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.5, 1.8)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=int(rng.integers(60, 160)))
    first = rng.uniform(0, math.pi)
    for _ in range(int(width * height / rng.uniform(600, 2500))):
        angle = first + rng.choice([0, rng.uniform(0.9, 1.4)]) + rng.normal(0, 0.12)
        start, length = rng.uniform(0, 1, 2) * size, rng.uniform(8, 50)
        draw.line([tuple(start), tuple(start + length * np.array([math.cos(angle), math.sin(angle)]))],
                  fill=int(rng.integers(30, 90)), width=1)
    marks = np.asarray(marks.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.2))), float) / 255
    speckle = Image.fromarray((rng.random((height, width)) * 255).astype(np.uint8), "L")
    bumps = np.asarray(speckle.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 2.5))), float) / 255
    skin *= (1 - rng.uniform(0.1, 0.3) * marks + rng.uniform(0.15, 0.45) * (bumps - bumps.mean()))[..., None]
    sheen = plasma(rng, size) ** 3 * rng.uniform(0.0, 0.25)
    skin += sheen[..., None] * (255 - skin)
    picture = to_image(skin)
    for _ in range(1 if rng.random() < 0.7 else 2):
        lesion = str(rng.choice(["mole", "lesion", "rash", "scar"]))
        skin_lesion(picture, rng, lesion, tone, reach)
    if rng.random() < 0.5:  # a few hairs, lying roughly the same way, gently curved
        hair_draw = ImageDraw.Draw(picture)
        lie = rng.uniform(0, 2 * math.pi)
        for _ in range(int(rng.integers(1, 15))):
            hair = tuple(int(value) for value in np.clip(tone * rng.uniform(0.15, 0.5), 0, 255))
            start, steps, length = rng.uniform(-0.1, 1.1, 2) * size, 24, reach * rng.uniform(0.25, 0.6)
            bend, heading, points = rng.normal(0, 0.02), lie + rng.normal(0, 0.35), [start]
            for _ in range(steps):
                heading += bend + rng.normal(0, 0.015)
                points.append(points[-1] + length / steps * np.array([math.cos(heading), math.sin(heading)]))
            hair_draw.line([tuple(point) for point in points], fill=hair, width=int(rng.choice([1, 1, 2])),
                           joint="curve")
    return photographed(picture, rng, blur=(0.4, 1.2))


def skin_lesion(picture: Image.Image, rng: np.random.Generator, lesion: str, tone: np.ndarray, reach: int) -> None:
    """A mole (a dark brown rounded spot), a lesion (an irregular red-brown patch of uneven
    colour), a rash (red patches and bumps) or a scar (a pale or pink line), soft-edged."""
    mask = Image.new("L", picture.size, 0)
    draw = ImageDraw.Draw(mask)
    centre = rng.uniform(0.2, 0.8, 2) * picture.size
    if lesion == "mole":
        radius = reach * rng.uniform(0.02, 0.1)
        draw.polygon(blob(rng, centre, radius, rng.uniform(0.7, 1.0)), fill=255)
        hue = np.array([rng.uniform(60, 120), rng.uniform(35, 70), rng.uniform(20, 45)])
        tint, soften = np.minimum(hue, tone * 0.7), radius * rng.uniform(0.08, 0.25)
    elif lesion == "lesion":
        radius = reach * rng.uniform(0.06, 0.2)
        for _ in range(int(rng.integers(2, 6))):
            draw.polygon(blob(rng, centre + rng.normal(0, radius * 0.3, 2), radius * rng.uniform(0.4, 0.8),
                              rng.uniform(0.5, 1.0)), fill=int(rng.integers(150, 256)))
        tint, soften = tone * np.array([0.85, 0.55, 0.5]) * rng.uniform(0.6, 1.0), radius * 0.1
    elif lesion == "rash":
        radius = reach * rng.uniform(0.15, 0.35)
        for _ in range(int(rng.integers(6, 40))):
            spot = centre + rng.normal(0, radius * 0.5, 2)
            draw.polygon(blob(rng, spot, reach * rng.uniform(0.01, 0.06), rng.uniform(0.5, 1.0)),
                         fill=int(rng.integers(100, 256)))
        redden = np.array([1.04, 0.72, 0.72]) if tone.mean() > 140 else np.array([0.85, 0.62, 0.64])  # dark skin: deeper
        tint, soften = np.clip(tone * redden, 0, 255), reach * 0.015
    else:  # a scar
        points = pen_path(rng, centre, 14, reach * rng.uniform(0.03, 0.06), 0.1)
        draw.line(points, fill=255, width=max(2, round(reach * rng.uniform(0.01, 0.03))), joint="curve")
        if rng.random() < 0.4:  # the marks of stitches across it
            for point in points[1:-1]:
                across = rng.uniform(0, math.pi)
                offset = reach * 0.02 * np.array([math.cos(across), math.sin(across)])
                draw.line([tuple(np.array(point) - offset), tuple(np.array(point) + offset)], fill=200, width=2)
        pale = rng.random() < 0.5
        tint = np.clip(tone * (np.array([1.1, 1.05, 1.05]) if pale else np.array([1.05, 0.8, 0.82])) + 15, 0, 255)
        soften = reach * 0.006
    share = np.asarray(mask.filter(ImageFilter.GaussianBlur(soften)), float)[..., None] / 255
    share = share * (0.75 + 0.5 * plasma(rng, picture.size))[..., None]  # uneven colour within
    pixels = np.asarray(picture, float)
    picture.paste(to_image(pixels + np.clip(share, 0, 1) * (tint - pixels)))


MAP_STYLES = {  # land, park, water, building, minor road, major road, motorway, road edge, label
    "street": ((242, 239, 233), (200, 230, 190), (170, 211, 223), (217, 208, 201), (255, 255, 255),
               (248, 236, 160), (240, 170, 110), (200, 192, 186), (70, 70, 70)),
    "navigation": ((245, 243, 240), (197, 232, 197), (165, 205, 250), (232, 232, 232), (255, 255, 255),
                   (255, 240, 170), (250, 205, 120), (214, 214, 214), (90, 90, 100)),
    "muted": ((236, 236, 232), (210, 226, 200), (190, 210, 225), (222, 220, 214), (252, 252, 252),
              (240, 230, 200), (230, 200, 160), (190, 190, 190), (100, 100, 100)),
}


def draw_map(rng: np.random.Generator) -> Image.Image:
    """A street-map tile as a map app shows it: a light ground, blocks of grey or beige
    buildings, green parks, blue water, a grid of white minor and yellow or orange major roads
    with darker edges, sometimes a curving motorway, street and place names, maybe a pin."""
    width, height = picture_size(rng)
    style = [tuple(int(np.clip(value + rng.normal(0, 4), 0, 255)) for value in tint)
             for tint in MAP_STYLES[str(rng.choice(list(MAP_STYLES)))]]
    land, park, water, building, minor, major, motorway, edge, label = style
    side = int(math.hypot(width, height)) + 4
    tile = Image.new("RGB", (side, side), land)
    draw = ImageDraw.Draw(tile)
    spacing = rng.uniform(45, 150)

    def lines() -> list[float]:
        return list(np.cumsum(spacing * rng.uniform(0.6, 1.4, int(side / spacing / 0.6) + 2)) - spacing * rng.uniform(0, 1))

    columns, rows = lines(), lines()
    for left, right in zip(columns, columns[1:]):  # blocks: buildings, or a park now and then
        for top, bottom in zip(rows, rows[1:]):
            if rng.random() < 0.08:
                draw.rectangle([left, top, right, bottom], fill=park)
            elif spacing > 70 and rng.random() < 0.8:
                map_buildings(draw, rng, (left + 6, top + 6, right - 6, bottom - 6), building, edge)
            elif rng.random() < 0.5:
                draw.rectangle([left, top, right, bottom], fill=tuple(int(0.5 * a + 0.5 * b) for a, b in zip(land, building)))
    for _ in range(int(rng.integers(0, 3))):  # parks of their own shape
        draw.polygon(blob(rng, rng.uniform(0, side, 2), side * rng.uniform(0.05, 0.2), rng.uniform(0.5, 1)), fill=park)
    if rng.random() < 0.6:  # water: a river across or a lake
        if rng.random() < 0.6:
            river = pen_path(rng, rng.uniform(0, side, 2), 40, side / 25, 0.15)
            draw.line(river, fill=water, width=int(side * rng.uniform(0.03, 0.1)), joint="curve")
        else:
            draw.polygon(blob(rng, rng.uniform(0, side, 2), side * rng.uniform(0.08, 0.25), rng.uniform(0.5, 1)),
                         fill=water)
    roads = []  # (points, fill, width)
    for position in columns:
        roads.append(([(position, 0), (position, side)], *road(rng, minor, major)))
    for position in rows:
        roads.append(([(0, position), (side, position)], *road(rng, minor, major)))
    if rng.random() < 0.4:  # an avenue cutting across the grid
        through, angle = rng.uniform(0.2, 0.8, 2) * side, rng.uniform(0.3, 1.2) * rng.choice([-1, 1])
        reach_out = side * np.array([math.cos(angle), math.sin(angle)])
        roads.append(([tuple(through - reach_out), tuple(through + reach_out)], major, int(rng.integers(8, 15))))
    if rng.random() < 0.5:  # a motorway curving across
        roads.append((pen_path(rng, np.array([0.0, rng.uniform(0, side)]), 30, side / 22, 0.08), motorway,
                      int(rng.integers(12, 22))))
    for points, fill, road_width in roads:  # every road's edge first, so crossings join
        draw.line(points, fill=edge, width=road_width + 3, joint="curve")
    for points, fill, road_width in sorted(roads, key=lambda road: road[2]):
        draw.line(points, fill=fill, width=road_width, joint="curve")
    tile = tile.rotate(float(rng.uniform(-35, 35)) if rng.random() < 0.6 else 0.0, Image.Resampling.BICUBIC)
    tile = tile.crop(((side - width) // 2, (side - height) // 2, (side - width) // 2 + width, (side - height) // 2 + height))
    draw = ImageDraw.Draw(tile)
    taken: list[tuple[float, float, float, float]] = []
    for _ in range(int(rng.integers(3, 10))):  # names, each with a halo of the ground, none over another
        name = f"{words(rng, 1).title()} {rng.choice(['St', 'Ave', 'Rd', 'Way', 'Lane', 'Blvd', 'Park', 'Sq'])}"
        where, lettering = (int(rng.integers(0, max(1, width - 100))), int(rng.integers(0, height - 20))), \
            font(int(rng.integers(10, 16)))
        box = draw.textbbox(where, name, font=lettering, stroke_width=2)
        if any(box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3] for other in taken):
            continue
        taken.append(box)
        draw.text(where, name, fill=label, font=lettering, stroke_width=2, stroke_fill=land)
    if rng.random() < 0.5:  # a scale bar
        bar = int(rng.integers(50, 120))
        draw.line([(12, height - 14), (12 + bar, height - 14)], fill=label, width=2)
        draw.text((12, height - 30), f"{int(rng.choice([50, 100, 200, 500]))} m", fill=label, font=font(11))
    if rng.random() < 0.5:  # a pin
        map_pin(tile, rng)
    return tile


def road(rng: np.random.Generator, minor: tuple, major: tuple) -> tuple[tuple, int]:
    if rng.random() < 0.25:
        return major, int(rng.integers(8, 15))
    return minor, int(rng.integers(3, 8))


def map_buildings(draw: ImageDraw.ImageDraw, rng: np.random.Generator, block: tuple, fill: tuple, edge: tuple) -> None:
    """A block filled with buildings: rows of rectangles of varied sizes with gaps between."""
    left, top, right, bottom = block
    y = top
    while y < bottom - 4:
        depth = rng.uniform(8, 30)
        x = left
        while x < right - 4:
            span = rng.uniform(8, 40)
            if rng.random() < 0.85:
                draw.rectangle([x, y, min(x + span, right), min(y + depth, bottom)], fill=fill, outline=edge)
            x += span + rng.uniform(2, 6)
        y += depth + rng.uniform(2, 8)


def map_pin(tile: Image.Image, rng: np.random.Generator) -> None:
    """A location pin: a round head over a point, in one strong colour with a white dot, and
    a soft shadow."""
    width, height = tile.size
    radius = int(rng.integers(9, 18))
    x, y = int(rng.integers(radius * 2, width - radius * 2)), int(rng.integers(radius * 4, height - radius))
    shadow = Image.new("L", tile.size, 0)
    ImageDraw.Draw(shadow).ellipse([x - radius * 0.7, y - radius * 0.25, x + radius * 0.7, y + radius * 0.25], fill=110)
    tile.paste((0, 0, 0), mask=shadow.filter(ImageFilter.GaussianBlur(radius / 5)))
    draw = ImageDraw.Draw(tile)
    fill = [(220, 60, 50), (40, 110, 220), (230, 80, 40), (50, 160, 80)][int(rng.integers(0, 4))]
    head = y - radius * 2.4
    draw.polygon([(x - radius * 0.85, head + radius * 0.5), (x + radius * 0.85, head + radius * 0.5), (x, y)], fill=fill)
    draw.ellipse([x - radius, head - radius, x + radius, head + radius], fill=fill)
    dot = radius * 0.4
    draw.ellipse([x - dot, head - dot, x + dot, head + dot], fill=(255, 255, 255))


# The goals of issue 20 a kind counts towards.
NOT_EYE, DARK, BLURRED = "not_eye", "dark", "blurred"

KINDS = (
    Kind("noise", True, "random noise and textures: stripes, checkerboards, plasma", NOT_EYE, "PNG", draw=draw_noise),
    Kind("documents", True, "pages of text, ruled lines and tables", NOT_EYE, "PNG", draw=draw_document),
    Kind("dark", True, f"eye photos at {DARK_BRIGHTNESS:.0%} brightness", DARK, "JPEG", derive=darken),
    Kind("bright", True, f"eye photos at {BRIGHT_BRIGHTNESS[0]:.0%}-{BRIGHT_BRIGHTNESS[1]:.0%} brightness", None,
         "JPEG", derive=brighten),
    Kind("blurred", True, f"eye photos under GaussianBlur(max side / {BLUR_DIVISOR})", BLURRED, "JPEG", derive=blur),
    Kind("shrunk", True, f"eye photos shrunk to a shorter side of {SHRUNK_SIDES[0]}-{SHRUNK_SIDES[1] - 1} px", None,
         "PNG", derive=shrink),
    Kind("scenes", True, "outdoor and indoor scenes: sky, ground, houses, trees, sun, rooms", NOT_EYE, "JPEG",
         draw=draw_scene),
    Kind("fundus-like", True, "the back of the eye: orange-red disc, optic disc, vessels on black", NOT_EYE, "JPEG",
         draw=draw_fundus),
    Kind("objects", True, "shaded balls, boxes and animal shapes on backgrounds", NOT_EYE, "JPEG", draw=draw_objects),
    Kind("screenshots/UI", True, "flat panels, title bars, buttons, input boxes and text", NOT_EYE, "PNG",
         draw=draw_screenshot),
    Kind("dim", True, f"eye photos at {DIM_BRIGHTNESS[0]:.0%}-{DIM_BRIGHTNESS[1]:.0%} brightness", None, "JPEG",
         derive=dim),
    Kind("motion-blurred", True, f"eye photos streaked along max side / {MOTION_DIVISOR}", None, "JPEG",
         derive=streak),
    Kind("radiographs", True, "X-ray-like films: bright bones and joints on dark, a little blurred, film grain", NOT_EYE,
         "JPEG", draw=draw_radiograph),
    Kind("charts", True, "plots: axes with ticks, bars, lines or points, a title and axis labels", NOT_EYE, "PNG",
         draw=draw_chart),
    Kind("blank surfaces", True, "walls, ceilings, floors, tabletops: one colour unevenly lit, maybe a switch or edge",
         NOT_EYE, "JPEG", draw=draw_surface),
    Kind("sketches", True, "pen sketches on paper: strokes, curves, circles, hatching, scribbles, a few words", NOT_EYE,
         "JPEG", draw=draw_sketch),
    Kind("ECG printouts", False, "electrocardiogram paper: a millimetre grid, strips of beats, lead names, a header",
         NOT_EYE, "JPEG", draw=draw_ecg),
    Kind("microscope slides", False, "stained cells: pink or blue-violet blobs with dark nuclei in a bright field",
         NOT_EYE, "JPEG", draw=draw_micrograph),
    Kind("skin close-ups", False, "skin of any tone, pores and uneven light, a mole, lesion, rash or scar, maybe hairs",
         NOT_EYE, "JPEG", draw=draw_skin),
    Kind("street maps", False, "map tiles: buildings, parks, water, roads with edges, street names, maybe a pin",
         NOT_EYE, "PNG", draw=draw_map),
)
KINDS_BY_NAME = {kind.name: kind for kind in KINDS}
SEEN_KINDS = tuple(kind.name for kind in KINDS if kind.seen)
UNSEEN_KINDS = tuple(kind.name for kind in KINDS if not kind.seen)
