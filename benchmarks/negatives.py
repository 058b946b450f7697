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
            these four were used on 2026-12-01 to compare not-an-eye features (per block,
            k nearest neighbours, 2x2 grids; none was adopted) and so moved to seen:
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
    unseen  kinds chosen for this benchmark alone, used in no choice of the gate, so their
            refusal rate says how it meets pictures nobody planned for:
              food plates         a meal photographed from above or at an angle: a round or oval
                                  plate (white, coloured or with a patterned rim) on wood, stone
                                  or a cloth, rice or pasta, greens, tomatoes, carrots, peas, meat
                                  or fish, a sauce smear; sometimes cutlery, a glass or a napkin
              leaf close-ups      leaves filling much of the frame, green of many shades or in
                                  autumn colours, veins branching from a midrib, smooth, serrated
                                  or lobed edges, a sheen and shadows, over blurred foliage, soil
                                  or sky
              fabric patterns     photographed cloth: a woven or knitted grain of threads, stripes,
                                  plaid or tartan, polka dots, florals or paisley-like teardrops in
                                  a few colours, shaded by soft folds and now and then a crease
              abstract paintings  acrylic on canvas: bold bristly strokes, colour fields, drips and
                                  splatters, geometric blocks or swirls, the canvas weave showing,
                                  sometimes hung on a wall, framed or not
