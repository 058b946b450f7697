"""Places and surfaces as a camera sees them: scenes (outdoor views of sky, ground, houses,
trees and sun, or indoor rooms), blank surfaces (accidental shots of a wall, ceiling, floor
or tabletop, sometimes with a light switch, a socket or an edge) and leaf close-ups (leaves
filling the frame over blurred foliage, soil or sky), with their helpers (everyday.py's
flowers grow over leaf_backdrop too)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from benchmarks.negatives.canvas import (
    blob,
    cast_shadow,
    colour,
    grain,
    heading,
    hsv,
    photographed,
    picture_size,
    plasma,
    rgb,
    to_image,
    vertical_gradient,
)


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
