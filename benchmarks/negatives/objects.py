"""Things photographed on a background: objects (shaded balls, boxes and four-legged animal
shapes, each with its shadow) and food plates (a meal on a plate or platter on a table,
sometimes cutlery, a glass or a napkin), with their helpers, among them Layer, shapes that
are laid over a picture and throw their own shadow (everyday.py's drawings use Layer
and food_table too)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from benchmarks.negatives.canvas import (
    blob,
    cast_shadow,
    colour,
    grain,
    grid,
    heading,
    hsv,
    oval,
    pen_path,
    photographed,
    picture_size,
    plasma,
    rgb,
    to_image,
    vertical_gradient,
)


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