Drawn pictures are 300-800 pixels a side, like photos; the eye-derived kinds are made from
the eye photos given (the benchmark gives the run's validation photos), one per photo.
"""

from __future__ import annotations

import colorsys
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


# -- seen since 2026-12-01 (a comparison of not-an-eye features): drawn ----------------------

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


# -- unseen: drawn ----------------------------------------------------------------------------

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


class Layer:
    """Shapes drawn in colour on an image and in white on its mask, so that the drawing can
    be laid over a picture and throw a shadow of its own."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.image, self.mask = Image.new("RGB", size), Image.new("L", size, 0)
        self.paint, self.cover = ImageDraw.Draw(self.image), ImageDraw.Draw(self.mask)

    def polygon(self, points: list, fill: tuple) -> None:
        self.paint.polygon(points, fill=fill)
        self.cover.polygon(points, fill=255)

    def line(self, points: list, fill: tuple, width: int) -> None:
        self.paint.line(points, fill=fill, width=width, joint="curve")
        self.cover.line(points, fill=255, width=width, joint="curve")

    def disc(self, centre: np.ndarray, radius: float, fill: tuple) -> None:
        box = [centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius]
        self.paint.ellipse(box, fill=fill)
        self.cover.ellipse(box, fill=255)

    def placed(self, size: tuple[int, int], at: np.ndarray, angle: float) -> "Layer":
        """This layer turned by `angle` degrees, its middle at `at` on a layer of `size`."""
        turned = Layer(size)
        image = self.image.rotate(angle, Image.Resampling.BICUBIC, expand=True)
        mask = self.mask.rotate(angle, Image.Resampling.BICUBIC, expand=True)
        corner = (round(at[0] - image.width / 2), round(at[1] - image.height / 2))
        turned.image.paste(image, corner)
        turned.mask.paste(mask, corner)
        return turned

    def lay_over(self, pixels: np.ndarray, shading: np.ndarray | float = 1.0) -> np.ndarray:
        cover = np.asarray(self.mask, float)[..., None] / 255
        drawn = np.asarray(self.image, float) * (shading[..., None] if isinstance(shading, np.ndarray) else shading)
        return pixels * (1 - cover) + drawn * cover


FOODS = ("rice", "pasta", "greens", "broccoli", "tomatoes", "carrots", "peas", "meat", "fish", "potatoes")
SAUCES = ((150, 30, 20), (95, 52, 25), (70, 110, 40), (215, 165, 40), (235, 225, 200), (45, 22, 20))


def draw_food(rng: np.random.Generator) -> Image.Image:
    """A meal photographed from above or at an angle: a round plate or an oval platter,
    white, coloured or with a pattern on its rim, on a wooden, stone or cloth-covered table;
    on it a smear of sauce and two to four foods (rice, pasta, salad leaves, broccoli,
    tomatoes, carrots, peas, meat, fish, potatoes), each throwing a little shadow; sometimes
    cutlery, a glass or a napkin beside it; lit from one side."""
    width, height = picture_size(rng)
    angled = rng.random() < 0.5
    squash, spread = (rng.uniform(0.5, 0.75), rng.uniform(0.08, 0.25)) if angled else (1.0, 0.0)
    flat = (int(width * (1 + 2 * spread)), int(height / squash))  # the table seen from straight above
    towards = heading(rng.uniform(0, 2 * math.pi))  # where the light comes from
    pixels = food_table(rng, flat)
    room = min(width * (1 + spread), flat[1])
    centre = np.array(flat) / 2 + rng.uniform(-0.1, 0.1, 2) * np.array([width, flat[1]])
    radius = room * rng.uniform(0.3, 0.45)
    aspect, turn = (rng.uniform(0.6, 0.8), rng.uniform(0, math.pi)) if rng.random() < 0.2 else (1.0, 0.0)
    if rng.random() < 0.3:  # a napkin, partly under the plate
        napkin = Layer(flat)
        where, side, angle = centre + heading(rng.uniform(0, 2 * math.pi)) * radius * rng.uniform(0.9, 1.2), \
            radius * rng.uniform(0.6, 1.0), rng.uniform(0, math.pi)
        corners = [tuple(where + side * heading(angle + math.pi / 4 + quarter * math.pi / 2)) for quarter in range(4)]
        cloth = hsv(rng.uniform(0, 1), rng.uniform(0, 0.6), rng.uniform(0.7, 0.97))
        napkin.polygon(corners, rgb(cloth))
        napkin.paint.line([corners[0], corners[2]], fill=rgb(cloth * 0.85), width=2)
        pixels = napkin.lay_over(cast_shadow(pixels, napkin.mask, -towards * 3, 3, 0.25))
    pixels = food_plate(rng, pixels, centre, radius, aspect, turn, towards)
    well = radius * min(aspect, 1.0) * 0.62
    if rng.random() < 0.5:  # a smear of sauce under the food
        sauce, smear = np.array(SAUCES[int(rng.integers(0, len(SAUCES)))], float), Layer(flat)
        path = pen_path(rng, centre + rng.normal(0, well * 0.25, 2), 10, well * 0.1, 0.35)
        smear.line(path, rgb(sauce), max(3, round(well * rng.uniform(0.1, 0.25))))
        for _ in range(int(rng.integers(0, 8))):
            smear.disc(centre + rng.normal(0, well * 0.5, 2), well * rng.uniform(0.02, 0.05), rgb(sauce))
        smear.paint.line([(x + towards[0] * 2, y + towards[1] * 2) for x, y in path], fill=rgb(sauce * 1.3 + 40), width=2)
        pixels = smear.lay_over(pixels)
    food = Layer(flat)
    items = rng.choice(FOODS, size=int(rng.integers(2, 5)), replace=False)
    start = rng.uniform(0, 2 * math.pi)
    for index, item in enumerate(items):  # round the plate, close enough to touch
        place = centre + well * 0.5 * heading(start + 2 * math.pi * index / len(items)) + rng.normal(0, well * 0.05, 2)
        food_item(food, rng, str(item), place, well * rng.uniform(0.7, 0.9) * (2 / len(items)) ** 0.4, towards)
    pixels = cast_shadow(pixels, food.mask, -towards * well * 0.04, well * 0.03, 0.4)
    pixels = food.lay_over(pixels, 0.85 + 0.3 * plasma(rng, flat))
    for side in (-1, 1):  # cutlery either side
        if rng.random() < 0.5:
            item = "fork" if side < 0 else str(rng.choice(["knife", "spoon"]))
            at = centre + np.array([side * radius * rng.uniform(1.15, 1.35), rng.normal(0, radius * 0.1)])
            piece = cutlery(rng, item, radius * rng.uniform(1.6, 2.1)).placed(flat, at, float(rng.normal(0, 8)))
            pixels = piece.lay_over(cast_shadow(pixels, piece.mask, -towards * radius * 0.03, radius * 0.015, 0.4))
    if rng.random() < 0.3:  # a glass beyond the plate
        where = centre + radius * rng.uniform(1.1, 1.35) * heading(rng.choice([-0.75, -0.25]) * math.pi + rng.normal(0, 0.2))
        pixels = food_glass(rng, pixels, where, radius * rng.uniform(0.22, 0.32), towards)
    picture = to_image(pixels)
    if angled:  # the far side of the table is wider and nearer shortened
        k = spread * width
        picture = picture.transform((width, height), Image.Transform.QUAD, (0, 0, k, flat[1], k + width, flat[1], flat[0], 0),
                                    Image.Resampling.BICUBIC)
    return photographed(picture, rng)


def food_table(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A table seen from above: planks of wood with a wavy grain, a stone top with veins, or
    a plain, checked or striped cloth with a fine weave."""
    width, height = size
    x, y = grid(size)
    angle = rng.uniform(0, math.pi) if rng.random() < 0.5 else rng.normal(0, 0.05)
    along, across = x * math.cos(angle) + y * math.sin(angle), -x * math.sin(angle) + y * math.cos(angle)
    top = str(rng.choice(["wood", "wood", "stone", "cloth", "checks", "stripes"]))
    if top == "wood":
        base = hsv(rng.uniform(0.05, 0.1), rng.uniform(0.35, 0.7), rng.uniform(0.3, 0.8))
        plank = rng.uniform(60, 200)
        warp = plasma(rng, size) * rng.uniform(10, 40)
        rings = 0.5 + 0.5 * np.sin(2 * math.pi * (across + warp) / rng.uniform(4, 14))
        tones = 1 + rng.normal(0, 0.08, 64)
        shade = tones[np.mod(np.floor(across / plank), 64).astype(int)] * (0.85 + 0.15 * rings)
        shade *= 1 - 0.35 * (np.mod(across, plank) < 2)  # the seams between planks
        return base * shade[..., None]
    if top == "stone":
        base = hsv(rng.uniform(0.05, 0.6), rng.uniform(0, 0.12), rng.uniform(0.6, 0.92))
        veins = np.exp(-((plasma(rng, size) - 0.5) / 0.015) ** 2)
        return base * (1 - 0.25 * veins - 0.06 * plasma(rng, size))[..., None]
    thread = rng.uniform(2, 3.5)
    weave = 1 + 0.05 * np.sin(2 * math.pi * x / thread) * np.sin(2 * math.pi * y / thread)
    cloth = hsv(rng.uniform(0, 1), rng.uniform(0.15, 0.65), rng.uniform(0.4, 0.95))
    white = hsv(0.1, rng.uniform(0, 0.08), rng.uniform(0.88, 0.97))
    band = rng.uniform(10, 40)
    if top == "checks":
        share = (0.5 * (np.mod(along, 2 * band) < band) + 0.5 * (np.mod(across, 2 * band) < band))[..., None]
    elif top == "stripes":
        share = (np.mod(across, 2 * band) < band * rng.uniform(0.3, 1.2))[..., None].astype(float)
    else:
        share = np.ones((height, width, 1))
    folds = 1 + 0.06 * (plasma(rng, size) - 0.5)
    return (white + share * (cloth - white)) * (weave * folds)[..., None]


def food_plate(rng: np.random.Generator, pixels: np.ndarray, centre: np.ndarray, radius: float, aspect: float,
               turn: float, towards: np.ndarray) -> np.ndarray:
    """A plate over `pixels`: a flat well and a rim rising round it, white, coloured or with a
    pattern on the rim, lit from `towards`, with its shadow; `aspect` below 1 makes an oval."""
    x, y = grid((pixels.shape[1], pixels.shape[0]))

    def reach(at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx, dy = x - at[0], y - at[1]
        along, across = dx * math.cos(turn) + dy * math.sin(turn), -dx * math.sin(turn) + dy * math.cos(turn)
        return np.hypot(along, across / aspect) / radius, np.arctan2(across / aspect, along)

    below = reach(centre - towards * radius * rng.uniform(0.03, 0.08))[0]
    pixels = pixels * (1 - rng.uniform(0.3, 0.5) * np.clip((1.04 - below) / 0.1, 0, 1))[..., None]
    out, theta = reach(centre)
    style = str(rng.choice(["white", "white", "white", "coloured", "patterned"]))
    body = hsv(rng.uniform(0, 1), rng.uniform(0.25, 0.7), rng.uniform(0.45, 0.9)) if style == "coloured" else \
        hsv(rng.uniform(0.05, 0.6), rng.uniform(0, 0.06), rng.uniform(0.88, 0.98))
    plate = np.broadcast_to(body, pixels.shape).copy()
    well = rng.uniform(0.62, 0.78)
    if style == "patterned":
        ink = hsv(rng.uniform(0, 1), rng.uniform(0.5, 0.9), rng.uniform(0.3, 0.7))
        middle, half, count = (well + 0.95) / 2, (0.95 - well) / 2, int(rng.integers(16, 48))
        motif = rng.choice(["rings", "dots", "waves"])
        if motif == "rings":
            on = np.abs(np.abs(out - middle) - half * 0.6) < half * 0.18
        elif motif == "dots":
            arc = (np.mod(theta / (2 * math.pi) * count, 1) - 0.5) * 2 * math.pi * middle / count
            on = np.hypot(arc, out - middle) < half * 0.5
        else:
            on = np.abs(out - middle - half * 0.4 * np.sin(theta * count)) < half * 0.2
        plate[on] = ink
    facing = -np.cos(theta - math.atan2(towards[1], towards[0]))  # 1 on the side away from the light
    light = 1 + 0.04 * facing * out
    light += np.where(out > well, 0.09 * facing, 0)  # the rim's inner slope, lit on the far side
    light += 0.08 * np.exp(-((out - 0.96) / 0.02) ** 2) * np.clip(-facing, 0, 1)  # the lip's highlight
    light -= np.exp(-((out - well + 0.02) / 0.03) ** 2) * (0.04 + 0.1 * np.clip(-facing, 0, 1))  # the rim's shadow
    cover = np.clip((1 - out) * radius, 0, 1)[..., None]
    return pixels * (1 - cover) + plate * light[..., None] * cover


def food_item(layer: Layer, rng: np.random.Generator, item: str, centre: np.ndarray, size: float,
              towards: np.ndarray) -> None:
    """One food, about `size` pixels in radius round `centre`, drawn on `layer`."""

    def spot(spread: float = 1.0) -> np.ndarray:
        return centre + size * spread * math.sqrt(rng.uniform(0, 1)) * heading(rng.uniform(0, 2 * math.pi))

    def ragged(where: np.ndarray, radius: float, aspect: float, angle: float, roughness: float = 0.04) -> list:
        points = np.array(oval(where, radius, aspect, angle, 32)) + rng.normal(0, radius * roughness, (32, 2))
        return [tuple(point) for point in points]

    if item == "rice":
        grain_colour = hsv(rng.uniform(0.1, 0.14), rng.uniform(0.5, 0.75) if rng.random() < 0.25 else rng.uniform(0.02, 0.1),
                           rng.uniform(0.85, 0.97))
        layer.polygon(blob(rng, centre, size, rng.uniform(0.75, 0.95), 0.1), rgb(grain_colour * 0.88))
        length = max(2.5, size * 0.06)
        for _ in range(int(min(1500, 2.0 * size**2 / length**2))):
            layer.polygon(oval(spot(0.95), length, 0.4, rng.uniform(0, math.pi), 8), rgb(grain_colour * rng.uniform(0.85, 1.05)))
    elif item == "pasta":
        noodle = hsv(rng.uniform(0.1, 0.13), rng.uniform(0.3, 0.55), rng.uniform(0.82, 0.95))
        layer.polygon(blob(rng, centre, size * 0.9, rng.uniform(0.75, 0.95), 0.12), rgb(noodle * 0.72))
        strand = max(2, round(size * 0.05))
        for _ in range(int(rng.integers(15, 40))):
            path = pen_path(rng, spot(0.6), 14, size * 0.08, 0.35)
            layer.line(path, rgb(noodle * 0.7), strand + 2)
            layer.line(path, rgb(noodle * rng.uniform(0.9, 1.05)), strand)
        if rng.random() < 0.6:  # a sauce on top, herbs on that
            sauce = hsv(rng.uniform(-0.01, 0.04), rng.uniform(0.7, 0.9), rng.uniform(0.55, 0.8))
            layer.polygon(blob(rng, centre + rng.normal(0, size * 0.1, 2), size * rng.uniform(0.35, 0.6), 0.8, 0.2), rgb(sauce))
            for _ in range(int(rng.integers(5, 30))):
                layer.disc(spot(0.6), max(1.0, size * 0.025), rgb(hsv(0.3, 0.7, 0.4)))
    elif item == "greens":  # salad leaves, each with a paler midrib
        for _ in range(int(rng.integers(5, 12))):
            where, leaf, angle = spot(0.7), size * rng.uniform(0.3, 0.5), rng.uniform(0, math.pi)
            green = hsv(rng.uniform(0.2, 0.34), rng.uniform(0.45, 0.85), rng.uniform(0.35, 0.8))
            layer.polygon(ragged(where, leaf, rng.uniform(0.4, 0.7), angle, 0.06), rgb(green))
            layer.line([tuple(where - leaf * 0.8 * heading(angle)), tuple(where + leaf * 0.8 * heading(angle))],
                       rgb(green * 1.2 + 25), max(1, round(leaf * 0.06)))
    elif item == "broccoli":
        for _ in range(int(rng.integers(2, 5))):
            where, floret, angle = spot(0.5), size * rng.uniform(0.3, 0.45), rng.uniform(0, 2 * math.pi)
            layer.line([tuple(where), tuple(where + floret * 1.1 * heading(angle))], rgb(hsv(0.25, 0.35, 0.75)),
                       max(2, round(floret * 0.45)))
            dark = hsv(rng.uniform(0.26, 0.33), rng.uniform(0.55, 0.8), rng.uniform(0.3, 0.5))
            for _ in range(int(rng.integers(12, 30))):
                layer.disc(where + rng.normal(0, floret * 0.3, 2), floret * rng.uniform(0.15, 0.3),
                           rgb(dark * rng.uniform(0.75, 1.3)))
    elif item == "tomatoes":
        red = hsv(rng.uniform(-0.03, 0.03), rng.uniform(0.75, 0.92), rng.uniform(0.65, 0.9))
        cherry = rng.random() < 0.5
        for _ in range(int(rng.integers(2, 7)) if cherry else int(rng.integers(2, 5))):
            where, radius = spot(0.6), size * (rng.uniform(0.22, 0.32) if cherry else rng.uniform(0.3, 0.42))
            layer.disc(where, radius, rgb(red * rng.uniform(0.85, 1.05)))
            if cherry:  # a shine and a green calyx
                layer.disc(where + towards * radius * 0.45, radius * 0.2, rgb(red * 0.4 + 150))
                for sepal in range(5):
                    tip = where - towards * radius * 0.2 + radius * 0.35 * heading(sepal * 2 * math.pi / 5)
                    layer.line([tuple(where - towards * radius * 0.2), tuple(tip)], rgb(hsv(0.28, 0.7, 0.45)), 2)
            else:  # a slice: paler flesh, chambers of seeds
                layer.disc(where, radius * 0.8, rgb(red * 1.05 + 30))
                chambers = int(rng.integers(3, 5))
                for chamber in range(chambers):
                    for _ in range(5):
                        out = radius * rng.uniform(0.3, 0.6)
                        seed = where + out * heading((chamber + rng.uniform(0.2, 0.8)) * 2 * math.pi / chambers)
                        layer.polygon(oval(seed, radius * 0.08, 0.6, rng.uniform(0, math.pi), 8), rgb(hsv(0.13, 0.5, 0.85)))
    elif item == "carrots":
        orange = hsv(rng.uniform(0.05, 0.08), rng.uniform(0.8, 0.95), rng.uniform(0.8, 0.95))
        if rng.random() < 0.6:  # coins
            for _ in range(int(rng.integers(4, 12))):
                where, radius = spot(0.7), size * rng.uniform(0.14, 0.22)
                layer.disc(where, radius, rgb(orange * rng.uniform(0.85, 1.0)))
                layer.disc(where, radius * 0.5, rgb(orange * 1.05 + 15))
        else:  # sticks
            for _ in range(int(rng.integers(4, 10))):
                where, half = spot(0.5), size * rng.uniform(0.25, 0.45) * heading(rng.uniform(0, math.pi))
                layer.line([tuple(where - half), tuple(where + half)], rgb(orange * rng.uniform(0.85, 1.05)),
                           max(3, round(size * 0.14)))
    elif item == "peas":
        green = hsv(rng.uniform(0.24, 0.3), rng.uniform(0.6, 0.85), rng.uniform(0.55, 0.75))
        radius = max(2.5, size * 0.09)
        for _ in range(int(rng.integers(15, 60))):
            where = spot(0.8)
            layer.disc(where, radius * rng.uniform(0.85, 1.1), rgb(green * rng.uniform(0.8, 1.05)))
            layer.disc(where + towards * radius * 0.35, radius * 0.3, rgb(green * 1.2 + 40))
    elif item == "meat":
        brown = hsv(rng.uniform(0.03, 0.07), rng.uniform(0.5, 0.75), rng.uniform(0.3, 0.55))
        if rng.random() < 0.35:  # meatballs
            for _ in range(int(rng.integers(3, 7))):
                where, radius = spot(0.6), size * rng.uniform(0.22, 0.3)
                layer.polygon(blob(rng, where, radius, 0.9, 0.08), rgb(brown))
                layer.disc(where + towards * radius * 0.3, radius * 0.45, rgb(brown * 1.25))
        else:  # a steak or a chop, darker at its edge, with grill marks
            aspect, angle = rng.uniform(0.55, 0.8), rng.uniform(0, math.pi)
            outline = ragged(centre, size, aspect, angle, 0.03)
            layer.polygon(outline, rgb(brown * 0.7))
            layer.polygon([tuple(centre + 0.88 * (np.array(point) - centre)) for point in outline], rgb(brown))
            inside, mark = size * aspect * 0.8, angle + rng.uniform(0.5, 1.0)
            for offset in np.linspace(-0.6, 0.6, int(rng.integers(3, 6))) * inside:
                middle, half = centre + offset * heading(mark + math.pi / 2), math.sqrt(inside**2 - offset**2)
                layer.line([tuple(middle - half * heading(mark)), tuple(middle + half * heading(mark))], rgb(brown * 0.4),
                           max(2, round(size * 0.06)))
    elif item == "fish":
        flesh = hsv(rng.uniform(0.04, 0.09), rng.uniform(0.15, 0.45), rng.uniform(0.8, 0.95))
        aspect, angle = rng.uniform(0.35, 0.55), rng.uniform(0, math.pi)
        layer.polygon(ragged(centre, size, aspect, angle, 0.02), rgb(flesh))
        for along in np.linspace(-0.7, 0.7, int(rng.integers(4, 9))):  # the flakes
            middle = centre + along * size * heading(angle)
            half = size * aspect * math.sqrt(1 - along**2) * 0.8 * heading(angle + math.pi / 2)
            layer.line([tuple(middle - half), tuple(middle + size * 0.08 * heading(angle)), tuple(middle + half)],
                       rgb(flesh * 0.85), max(1, round(size * 0.025)))
        if rng.random() < 0.6:  # a lemon wedge
            where, facing = centre + size * 1.0 * heading(angle + math.pi / 2), angle + rng.uniform(-0.5, 0.5)
            turns = np.linspace(0, math.pi, 16) + facing
            wedge = [tuple(where + size * 0.35 * heading(turn)) for turn in turns]
            layer.polygon(wedge, rgb(hsv(0.14, 0.85, 0.95)))
            layer.polygon([tuple(where + size * 0.28 * heading(turn)) for turn in turns], rgb(hsv(0.15, 0.55, 0.98)))
    else:  # potatoes: mashed, or roast pieces with browned edges
        if rng.random() < 0.4:
            pale = hsv(rng.uniform(0.1, 0.13), rng.uniform(0.15, 0.35), rng.uniform(0.85, 0.95))
            layer.polygon(blob(rng, centre, size, 0.85, 0.15), rgb(pale * 0.9))
            for _ in range(6):
                layer.line(pen_path(rng, spot(0.6), 10, size * 0.08, 0.5), rgb(pale * rng.uniform(0.8, 1.05)),
                           max(2, round(size * 0.06)))
        else:
            golden = hsv(rng.uniform(0.09, 0.12), rng.uniform(0.5, 0.75), rng.uniform(0.75, 0.9))
            for _ in range(int(rng.integers(4, 10))):
                where = spot(0.7)
                shape = blob(rng, where, size * rng.uniform(0.18, 0.3), rng.uniform(0.55, 0.9), 0.2)
                layer.polygon(shape, rgb(golden * 0.6))
                layer.polygon([tuple(where + 0.75 * (np.array(point) - where)) for point in shape],
                              rgb(golden * rng.uniform(0.9, 1.05)))


def cutlery(rng: np.random.Generator, item: str, length: float) -> Layer:
    """A fork, knife or spoon `length` long, pointing up, in steel shaded across with a
    highlight along it, or with a dark handle."""
    breadth = length * 0.08
    piece = Layer((int(breadth * 3) + 4, int(length) + 4))
    middle = piece.image.width / 2
    grey = rng.uniform(150, 210)
    steel = rgb(np.array([grey, grey, grey + 8]))
    handle = steel if rng.random() < 0.7 else rgb(np.array(colour(rng, 20, 70)))
    piece.line([(middle, length * 0.5), (middle, length - breadth / 2)], handle, round(breadth))
    piece.disc(np.array([middle, length - breadth / 2]), breadth / 2, handle)
    piece.line([(middle, length * 0.28), (middle, length * 0.5)], steel, max(2, round(breadth * 0.45)))
    if item == "fork":
        piece.polygon([(middle - breadth * 0.7, length * 0.02), (middle + breadth * 0.7, length * 0.02),
                       (middle + breadth * 0.35, length * 0.3), (middle - breadth * 0.35, length * 0.3)], steel)
        for slot in (-1, 0, 1):  # the gaps between the tines
            slot_x = middle + slot * breadth * 0.35
            piece.paint.line([(slot_x, 0), (slot_x, length * 0.17)], fill=(0, 0, 0), width=max(1, round(breadth * 0.15)))
            piece.cover.line([(slot_x, 0), (slot_x, length * 0.17)], fill=0, width=max(1, round(breadth * 0.15)))
    elif item == "knife":
        tip = [tuple(np.array([middle, length * 0.06]) + breadth * 0.5 * heading(turn)) for turn in np.linspace(-math.pi, 0, 10)]
        piece.polygon([(middle - breadth * 0.5, length * 0.55), *tip, (middle + breadth * 0.5, length * 0.55)], steel)
        piece.line([(middle, length * 0.5), (middle, length - breadth / 2)], handle, round(breadth * 1.15))
    else:
        bowl = length * 0.14
        piece.polygon(oval(np.array([middle, length * 0.15]), bowl, breadth * 0.65 / bowl, math.pi / 2, 36), steel)
    x = np.arange(piece.image.width, dtype=float)
    across = 0.75 + 0.45 * np.clip(1 - np.abs(x - middle + breadth * 0.15) / (breadth * 0.9), 0, 1) ** 2
    shaded = np.asarray(piece.image, float) * across[None, :, None]
    piece.image.paste(to_image(shaded))
    return piece


def food_glass(rng: np.random.Generator, pixels: np.ndarray, centre: np.ndarray, radius: float,
               towards: np.ndarray) -> np.ndarray:
    """A glass seen from above: the table through it paler or tinted by a drink, a bright
    rim, a darker ring inside it, a highlight on the side towards the light, a faint shadow."""
    x, y = grid((pixels.shape[1], pixels.shape[0]))
    below = np.hypot(x - centre[0] + towards[0] * radius * 0.3, y - centre[1] + towards[1] * radius * 0.3) / radius
    pixels = pixels * (1 - 0.2 * np.clip((1 - below) / 0.1, 0, 1))[..., None]
    out = np.hypot(x - centre[0], y - centre[1]) / radius
    drink = [None, None, (120, 20, 35), (240, 150, 30), (200, 120, 40)][int(rng.integers(0, 5))]
    through = pixels * 0.8 + 45 if drink is None else pixels * 0.35 + np.array(drink, float) * 0.6
    facing = ((x - centre[0]) * towards[0] + (y - centre[1]) * towards[1]) / np.maximum(out * radius, 1)
    glow = 90 * np.exp(-((out - 0.95) / 0.03) ** 2) + 70 * (np.abs(out - 0.75) < 0.1) * (facing > 0.85)
    through = through * (1 - 0.2 * np.exp(-((out - 0.85) / 0.03) ** 2))[..., None] + glow[..., None]
    cover = np.clip((1 - out) * radius, 0, 1)[..., None]
    return pixels * (1 - cover) + through * cover


def draw_leaves(rng: np.random.Generator) -> Image.Image:
    """Leaves close up: one to four leaves filling much of the frame, oval, lance-shaped,
    widest near the tip, lobed along the midrib or palmate, with smooth or serrated edges,
    green of many shades or in autumn colours; veins branching from a midrib (or from the
    stalk, in a palmate leaf), each half a little differently lit where the leaf folds, a
    darker edge and a sheen, each casting a shadow; behind them foliage out of focus, soil
    or sky."""
    size = picture_size(rng)
    width, height = size
    reach = min(size)
    towards = heading(rng.uniform(0, 2 * math.pi))
    backdrop = str(rng.choice(["foliage", "foliage", "soil", "sky"]))
    pixels = leaf_backdrop(rng, size, backdrop)
    autumn = rng.random() < 0.25
    count = 1 if rng.random() < 0.4 else int(rng.integers(2, 5))
    main_angle = rng.uniform(0, 2 * math.pi)
    for index in range(count):
        main = index == count - 1  # the last drawn lies on top
        length = max(size) * (rng.uniform(0.75, 1.3) if main else rng.uniform(0.4, 0.8))
        angle = main_angle + (rng.normal(0, 0.3) if main else rng.uniform(-2, 2))
        middle = np.array([width, height]) * (0.5 + (rng.uniform(-0.1, 0.1, 2) if main else rng.uniform(-0.4, 0.4, 2)))
        shape = str(rng.choice(["oval", "oval", "lance", "obovate", "lobed", "palmate"]))
        base = middle - length * (0.25 if shape == "palmate" else 0.5) * heading(angle)
        if autumn:
            tint = hsv(rng.uniform(-0.02, 0.15), rng.uniform(0.6, 0.95), rng.uniform(0.5, 0.9))
            second = hsv(rng.uniform(0.0, 0.3), rng.uniform(0.5, 0.9), rng.uniform(0.3, 0.8))
        else:
            tint = hsv(rng.uniform(0.2, 0.36), rng.uniform(0.45, 0.9), rng.uniform(0.3, 0.8))
            second = tint * rng.uniform(0.8, 1.15)
        if backdrop == "sky":  # seen against the light: brighter, yellower
            tint, second = tint * 1.15 + np.array([20, 20, 0]), second * 1.15 + np.array([20, 20, 0])
        pixels = paint_leaf(rng, pixels, base, angle, length, shape, tint, second, towards, reach)
    return photographed(to_image(pixels), rng, blur=(0.3, 0.9))


def leaf_backdrop(rng: np.random.Generator, size: tuple[int, int], backdrop: str) -> np.ndarray:
    """Out-of-focus foliage (green blobs and bright gaps), soil with pebbles, or sky."""
    width, height = size
    reach = min(size)
    if backdrop == "sky":
        top, bottom = hsv(rng.uniform(0.55, 0.62), rng.uniform(0.35, 0.65), rng.uniform(0.7, 0.9)), \
            hsv(rng.uniform(0.55, 0.62), rng.uniform(0.1, 0.3), rng.uniform(0.85, 1.0))
        pixels = vertical_gradient(size, rgb(top), rgb(bottom))
        clouds = np.clip((plasma(rng, size) - rng.uniform(0.45, 0.7)) * 3, 0, 1)[..., None]
        return pixels * (1 - clouds) + 245 * clouds
    scene = Image.new("RGB", size)
    draw = ImageDraw.Draw(scene)
    if backdrop == "soil":
        earth = hsv(rng.uniform(0.05, 0.09), rng.uniform(0.35, 0.6), rng.uniform(0.2, 0.45))
        draw.rectangle([0, 0, width, height], fill=rgb(earth))
        for _ in range(int(width * height / rng.uniform(150, 600))):
            where = rng.uniform(0, 1, 2) * size
            draw.polygon(blob(rng, where, rng.uniform(1, 6), rng.uniform(0.5, 1), 0.2), fill=rgb(earth * rng.uniform(0.5, 1.6)))
        blurred = scene.filter(ImageFilter.GaussianBlur(rng.uniform(1, 3)))
        return np.asarray(blurred, float) * (0.7 + 0.6 * plasma(rng, size))[..., None]
    green = hsv(rng.uniform(0.2, 0.36), rng.uniform(0.5, 0.85), rng.uniform(0.15, 0.35))
    draw.rectangle([0, 0, width, height], fill=rgb(green))
    for _ in range(int(rng.integers(15, 40))):
        where, radius = rng.uniform(-0.1, 1.1, 2) * size, reach * rng.uniform(0.05, 0.2)
        shade = hsv(rng.uniform(0.18, 0.38), rng.uniform(0.4, 0.9), rng.uniform(0.15, 0.7))
        draw.polygon(blob(rng, where, radius, rng.uniform(0.3, 0.7), 0.1), fill=rgb(shade))
    for _ in range(int(rng.integers(0, 12))):  # bright gaps where the sky shows through
        where, radius = rng.uniform(0, 1, 2) * size, reach * rng.uniform(0.01, 0.04)
        draw.ellipse([*(where - radius), *(where + radius)], fill=rgb(hsv(rng.uniform(0.15, 0.55), 0.2, 0.95)))
    return np.asarray(scene.filter(ImageFilter.GaussianBlur(reach * rng.uniform(0.02, 0.05))), float)


def leaf_shape(rng: np.random.Generator, shape: str, length: float) -> tuple[np.ndarray, list, list]:
    """A leaf in its own frame, the stalk at the origin and the tip along +x: its outline,
    the half on one side of the midrib (none for a palmate leaf) and its veins as (points,
    width) with the thickest first."""
    serrated = rng.random() < 0.5
    teeth, depth = rng.uniform(15, 45), rng.uniform(0.03, 0.08)
    veins: list = []
    if shape == "palmate":  # lobes spread from the stalk, a vein to each
        lobes, span = int(rng.choice([3, 5, 5, 7])), rng.uniform(0.6, 0.85) * 2 * math.pi
        tips = np.linspace(-span / 2, span / 2, lobes)
        spread = span / lobes * rng.uniform(0.4, 0.6)
        turns = np.linspace(-math.pi, math.pi, 360, endpoint=False)
        reach_out = 0.3 + 0.7 * sum(np.exp(-((turns - tip) / spread) ** 2) * (1 - 0.35 * abs(tip) / (span / 2)) for tip in tips)
        if serrated:
            reach_out = reach_out * (1 - depth * (1 - np.mod(np.abs(turns) * teeth / 2, 1)))
        reach_out *= length * 0.5
        outline = np.stack([reach_out * np.cos(turns), reach_out * np.sin(turns)], axis=1)
        for tip in tips:
            far = length * 0.5 * 0.92 * (1 - 0.35 * abs(tip) / (span / 2))
            veins.append((np.array([[0.0, 0.0], [far * math.cos(tip), far * math.sin(tip)]]), max(2.0, length * 0.008)))
            for share in (0.35, 0.55, 0.75):
                start = share * np.array([far * math.cos(tip), far * math.sin(tip)])
                for side in (-1, 1):
                    out = tip + side * rng.uniform(0.5, 0.9)
                    veins.append((np.array([start, start + far * 0.25 * np.array([math.cos(out), math.sin(out)])]), 1.0))
        return outline, [], veins
    breadth = {"oval": rng.uniform(0.25, 0.4), "lance": rng.uniform(0.1, 0.18), "obovate": rng.uniform(0.25, 0.38),
               "lobed": rng.uniform(0.25, 0.4)}[shape] * length
    t = np.linspace(0, 1, 240)
    profile = {"oval": np.sin(math.pi * t**0.75), "lance": np.sin(math.pi * t**0.9),
               "obovate": np.sin(math.pi * t**1.6) ** 0.8, "lobed": np.sin(math.pi * t**0.8)}[shape]
    if shape == "lobed":
        profile = profile * (0.55 + 0.45 * np.abs(np.cos(math.pi * rng.uniform(2.5, 4.5) * t)))
    elif serrated:
        profile = profile * (1 - depth * (1 - np.mod(t * teeth, 1)))
    half = breadth * profile
    bend = rng.normal(0, 0.08) * length
    midrib = bend * t**2
    along = t * length
    outline = np.concatenate([np.stack([along, midrib + half], 1), np.stack([along, midrib - half], 1)[::-1]])
    one_side = np.concatenate([np.stack([along, midrib + half], 1), np.stack([along, midrib], 1)[::-1]])
    rib = np.stack([along, midrib], 1)
    thickest = max(2.0, length * 0.012)
    for part in range(8):  # the midrib, thinning towards the tip
        stretch = rib[part * 30:(part + 1) * 30 + 1]
        veins.append((stretch, max(1.0, thickest * (1 - part / 8))))
    pairs = int(rng.integers(5, 12))
    slant = rng.uniform(0.08, 0.2)
    for share in np.linspace(0.08, 0.85, pairs):
        for side in (-1, 1):
            start_at = min(int((share + rng.normal(0, 0.01)) * 239), 239)
            end_at = min(int((share + slant) * 239), 239)
            start = rib[start_at]
            end = np.array([along[end_at], midrib[end_at] + side * 0.9 * half[end_at]])
            bow = start + 0.5 * (end - start) + np.array([-0.1, side * 0.1]) * abs(end[1] - start[1])
            steps = np.linspace(0, 1, 8)[:, None]
            curve = (1 - steps) ** 2 * start + 2 * (1 - steps) * steps * bow + steps**2 * end
            veins.append((curve, max(1.0, thickest * 0.45)))
    return outline, [one_side], veins


def paint_leaf(rng: np.random.Generator, pixels: np.ndarray, base: np.ndarray, angle: float, length: float, shape: str,
               tint: np.ndarray, second: np.ndarray, towards: np.ndarray, reach: float) -> np.ndarray:
    """One leaf over `pixels`: its shadow first, then the leaf mottled between `tint` and
    `second`, paler veins with a faint groove beside them, one half lit differently, a darker
    rim and a sheen where the light catches it; a stalk behind the base."""
    size = (pixels.shape[1], pixels.shape[0])
    outline, halves, veins = leaf_shape(rng, shape, length)

    def placed(points: np.ndarray) -> list:
        turned = points @ np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
        return [tuple(point) for point in turned + base]

    stalk = [tuple(base), tuple(base - length * rng.uniform(0.05, 0.15) * heading(angle + rng.normal(0, 0.2)))]
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).polygon(placed(outline), fill=255)
    ImageDraw.Draw(mask).line(stalk, fill=255, width=max(2, round(length * 0.015)))
    pixels = cast_shadow(pixels, mask, -towards * reach * rng.uniform(0.01, 0.04), reach * 0.015, rng.uniform(0.3, 0.55))
    mix = plasma(rng, size)[..., None] ** rng.uniform(0.7, 2.0)
    leaf = (tint * (1 - mix) + second * mix) * (0.9 + 0.2 * plasma(rng, size))[..., None]
    if halves:
        half = Image.new("L", size, 0)
        ImageDraw.Draw(half).polygon(placed(halves[0]), fill=255)
        side = np.asarray(half.filter(ImageFilter.GaussianBlur(1.5)), float)[..., None] / 255
        leaf *= 1 + rng.uniform(-0.15, 0.15) * (2 * side - 1)
    lines = Image.new("L", size, 0)
    draw = ImageDraw.Draw(lines)
    draw.line(stalk, fill=255, width=max(2, round(length * 0.015)))
    for points, vein_width in veins:
        draw.line(placed(points), fill=255, width=max(1, round(vein_width)), joint="curve")
    vein = np.asarray(lines.filter(ImageFilter.GaussianBlur(0.6)), float)[..., None] / 255
    groove = np.asarray(lines.filter(ImageFilter.GaussianBlur(max(2.0, length * 0.006))), float)[..., None] / 255
    paler = leaf * 1.25 + 35 if rng.random() < 0.8 else leaf * 0.7
    leaf = leaf * (1 - 0.15 * groove)
    leaf = leaf * (1 - vein) + paler * vein
    inner = np.asarray(mask.filter(ImageFilter.GaussianBlur(max(2.0, reach * 0.008))), float)[..., None] / 255
    leaf *= 0.75 + 0.25 * np.clip(inner * 2, 0, 1)
    sheen = plasma(rng, size)[..., None] ** 3 * rng.uniform(0.0, 0.45)
    leaf += sheen * (255 - leaf)
    cover = np.asarray(mask.filter(ImageFilter.GaussianBlur(0.7)), float)[..., None] / 255
    return pixels * (1 - cover) + leaf * cover


def draw_fabric(rng: np.random.Generator) -> Image.Image:
    """A photographed textile filling the frame: woven (plain or twill, a fine grain of threads
    each a little different) or knitted (columns of small V stitches), in stripes, a plaid or
    tartan, polka dots, a floral print or paisley-like teardrops, in a few colours; turned at
    any angle, with soft folds and now and then a crease that shade it and bend its pattern."""
    size = picture_size(rng)
    width, height = size
    reach = min(size)
    x, y = grid(size)
    palette = fabric_palette(rng, 5)
    pattern = str(rng.choice(["stripes", "plaid", "plaid", "dots", "floral", "paisley"]))
    knit = rng.random() < 0.25
    folds, shift_x, shift_y = fabric_folds(rng, x, y, reach)
    angle = rng.uniform(0, math.pi)
    dx, dy = x + shift_x - width / 2, y + shift_y - height / 2
    u, v = dx * math.cos(angle) + dy * math.sin(angle), -dx * math.sin(angle) + dy * math.cos(angle)
    thread = rng.uniform(5, 9) if knit else rng.uniform(2.2, 4.5)
    column, row = np.floor(u / thread), np.floor(v / thread)
    if knit:
        over = np.ones_like(u, bool)
    elif rng.random() < 0.6:  # a plain weave: over one, under one
        over = np.mod(column + row, 2) == 0
    else:  # a twill: diagonal ribs
        over = np.mod(column + row, 4) < 2
    if pattern in ("stripes", "plaid"):
        widths = rng.uniform(3, 40, int(rng.integers(2, 7))) * rng.uniform(0.5, 2)
        picks = rng.integers(0, len(palette), len(widths))
        if pattern == "plaid" and rng.random() < 0.3:  # gingham: two colours, equal bands
            widths, picks = np.full(2, rng.uniform(6, 30)), np.array([0, 1])
        elif pattern == "plaid":  # a tartan's sett, mirrored
            widths, picks = np.concatenate([widths, widths[::-1]]), np.concatenate([picks, picks[::-1]])
        edges = np.cumsum(widths)
        warp = palette[picks[np.minimum(np.searchsorted(edges, np.mod(u, edges[-1]), side="right"), len(widths) - 1)]]
        weft = palette[picks[np.minimum(np.searchsorted(edges, np.mod(v, edges[-1]), side="right"), len(widths) - 1)]] \
            if pattern == "plaid" else warp
        cloth = np.where(over[..., None], warp, weft)
    else:
        side = int(math.hypot(width, height) + reach * 0.3)
        flat = fabric_print(rng, pattern, side, palette, reach)
        cloth = sample(flat, u + side / 2, v + side / 2)
    wobble = 1 + rng.uniform(0.02, 0.06) * rng.normal(0, 1, 4096)  # each thread a little different
    if knit:
        across, down = np.mod(u / thread, 1), np.mod(v / (thread * 0.8), 1)
        stitch = np.exp(-((np.abs(across - 0.5) * 2 + down - 1) / 0.45) ** 2)
        texture = (0.68 + 0.32 * stitch) * wobble[np.mod(column, 4096).astype(int)]
    else:
        across, down = np.mod(u / thread, 1), np.mod(v / thread, 1)
        texture = np.where(over, (0.84 + 0.16 * np.sin(math.pi * across)) * wobble[np.mod(column, 4096).astype(int)],
                           (0.84 + 0.16 * np.sin(math.pi * down)) * wobble[np.mod(row, 4096).astype(int)])
    pixels = cloth * (texture * folds)[..., None]
    return photographed(to_image(pixels), rng, blur=(0.2, 0.6))


def fabric_palette(rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` colours that go together: near one hue, or a hue and its opposite, or three
    spread, every other one clearly lighter or darker; now and then a white, a cream, a black
    or a navy among them."""
    hue = rng.uniform(0, 1)
    offsets = {"near": (0, 0.05, -0.05, 0.1), "opposite": (0, 0.5, 0.03, 0.47), "three": (0, 1 / 3, 2 / 3, 0.05)}[
        str(rng.choice(["near", "opposite", "three"]))]
    first = rng.uniform(0.25, 0.95)
    apart = rng.uniform(0.3, 0.45) * (1 if first < 0.6 else -1)  # every other colour lighter or darker: a pattern shows
    colours = [hsv(hue + offsets[index % 4] + rng.normal(0, 0.02), rng.uniform(0.3, 0.9),
                   first + (index % 2) * apart + rng.normal(0, 0.05)) for index in range(count)]
    for index in range(count):
        if rng.random() < 0.2:
            plain = [(240, 240, 236), (238, 228, 200), (25, 25, 28), (30, 38, 80)][int(rng.integers(0, 4))]
            colours[index] = np.array(plain, float)
    return np.array(colours)


def fabric_folds(rng: np.random.Generator, x: np.ndarray, y: np.ndarray,
                 reach: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Soft folds, mostly one way, and now and then a sharp crease: the shading they give
    under a light from one side, and how far they shift the pattern (x and y)."""
    heights, shift_x, shift_y = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    envelope = 0.2 + 0.8 * plasma(rng, (x.shape[1], x.shape[0]))
    main = rng.uniform(0, math.pi)
    for _ in range(int(rng.integers(1, 5))):
        direction = heading(main + rng.normal(0, 0.35))
        wavelength = reach * rng.uniform(0.15, 0.6)
        amplitude = wavelength * rng.uniform(0.04, 0.12)
        phase = 2 * math.pi * (x * direction[0] + y * direction[1]) / wavelength + rng.uniform(0, 2 * math.pi)
        heights += envelope * amplitude * np.sin(phase)
        shift = envelope * amplitude * 0.8 * np.cos(phase)
        shift_x, shift_y = shift_x + shift * direction[0], shift_y + shift * direction[1]
    for _ in range(int(rng.integers(0, 3)) if rng.random() < 0.4 else 0):
        normal, through = heading(rng.uniform(0, 2 * math.pi)), rng.uniform(0.2, 0.8, 2) * x.shape[::-1]
        apart = (x - through[0]) * normal[0] + (y - through[1]) * normal[1]
        heights -= reach * rng.uniform(0.005, 0.015) * np.exp(-np.abs(apart) / (reach * rng.uniform(0.005, 0.02)))
    towards = heading(rng.uniform(0, 2 * math.pi))
    slope_y, slope_x = np.gradient(heights)
    shading = 1 + rng.uniform(0.25, 0.45) * (slope_x * towards[0] + slope_y * towards[1])
    shading += 0.1 * heights / max(float(np.abs(heights).max()), 1e-9)
    return np.clip(shading, 0.4, 1.4), shift_x, shift_y


def fabric_print(rng: np.random.Generator, pattern: str, side: int, palette: np.ndarray, reach: float) -> np.ndarray:
    """A printed pattern, flat, `side` pixels square: polka dots, flowers with leaves, or
    paisley-like teardrops with rings, dots and a flower inside."""
    ground = palette[0] if rng.random() < 0.7 else np.array([238, 232, 215], float)
    flat = Image.new("RGB", (side, side), rgb(ground))
    draw = ImageDraw.Draw(flat)
    inks = [rgb(colour_) for colour_ in palette[1:]]
    if pattern == "dots":
        spacing = reach * rng.uniform(0.04, 0.15)
        radius = spacing * rng.uniform(0.15, 0.35)
        staggered, scattered = rng.random() < 0.6, rng.random() < 0.2
        for row in range(int(side / spacing) + 1):
            for column in range(int(side / spacing) + 1):
                where = np.array([(column + 0.5 * (staggered and row % 2)) * spacing, row * spacing])
                dot = radius
                if scattered:
                    where, dot = where + rng.normal(0, spacing * 0.3, 2), radius * rng.uniform(0.4, 1.4)
                draw.ellipse([*(where - dot), *(where + dot)], fill=inks[(row + column) % len(inks)] if scattered else inks[0])
        return np.asarray(flat, float)
    spacing = reach * rng.uniform(0.12, 0.3)
    leaf_green = rgb(hsv(rng.uniform(0.22, 0.4), rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.6)))
    for row in range(int(side / spacing) + 2):
        for column in range(int(side / spacing) + 2):
            where = np.array([(column + 0.5 * (row % 2)) * spacing, row * spacing * 0.9]) + rng.normal(0, spacing * 0.08, 2)
            ink = inks[int(rng.integers(0, len(inks)))]
            if pattern == "floral":
                radius = spacing * rng.uniform(0.2, 0.38)
                for _ in range(int(rng.integers(1, 3))):
                    turn = rng.uniform(0, 2 * math.pi)
                    draw.polygon(oval(where + radius * 1.2 * heading(turn), radius * 0.55, 0.4, turn, 24), fill=leaf_green)
                petals, start = int(rng.integers(5, 9)), rng.uniform(0, 2 * math.pi)
                for petal in range(petals):
                    turn = start + petal * 2 * math.pi / petals
                    draw.polygon(oval(where + radius * 0.55 * heading(turn), radius * 0.5, 0.55, turn, 24), fill=ink)
                draw.ellipse([*(where - radius * 0.28), *(where + radius * 0.28)], fill=inks[(inks.index(ink) + 1) % len(inks)])
            else:
                turn = rng.uniform(0, 2 * math.pi) if rng.random() < 0.3 else (0.3 if row % 2 else 0.3 + math.pi)
                radius = spacing * rng.uniform(0.2, 0.3)
                for ring, scale in enumerate((1.0, 0.72, 0.45)):
                    fill = ink if ring != 1 else inks[(inks.index(ink) + 1) % len(inks)]
                    draw.polygon(teardrop(where, radius * scale, turn), fill=fill)
                for point in teardrop(where, radius * 1.18, turn)[::3]:
                    draw.ellipse([point[0] - radius * 0.06, point[1] - radius * 0.06, point[0] + radius * 0.06,
                                  point[1] + radius * 0.06], fill=ink)
                for petal in range(6):
                    dot = where - radius * 0.2 * heading(turn) + radius * 0.15 * heading(petal * math.pi / 3)
                    draw.ellipse([*(dot - radius * 0.06), *(dot + radius * 0.06)], fill=rgb(ground))
    return np.asarray(flat, float)


def teardrop(centre: np.ndarray, radius: float, turn: float) -> list[tuple[float, float]]:
    """A paisley's outline: a round body with a tail that curls to one side."""
    angles = np.linspace(-math.pi, math.pi, 72, endpoint=False)
    tail = np.exp(-(angles / 0.5) ** 2)
    reach_out = radius * (1 + 1.4 * tail)
    bent = angles + turn + 0.9 * tail
    return [(centre[0] + r * math.cos(a), centre[1] + r * math.sin(a)) for r, a in zip(reach_out, bent)]


def sample(pixels: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """`pixels` (height, width, 3) looked up at columns `u` and rows `v`, between pixels by
    weighing the four around, held at the edges."""
    height, width = pixels.shape[:2]
    u, v = np.clip(u, 0, width - 1.001), np.clip(v, 0, height - 1.001)
    left, top = u.astype(int), v.astype(int)
    across, down = (u - left)[..., None], (v - top)[..., None]
    upper = pixels[top, left] * (1 - across) + pixels[top, left + 1] * across
    lower = pixels[top + 1, left] * (1 - across) + pixels[top + 1, left + 1] * across
    return upper * (1 - down) + lower * down


def draw_painting(rng: np.random.Generator) -> Image.Image:
    """A painting on canvas, photographed: soft-edged colour fields, bold strokes of many
    bristles, drips and splatters, geometric blocks, circles and bars, or swirling strokes,
    in strong acrylic colours on a white or coloured ground, the canvas weave and the paint's
    relief showing; often hung on a wall, framed or not, with a shadow."""
    width, height = picture_size(rng)
    on_wall = rng.random() < 0.45
    canvas_size = (int(width * rng.uniform(0.5, 0.8)), int(height * rng.uniform(0.5, 0.8))) if on_wall else (width, height)
    palette = [hsv(rng.uniform(0, 1), rng.uniform(0.55, 1.0), rng.uniform(0.45, 1.0)) for _ in range(int(rng.integers(3, 7)))]
    palette += [np.array([245.0, 243, 235]), np.array([20.0, 20, 22])][: int(rng.integers(0, 3))]
    ground = np.array([242.0, 238, 228]) * rng.uniform(0.92, 1.02) if rng.random() < 0.5 else palette[0] * rng.uniform(0.7, 1)
    canvas = Image.new("RGB", canvas_size, rgb(ground))
    style = str(rng.choice(["fields", "strokes", "drips", "geometric", "swirls"]))
    {"fields": paint_fields, "strokes": paint_strokes, "drips": paint_drips, "geometric": paint_geometric,
     "swirls": paint_swirls}[style](canvas, rng, palette)
    if style != "drips" and rng.random() < 0.25:
        paint_drips(canvas, rng, palette, light=True)
    if style not in ("strokes", "swirls") and rng.random() < 0.2:
        paint_strokes(canvas, rng, palette, count=int(rng.integers(3, 10)))
    towards = heading(rng.uniform(-0.75 * math.pi, -0.25 * math.pi))  # lit from above
    relief = np.asarray(canvas.convert("L").filter(ImageFilter.GaussianBlur(1.0)), float) / 255
    slope_y, slope_x = np.gradient(relief)
    x, y = grid(canvas_size)
    thread = rng.uniform(2.5, 4.5)
    weave = 1 + rng.uniform(0.03, 0.07) * np.sin(2 * math.pi * x / thread) * np.sin(2 * math.pi * y / thread)
    shading = (1 + rng.uniform(1.5, 4) * (slope_x * towards[0] + slope_y * towards[1])) * weave
    painted = np.asarray(canvas, float) * shading[..., None]
    if not on_wall:
        return photographed(to_image(painted), rng, blur=(0.3, 0.8))
    wall = hsv(rng.uniform(0, 1), rng.uniform(0, 0.15), rng.uniform(0.5, 0.95))
    pixels = vertical_gradient((width, height), rgb(wall * 1.05), rgb(wall * 0.85))
    frame_style = str(rng.choice(["none", "wood", "black", "gold", "white"]))
    border = 0 if frame_style == "none" else int(min(canvas_size) * rng.uniform(0.03, 0.08))
    outer = (canvas_size[0] + 2 * border, canvas_size[1] + 2 * border)
    corner = np.array([(width - outer[0]) / 2, (height - outer[1]) / 2]) + rng.uniform(-0.08, 0.08, 2) * np.array([width, height])
    corner = np.clip(corner, 0, np.array([width - outer[0], height - outer[1]])).astype(int)
    hung = Image.new("L", (width, height), 0)
    ImageDraw.Draw(hung).rectangle([*corner, *(corner + outer)], fill=255)
    pixels = cast_shadow(pixels, hung, np.array([1, 1]) * max(3, border * 0.6 + 4), max(3, border * 0.5 + 3), 0.45)
    if border:
        wood = {"wood": hsv(rng.uniform(0.05, 0.09), rng.uniform(0.4, 0.7), rng.uniform(0.25, 0.6)),
                "black": np.array([28.0, 26, 25]), "gold": hsv(0.12, 0.6, 0.75),
                "white": np.array([236.0, 234, 228])}[frame_style]
        frame = Image.new("RGB", outer)
        draw = ImageDraw.Draw(frame)
        right, bottom = outer[0] - 1, outer[1] - 1
        for points, light in ((((0, 0), (right, 0), (right - border, border), (border, border)), 1.2),
                              (((0, 0), (border, border), (border, bottom - border), (0, bottom)), 1.05),
                              (((right, 0), (right, bottom), (right - border, bottom - border), (right - border, border)), 0.85),
                              (((0, bottom), (border, bottom - border), (right - border, bottom - border),
                                (right, bottom)), 0.7)):
            draw.polygon(points, fill=rgb(wood * light))
        frame.paste(to_image(painted), (border, border))
        painted = np.asarray(frame, float)
    else:  # the canvas's edge, a little darker along the bottom and right
        painted[-3:] *= 0.7
        painted[:, -3:] *= 0.8
    pixels[corner[1]:corner[1] + outer[1], corner[0]:corner[0] + outer[0]] = painted
    return photographed(to_image(pixels), rng, blur=(0.3, 0.8))


def brush_stroke(draw: ImageDraw.ImageDraw, rng: np.random.Generator, points: np.ndarray, width: float,
                 paint: np.ndarray) -> None:
    """A stroke of a loaded brush along `points`: bristle lines side by side, each a little
    lighter or darker, some running out early, the stroke narrower at its ends."""
    tangent = np.gradient(points, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1) / np.maximum(np.hypot(*tangent.T), 1e-9)[:, None]
    taper = (0.6 + 0.4 * np.sin(math.pi * np.linspace(0, 1, len(points))))[:, None]
    bristles = int(np.clip(width / 2.5, 3, 40))
    for offset in np.linspace(-0.5, 0.5, bristles) * width:
        start, end = int(rng.integers(0, len(points) // 6 + 1)), len(points) - int(rng.integers(0, len(points) // 4 + 1))
        line = points[start:end] + (normal * taper)[start:end] * offset
        draw.line([tuple(point) for point in line], fill=rgb(paint * rng.uniform(0.85, 1.12)),
                  width=max(1, round(width / bristles * 1.8)), joint="curve")


def bezier(rng: np.random.Generator, start: np.ndarray, length: float, angle: float, points: int = 30) -> np.ndarray:
    """A smooth curve from `start`, `length` long along about `angle`, bowed at random."""
    end = start + length * heading(angle)
    first = start + length * 0.33 * heading(angle + rng.normal(0, 0.5))
    second = start + length * 0.66 * heading(angle + rng.normal(0, 0.5))
    t = np.linspace(0, 1, points)[:, None]
    return (1 - t) ** 3 * start + 3 * (1 - t) ** 2 * t * first + 3 * (1 - t) * t**2 * second + t**3 * end


def paint_fields(canvas: Image.Image, rng: np.random.Generator, palette: list) -> None:
    """Two to five fields of colour, stacked or side by side, with soft ragged edges and
    streaks of the brush within them."""
    width, height = canvas.size
    pixels = np.asarray(canvas, float)
    stacked = rng.random() < 0.7
    count = int(rng.integers(2, 6))
    margin = rng.uniform(0.03, 0.1)
    shares = rng.uniform(0.4, 1.6, count)
    bounds = margin + (1 - 2 * margin) * np.concatenate([[0.0], np.cumsum(shares) / shares.sum()])
    for index in range(count):
        low, high = bounds[index] + 0.01, bounds[index + 1] - 0.01
        box = [margin * width, low * height, (1 - margin) * width, high * height] if stacked else \
            [low * width, margin * height, high * width, (1 - margin) * height]
        mask = Image.new("L", canvas.size, 0)
        ImageDraw.Draw(mask).rectangle(box, fill=255)
        soft = np.asarray(mask.filter(ImageFilter.GaussianBlur(min(width, height) * rng.uniform(0.01, 0.03))), float) / 255
        share = np.clip((soft - 0.5) * 3 + 0.5 + 0.6 * (plasma(rng, canvas.size) - 0.5), 0, 1)[..., None]
        streaks = Image.fromarray((rng.random((max(2, height // 6), max(2, width // 60)) if stacked else
                                   (max(2, height // 60), max(2, width // 6))) * 255).astype(np.uint8), "L")
        streaks = np.asarray(streaks.resize(canvas.size, Image.Resampling.BICUBIC), float) / 255
        paint = palette[int(rng.integers(0, len(palette)))] * (1 + 0.16 * (streaks - 0.5))[..., None]
        pixels = pixels * (1 - share) + paint * share
    canvas.paste(to_image(pixels))


def paint_strokes(canvas: Image.Image, rng: np.random.Generator, palette: list, count: int = 0) -> None:
    """Bold brush strokes, mostly one way or any way, wide and narrow."""
    width, height = canvas.size
    reach = min(width, height)
    draw = ImageDraw.Draw(canvas)
    main = rng.uniform(0, math.pi) if rng.random() < 0.5 else None
    for _ in range(count or int(rng.integers(12, 70))):
        angle = (main + rng.normal(0, 0.3)) if main is not None else rng.uniform(0, 2 * math.pi)
        points = bezier(rng, rng.uniform(-0.1, 1.0, 2) * np.array([width, height]), reach * rng.uniform(0.15, 0.7), angle)
        brush_stroke(draw, rng, points, reach * rng.uniform(0.015, 0.1), palette[int(rng.integers(0, len(palette)))])


def paint_drips(canvas: Image.Image, rng: np.random.Generator, palette: list, light: bool = False) -> None:
    """Poured lines looping over the canvas, splatters, and runs of paint dripping down to a
    drop; fewer when `light`."""
    width, height = canvas.size
    reach = min(width, height)
    draw = ImageDraw.Draw(canvas)
    scale = 0.3 if light else 1.0
    for _ in range(int(rng.integers(5, 25) * scale) + 1):  # poured lines
        paint = rgb(palette[int(rng.integers(0, len(palette)))])
        path = pen_path(rng, rng.uniform(0, 1, 2) * np.array([width, height]), int(rng.integers(40, 140)), reach * 0.012,
                        rng.uniform(0.25, 0.6))
        draw.line(path, fill=paint, width=int(rng.integers(1, 6)), joint="curve")
    for _ in range(int(rng.integers(3, 15) * scale) + 1):  # splatters
        paint, where = rgb(palette[int(rng.integers(0, len(palette)))]), rng.uniform(0, 1, 2) * np.array([width, height])
        for _ in range(int(rng.integers(10, 60))):
            drop, dot = where + rng.normal(0, reach * 0.05, 2), rng.uniform(0.8, 5)
            draw.ellipse([*(drop - dot), *(drop + dot)], fill=paint)
    for _ in range(int(rng.integers(3, 25) * scale) + 1):  # drips running down
        paint, thick = rgb(palette[int(rng.integers(0, len(palette)))]), rng.uniform(2, 7)
        top = np.array([rng.uniform(0, width), rng.uniform(0, height * 0.6)])
        run = reach * rng.uniform(0.05, 0.4)
        steps = np.linspace(0, 1, 12)
        line = [(top[0] + rng.normal(0, 0.8), top[1] + run * step) for step in steps]
        draw.line(line, fill=paint, width=round(thick), joint="curve")
        end = np.array(line[-1])
        draw.ellipse([*(end - thick * 0.9), *(end + thick * 0.9)], fill=paint)


def paint_geometric(canvas: Image.Image, rng: np.random.Generator, palette: list) -> None:
    """Either blocks of flat colour split by black bars, or circles, rings, triangles and bars
    overlapping on the ground."""
    width, height = canvas.size
    reach = min(width, height)
    draw = ImageDraw.Draw(canvas)
    if rng.random() < 0.5:
        boxes = [(0.0, 0.0, float(width), float(height))]
        for _ in range(int(rng.integers(3, 9))):  # split a box across its longer side
            left, top, right, bottom = boxes.pop(int(rng.integers(0, len(boxes))))
            if right - left > bottom - top:
                cut = left + (right - left) * rng.uniform(0.25, 0.75)
                boxes += [(left, top, cut, bottom), (cut, top, right, bottom)]
            else:
                cut = top + (bottom - top) * rng.uniform(0.25, 0.75)
                boxes += [(left, top, right, cut), (left, cut, right, bottom)]
        bar = max(3, round(reach * rng.uniform(0.01, 0.025)))
        for box in boxes:
            fill = palette[int(rng.integers(0, len(palette)))] if rng.random() < 0.5 else np.array([240.0, 238, 230])
            draw.rectangle(box, fill=rgb(fill), outline=(20, 20, 22), width=bar)
        return
    for _ in range(int(rng.integers(5, 20))):
        paint, where = rgb(palette[int(rng.integers(0, len(palette)))]), rng.uniform(0, 1, 2) * np.array([width, height])
        extent = reach * rng.uniform(0.04, 0.25)
        shape = rng.choice(["circle", "ring", "triangle", "bar", "square"])
        if shape == "circle":
            draw.ellipse([*(where - extent), *(where + extent)], fill=paint)
        elif shape == "ring":
            draw.ellipse([*(where - extent), *(where + extent)], outline=paint, width=max(2, round(extent * 0.2)))
        elif shape == "triangle":
            start = rng.uniform(0, 2 * math.pi)
            draw.polygon([tuple(where + extent * heading(start + corner * 2 * math.pi / 3)) for corner in range(3)], fill=paint)
        elif shape == "bar":
            half = extent * 1.5 * heading(rng.uniform(0, math.pi))
            draw.line([tuple(where - half), tuple(where + half)], fill=paint,
                      width=max(2, round(extent * rng.uniform(0.05, 0.3))))
        else:
            draw.polygon([tuple(where + extent * heading(rng.uniform(0, 0.3) + corner * math.pi / 2 + math.pi / 4))
                          for corner in range(4)], fill=paint)


def paint_swirls(canvas: Image.Image, rng: np.random.Generator, palette: list) -> None:
    """Spiralling strokes of the brush round a few centres, over a few wide strokes."""
    width, height = canvas.size
    reach = min(width, height)
    paint_strokes(canvas, rng, palette, count=int(rng.integers(3, 10)))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(3, 12))):
        centre, radius = rng.uniform(0, 1, 2) * np.array([width, height]), reach * rng.uniform(0.08, 0.35)
        turns = rng.uniform(1.5, 4) * 2 * math.pi
        theta = np.linspace(0.3, turns, int(turns * 8)) * rng.choice([-1, 1]) + rng.uniform(0, 2 * math.pi)
        spiral = centre + radius * (np.abs(theta - theta[0]) / turns)[:, None] * np.stack([np.cos(theta), np.sin(theta)], 1)
        brush_stroke(draw, rng, spiral, reach * rng.uniform(0.015, 0.05), palette[int(rng.integers(0, len(palette)))])


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
    Kind("ECG printouts", True, "electrocardiogram paper: a millimetre grid, strips of beats, lead names, a header",
         NOT_EYE, "JPEG", draw=draw_ecg),
    Kind("microscope slides", True, "stained cells: pink or blue-violet blobs with dark nuclei in a bright field",
         NOT_EYE, "JPEG", draw=draw_micrograph),
    Kind("skin close-ups", True, "skin of any tone, pores and uneven light, a mole, lesion, rash or scar, maybe hairs",
         NOT_EYE, "JPEG", draw=draw_skin),
    Kind("street maps", True, "map tiles: buildings, parks, water, roads with edges, street names, maybe a pin",
         NOT_EYE, "PNG", draw=draw_map),
    Kind("food plates", False, "a meal from above or at an angle: a plate of foods on a table, maybe cutlery or a glass",
         NOT_EYE, "JPEG", draw=draw_food),
    Kind("leaf close-ups", False, "leaves filling the frame: veins from a midrib, smooth or serrated, over foliage, soil, sky",
         NOT_EYE, "JPEG", draw=draw_leaves),
    Kind("fabric patterns", False, "woven or knitted cloth: stripes, plaid, dots, florals or paisley, in soft folds",
         NOT_EYE, "JPEG", draw=draw_fabric),
    Kind("abstract paintings", False, "acrylic on canvas: strokes, colour fields, drips, blocks or swirls, maybe framed",
         NOT_EYE, "JPEG", draw=draw_painting),
)
KINDS_BY_NAME = {kind.name: kind for kind in KINDS}
SEEN_KINDS = tuple(kind.name for kind in KINDS if kind.seen)
UNSEEN_KINDS = tuple(kind.name for kind in KINDS if not kind.seen)
