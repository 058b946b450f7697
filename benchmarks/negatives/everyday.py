"""Everyday things a clinic's camera or a phone may send by mistake: shelves (a bookcase of
book spines or a shop's shelves of products), flowers (in a garden or a bouquet), desk tops
(a keyboard and the clutter round it seen from above, or a keyboard close up) and pet fur (a
cat or dog asleep seen from above, or its coat filling the frame), with the helpers only
they use."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from benchmarks.negatives.canvas import (
    blob,
    cast_shadow,
    font,
    grid,
    heading,
    hsv,
    oval,
    photographed,
    picture_size,
    plasma,
    rgb,
    to_image,
    vertical_gradient,
    words,
)
from benchmarks.negatives.objects import Layer, food_table
from benchmarks.negatives.scenes import leaf_backdrop


def side_view(picture: Image.Image, rng: np.random.Generator, width: int, spread: float) -> Image.Image:
    """`picture` as seen a little from one side, `width` wide: the nearer edge shows less of it
    and so looks taller; `spread` is the share of its height the nearer edge loses."""
    flat_width, height = picture.size
    cut = spread * height / 2
    if rng.random() < 0.5:  # the left edge nearer
        quad = (0, cut, 0, height - cut, flat_width, height, flat_width, 0)
    else:
        quad = (0, 0, 0, height, flat_width, height - cut, flat_width, cut)
    return picture.transform((width, height), Image.Transform.QUAD, quad, Image.Resampling.BICUBIC)


def shaded_across(piece: Image.Image, box: tuple[int, int, int, int], rng: np.random.Generator,
                  strength: float = 0.35) -> None:
    """The part `box` of `piece` shaded as a rounded thing lit from the front: darker at its
    left and right edges, a highlight a little off its middle."""
    left, top, right, bottom = box
    if right - left < 2 or bottom - top < 1:
        return
    across = np.linspace(-1, 1, right - left)
    peak = rng.uniform(-0.5, 0.1)
    light = 1 - strength * across**4 + strength * 0.6 * np.exp(-((across - peak) / 0.18) ** 2)
    part = np.asarray(piece.crop(box), float) * light[None, :, None]
    piece.paste(to_image(part), (left, top))


# --- shelves ----------------------------------------------------------------------------

def draw_shelves(rng: np.random.Generator) -> Image.Image:
    """Shelves photographed from the front, a little from one side: a bookcase of wood, white
    or black boards, crammed with book spines (cloth, leather and paper colours, bands, titles
    running up or down, now and then one leaning or a pile lying flat), or a shop's shelves with
    rows of the same product side by side (boxes, bottles, cans and jars with labels) over a
    strip of price tags; inside each shelf darker, the board's shadow over the tops of things."""
    width, height = picture_size(rng)
    spread = rng.uniform(0.0, 0.25)
    flat = (int(width * (1 + spread / 2)), height)
    shop = rng.random() < 0.45
    if shop:
        board = hsv(rng.uniform(0.05, 0.6), rng.uniform(0, 0.08), rng.uniform(0.6, 0.95))
        back = board * rng.uniform(0.55, 0.8)
    else:
        board = [hsv(rng.uniform(0.05, 0.1), rng.uniform(0.35, 0.7), rng.uniform(0.25, 0.75)),
                 hsv(rng.uniform(0.08, 0.15), rng.uniform(0.02, 0.1), rng.uniform(0.82, 0.95)),
                 hsv(0.0, 0.0, rng.uniform(0.08, 0.18))][int(rng.choice(3, p=[0.6, 0.25, 0.15]))]
        back = board * rng.uniform(0.3, 0.6)
    picture = Image.new("RGB", flat, rgb(back))
    draw = ImageDraw.Draw(picture)
    pitch = height / (rng.uniform(2.2, 4.0) if shop else rng.uniform(1.6, 3.6))  # from one board to the next
    thick = pitch * rng.uniform(0.05, 0.1) * (1.6 if shop else 1)
    first = -rng.uniform(0.2, 0.9) * pitch
    boards = [first + index * pitch for index in range(int(height / pitch) + 3)]
    uprights = []  # a bookcase's upright boards between its bays
    if not shop and rng.random() < 0.6:
        at = rng.uniform(-0.3, 0.3) * flat[0]
        while at < flat[0]:
            uprights.append(at)
            at += flat[0] * rng.uniform(0.45, 0.9)
    bays = [-10.0, *uprights, flat[0] + 10.0]
    upright_width = thick * rng.uniform(0.8, 1.2)
    shading = np.ones((height, flat[0]))
    rows = np.arange(height, dtype=float)[:, None]
    for top, bottom in zip(boards[:-1], boards[1:]):
        inside = (top + thick, bottom)  # the space over a board, under the next
        for left, right in zip(bays[:-1], bays[1:]):
            span = (left + upright_width / 2, right - upright_width / 2)
            if shop:
                shelve_products(draw, picture, rng, span, inside)
            else:
                shelve_books(draw, picture, rng, span, inside)
        under = np.clip(rows - inside[0], 0, None)  # the board above shades the top of the space
        band = (rows >= inside[0]) & (rows < inside[1])
        shading *= np.where(band, 1 - rng.uniform(0.35, 0.55) * np.exp(-under / (pitch * 0.18)), 1)
    for top in boards:  # the boards' fronts over everything, lit from above
        draw.rectangle([0, top, flat[0], top + thick], fill=rgb(board))
        draw.line([(0, top + 1), (flat[0], top + 1)], fill=rgb(board * 1.15 + 10), width=max(1, round(thick * 0.12)))
        draw.line([(0, top + thick), (flat[0], top + thick)], fill=rgb(board * 0.6), width=max(1, round(thick * 0.1)))
        if shop:
            price_strip(draw, rng, flat[0], top, thick)
    for at in uprights:
        draw.rectangle([at - upright_width / 2, 0, at + upright_width / 2, height], fill=rgb(board * 0.92))
        draw.line([(at - upright_width / 2, 0), (at - upright_width / 2, height)], fill=rgb(board * 1.1), width=2)
    pixels = np.asarray(picture, float) * (shading * (0.9 + 0.2 * plasma(rng, flat)))[..., None]
    return photographed(side_view(to_image(pixels), rng, width, spread), rng, blur=(0.5, 1.2))


BOOK_BANDS = ((200, 165, 80), (30, 28, 26), (235, 230, 215), (150, 30, 30))


def shelve_books(draw: ImageDraw.ImageDraw, picture: Image.Image, rng: np.random.Generator,
                 span: tuple[float, float], inside: tuple[float, float]) -> None:
    """Book spines standing side by side from the left of `span` on the board at the bottom
    of `inside`, now and then a gap, a leaning book or a pile lying flat."""
    room = inside[1] - inside[0]
    x = span[0] + rng.uniform(0, room * 0.1)
    hue = rng.uniform(0, 1)  # a shelf's books are often of a set, or of a kind
    while x < span[1]:
        if rng.random() < 0.04:  # a gap
            x += room * rng.uniform(0.1, 0.4)
            continue
        if rng.random() < 0.05:  # a pile lying flat
            length = room * rng.uniform(0.5, 0.75)
            level = inside[1]
            for _ in range(int(rng.integers(2, 7))):
                depth, offset = room * rng.uniform(0.04, 0.1), rng.uniform(-0.05, 0.05) * length
                if level - depth < inside[0] + room * 0.1:
                    break
                cover = book_colour(rng, hue)
                draw.rectangle([x + offset, level - depth, x + offset + length, level], fill=rgb(cover),
                               outline=rgb(cover * 0.6))
                level -= depth
            x += length + room * 0.08
            continue
        thickness = room * rng.uniform(0.05, 0.16) * (0.5 if rng.random() < 0.2 else 1)
        tall = room * rng.uniform(0.6, 0.95)
        cover = book_colour(rng, hue)
        if rng.random() < 0.03 and x + tall < span[1]:  # leaning over to the right
            lean = rng.uniform(0.25, 0.5)
            foot = np.array([x, inside[1]])
            up, along = heading(-math.pi / 2 + lean), heading(lean)
            corners = [tuple(foot), tuple(foot + tall * up), tuple(foot + tall * up + thickness * along),
                       tuple(foot + thickness * along)]
            draw.polygon(corners, fill=rgb(cover), outline=rgb(cover * 0.55))
            x += tall * math.sin(lean) + thickness
            continue
        box = (round(x), round(inside[1] - tall), round(min(x + thickness, span[1])), round(inside[1]))
        draw.rectangle(box, fill=rgb(cover))
        spine_marks(draw, picture, rng, box, cover)
        shaded_across(picture, box, rng, rng.uniform(0.2, 0.45))
        draw.line([(box[0], box[1]), (box[0], box[3])], fill=rgb(cover * 0.45), width=1)
        x += thickness + rng.uniform(0, 1.5)


def book_colour(rng: np.random.Generator, hue: float) -> np.ndarray:
    """A cover: near the shelf's hue or any, deep cloth colours, pale paper or leather browns."""
    kind = rng.random()
    if kind < 0.2:
        return hsv(rng.uniform(0.08, 0.15), rng.uniform(0.05, 0.25), rng.uniform(0.8, 0.95))
    if kind < 0.35:
        return hsv(rng.uniform(0.03, 0.09), rng.uniform(0.5, 0.8), rng.uniform(0.2, 0.5))
    near = hue + rng.normal(0, 0.05) if rng.random() < 0.4 else rng.uniform(0, 1)
    return hsv(near, rng.uniform(0.2, 0.85), rng.uniform(0.2, 0.85))


def spine_marks(draw: ImageDraw.ImageDraw, picture: Image.Image, rng: np.random.Generator,
                box: tuple[int, int, int, int], cover: np.ndarray) -> None:
    """A spine's bands near its head and foot and its title, running up or down it."""
    left, top, right, bottom = box
    thickness, tall = right - left, bottom - top
    ink = np.array(BOOK_BANDS[int(rng.integers(0, len(BOOK_BANDS)))], float)
    if np.abs(ink - cover).sum() < 120:
        ink = 255 - cover
    if rng.random() < 0.5:
        for at in (top + tall * rng.uniform(0.04, 0.1), bottom - tall * rng.uniform(0.04, 0.12)):
            band = max(1, round(tall * rng.uniform(0.01, 0.04)))
            draw.rectangle([left, at, right, at + band], fill=rgb(ink))
    if thickness < 9 or rng.random() < 0.15:
        return
    title = words(rng, int(rng.integers(1, 4)))
    size = max(6, round(thickness * rng.uniform(0.4, 0.6)))
    lettering = Image.new("L", (max(1, round(tall * 0.75)), size + 4), 0)
    ImageDraw.Draw(lettering).text((2, 1), title, fill=255, font=font(size))
    if rng.random() < 0.5:
        lettering = lettering.transpose(Image.Transpose.ROTATE_270)
    else:
        lettering = lettering.transpose(Image.Transpose.ROTATE_90)
    picture.paste(rgb(ink), (left + (thickness - lettering.width) // 2, top + round(tall * 0.15)), lettering)


PRODUCTS = ("box", "box", "bottle", "can", "jar")


def shelve_products(draw: ImageDraw.ImageDraw, picture: Image.Image, rng: np.random.Generator,
                    span: tuple[float, float], inside: tuple[float, float]) -> None:
    """Rows of the same product side by side, two to seven of each, filling `span` on the
    board at the bottom of `inside`."""
    room = inside[1] - inside[0]
    x = span[0] + rng.uniform(0, room * 0.1)
    while x < span[1]:
        product = str(rng.choice(PRODUCTS))
        wide = room * {"box": rng.uniform(0.3, 0.7), "bottle": rng.uniform(0.18, 0.3), "can": rng.uniform(0.2, 0.32),
                       "jar": rng.uniform(0.25, 0.4)}[product]
        tall = room * {"box": rng.uniform(0.55, 0.92), "bottle": rng.uniform(0.7, 0.92), "can": rng.uniform(0.4, 0.75),
                       "jar": rng.uniform(0.4, 0.7)}[product]
        main = hsv(rng.uniform(0, 1), rng.uniform(0.3, 0.95), rng.uniform(0.3, 0.95))
        label = hsv(rng.uniform(0, 1), rng.uniform(0, 0.9), rng.uniform(0.5, 1.0)) if rng.random() < 0.7 else \
            np.array([240.0, 238, 232])
        name = words(rng, 1)
        for _ in range(int(rng.integers(2, 8))):
            if x + wide > span[1] + wide * 0.3:
                break
            product_front(draw, picture, rng, product, (x, inside[1] - tall, x + wide, inside[1]), main, label, name)
            x += wide + rng.uniform(0.5, 3)
        x += rng.uniform(0, room * 0.05)


def product_front(draw: ImageDraw.ImageDraw, picture: Image.Image, rng: np.random.Generator, product: str,
                  box: tuple[float, float, float, float], main: np.ndarray, label: np.ndarray, name: str) -> None:
    """One product's front in `box`: a box with a band and a round logo, a bottle with a
    shoulder, neck, cap and label, a can with its rims, or a jar with a lid."""
    left, top, right, bottom = box
    wide, tall = right - left, bottom - top
    middle = (left + right) / 2
    if product == "box":
        draw.rectangle([left, top, right, bottom], fill=rgb(main), outline=rgb(main * 0.6))
        draw.rectangle([left, top + tall * 0.55, right, top + tall * 0.75], fill=rgb(label))
        logo = wide * 0.18
        draw.ellipse([middle - logo, top + tall * 0.25 - logo, middle + logo, top + tall * 0.25 + logo], fill=rgb(label * 0.9))
        label_box = (left + wide * 0.1, top + tall * 0.57)
        body = (round(left), round(top), round(right), round(bottom))
    elif product == "bottle":
        neck, shoulder = wide * 0.3, top + tall * 0.38
        draw.rounded_rectangle([left, shoulder, right, bottom], radius=wide * 0.18, fill=rgb(main))
        draw.polygon([(left + wide * 0.05, shoulder + wide * 0.1), (middle - neck / 2, top + tall * 0.15),
                      (middle + neck / 2, top + tall * 0.15), (right - wide * 0.05, shoulder + wide * 0.1)], fill=rgb(main))
        draw.rectangle([middle - neck / 2, top + tall * 0.06, middle + neck / 2, top + tall * 0.16], fill=rgb(main))
        draw.rectangle([middle - neck * 0.6, top, middle + neck * 0.6, top + tall * 0.07], fill=rgb(label * 0.7))
        draw.rectangle([left, shoulder + tall * 0.12, right, shoulder + tall * 0.4], fill=rgb(label))
        label_box = (left + wide * 0.08, shoulder + tall * 0.2)
        body = (round(left), round(top), round(right), round(bottom))
    elif product == "can":
        metal = np.array([200.0, 200, 205]) * rng.uniform(0.8, 1.0)
        draw.rectangle([left, top + tall * 0.04, right, bottom - tall * 0.04], fill=rgb(main))
        draw.rectangle([left + wide * 0.04, top, right - wide * 0.04, top + tall * 0.06], fill=rgb(metal))
        draw.rectangle([left + wide * 0.04, bottom - tall * 0.06, right - wide * 0.04, bottom], fill=rgb(metal * 0.85))
        draw.rectangle([left, top + tall * 0.3, right, top + tall * 0.6], fill=rgb(label))
        label_box = (left + wide * 0.1, top + tall * 0.35)
        body = (round(left), round(top), round(right), round(bottom))
    else:  # a jar: its contents seen through the glass, a lid
        draw.rounded_rectangle([left, top + tall * 0.15, right, bottom], radius=wide * 0.12, fill=rgb(main * 0.7))
        draw.rectangle([left + wide * 0.06, top, right - wide * 0.06, top + tall * 0.16], fill=rgb(label * 0.8))
        draw.rectangle([left + wide * 0.05, top + tall * 0.4, right - wide * 0.05, top + tall * 0.75],
                       fill=rgb(np.array([240.0, 236, 225])))
        label_box = (left + wide * 0.12, top + tall * 0.5)
        body = (round(left), round(top), round(right), round(bottom))
    ink = np.array([20.0, 20, 20]) if label.mean() > 128 else np.array([245.0, 245, 240])
    draw.text(label_box, name, fill=rgb(ink), font=font(max(6, round(min(wide / max(len(name), 1) * 1.6, tall * 0.12)))))
    shaded_across(picture, body, rng, 0.15 if product == "box" else 0.4)


def price_strip(draw: ImageDraw.ImageDraw, rng: np.random.Generator, width: int, top: float, thick: float) -> None:
    """The price tags along a shop shelf's edge: white or yellow, a price in large figures."""
    strip = np.array([245.0, 245, 240]) if rng.random() < 0.5 else hsv(rng.uniform(0, 1), rng.uniform(0.2, 0.7), 0.8)
    draw.rectangle([0, top + thick * 0.15, width, top + thick * 0.85], fill=rgb(strip))
    x = rng.uniform(0, thick * 3)
    tag_colour = np.array([250.0, 250, 245]) if rng.random() < 0.6 else np.array([250.0, 225, 60])
    while x < width:
        tag = thick * rng.uniform(1.6, 2.6)
        draw.rectangle([x, top + thick * 0.2, x + tag, top + thick * 0.8], fill=rgb(tag_colour), outline=(90, 90, 90))
        price = f"{int(rng.integers(0, 30))}.{int(rng.integers(0, 100)):02d}"
        draw.text((x + tag * 0.1, top + thick * 0.25), price, fill=(20, 20, 20), font=font(max(6, round(thick * 0.4))))
        x += tag + thick * rng.uniform(1.5, 6)


# --- flowers ----------------------------------------------------------------------------

FLOWER_SHAPES = ("petals", "petals", "daisy", "rose", "rose", "cup", "cluster")
FLOWER_COLOURS = ("pink", "red", "magenta", "orange", "yellow", "white", "violet")


def draw_flowers(rng: np.random.Generator) -> Image.Image:
    """Flowers in a garden or a bouquet, most often pink, red or magenta, also orange, yellow,
    white or violet: five-petalled blossoms, daisies with a yellow or dark middle, roses of
    curled petals wrapped round a bud, tulip cups on their stems or domes of small florets
    (hydrangea); shaded deeper towards the middle and lit from one side, each with its shadow.
    In a garden a few large ones in focus among leaves, others smaller and out of focus over
    blurred foliage, soil or sky; a bouquet packed together among leaves before a wall, maybe
    in paper wrapping."""
    size = picture_size(rng)
    width, height = size
    reach = min(size)
    towards = heading(rng.uniform(0, 2 * math.pi))
    species = [(str(rng.choice(FLOWER_SHAPES)), flower_colour(rng)) for _ in range(int(rng.integers(1, 4)))]
    if rng.random() < 0.6:  # a garden
        scene = to_image(leaf_backdrop(rng, size, "foliage"))
        for _ in range(int(rng.integers(4, 25))):  # far away, out of focus
            shape, petal = species[int(rng.integers(0, len(species)))]
            radius = reach * rng.uniform(0.03, 0.09)
            at = rng.uniform(-0.05, 1.05, 2) * size
            if shape == "cup":
                stem(scene, rng, at, radius * 0.08, height)
            lay_flower(scene, rng, shape, petal * rng.uniform(0.9, 1.05), radius, at, towards)
        scene = scene.filter(ImageFilter.GaussianBlur(reach * rng.uniform(0.006, 0.015)))
        for _ in range(int(rng.integers(1, 5))):  # near, in focus, among their own leaves
            shape, petal = species[int(rng.integers(0, len(species)))]
            radius, at = reach * rng.uniform(0.12, 0.32), rng.uniform(0.1, 0.9, 2) * size
            for _ in range(int(rng.integers(0, 4))):
                lay_leaf(scene, rng, at + rng.normal(0, radius * 0.8, 2), radius * rng.uniform(0.7, 1.3),
                         rng.uniform(0, 2 * math.pi), towards)
            if shape == "cup":
                stem(scene, rng, at, radius * 0.08, height)
            lay_flower(scene, rng, shape, petal * rng.uniform(0.92, 1.05), radius, at, towards)
        return photographed(scene, rng, blur=(0.3, 0.8))
    wall = hsv(rng.uniform(0, 1), rng.uniform(0, 0.2), rng.uniform(0.55, 0.95))
    scene = to_image(vertical_gradient(size, rgb(wall * 1.05), rgb(wall * rng.uniform(0.7, 0.9))))
    middle = np.array(size) * (0.5 + rng.uniform(-0.1, 0.1, 2))
    spread = reach * rng.uniform(0.4, 0.7)
    if rng.random() < 0.4:  # paper wrapped round the stems, opening out behind the flowers
        paper = hsv(rng.uniform(0.06, 0.12), rng.uniform(0.2, 0.5), rng.uniform(0.6, 0.9)) if rng.random() < 0.6 else \
            flower_colour(rng) * 0.9
        foot = np.array([middle[0], height * 1.15])
        rim = [tuple(middle + spread * rng.uniform(0.95, 1.1) * heading(turn)) for turn in np.linspace(0.85, 2.15, 14) * math.pi]
        draw = ImageDraw.Draw(scene)
        draw.polygon([*rim, tuple(foot + [spread * 0.2, 0]), tuple(foot - [spread * 0.2, 0])], fill=rgb(paper))
        for point in rim[1:-1:2]:  # its folds
            draw.line([point, tuple(foot + rng.normal(0, spread * 0.05, 2))], fill=rgb(paper * 0.82), width=2)
        draw.line(rim, fill=rgb(paper * 1.1 + 10), width=2)
    for _ in range(int(rng.integers(15, 35))):  # the leaves among them, pointing out
        angle = rng.uniform(0, 2 * math.pi)
        lay_leaf(scene, rng, middle + spread * math.sqrt(rng.uniform(0.1, 1.0)) * heading(angle),
                 spread * rng.uniform(0.3, 0.5), angle + rng.normal(0, 0.4), towards)
    places = [middle + spread * 0.75 * math.sqrt(rng.uniform(0, 1)) * heading(rng.uniform(0, 2 * math.pi))
              for _ in range(int(rng.integers(14, 32)))]
    for at in sorted(places, key=lambda place: -float(np.hypot(*(place - middle)))):  # the middle ones on top
        shape, petal = species[int(rng.integers(0, len(species)))]
        lay_flower(scene, rng, "petals" if shape == "cup" else shape, petal * rng.uniform(0.9, 1.05),
                   spread * rng.uniform(0.14, 0.26), at, towards)
    return photographed(scene, rng, blur=(0.4, 1.0))


def flower_colour(rng: np.random.Generator) -> np.ndarray:
    pick = str(rng.choice(FLOWER_COLOURS, p=[0.28, 0.17, 0.1, 0.1, 0.1, 0.15, 0.1]))
    hue, saturation, value = {"pink": (rng.uniform(0.9, 1.0), rng.uniform(0.25, 0.6), rng.uniform(0.8, 0.98)),
                              "red": (rng.uniform(-0.03, 0.02), rng.uniform(0.7, 0.95), rng.uniform(0.55, 0.9)),
                              "magenta": (rng.uniform(0.82, 0.92), rng.uniform(0.5, 0.85), rng.uniform(0.6, 0.9)),
                              "orange": (rng.uniform(0.03, 0.09), rng.uniform(0.7, 0.95), rng.uniform(0.85, 1.0)),
                              "yellow": (rng.uniform(0.12, 0.16), rng.uniform(0.6, 0.9), rng.uniform(0.85, 1.0)),
                              "white": (rng.uniform(0.1, 0.9), rng.uniform(0.0, 0.08), rng.uniform(0.88, 0.98)),
                              "violet": (rng.uniform(0.7, 0.8), rng.uniform(0.35, 0.7), rng.uniform(0.55, 0.85))}[pick]
    return hsv(hue, saturation, value)


def lay_piece(scene: Image.Image, piece: Image.Image, mask: Image.Image, at: np.ndarray, angle: float,
              towards: np.ndarray, shadow: float) -> None:
    """`piece`, cut out by `mask`, turned by `angle` degrees and laid with its middle at `at`
    on `scene`, over its own soft shadow thrown away from the light."""
    piece = piece.rotate(angle, Image.Resampling.BILINEAR, expand=True)
    mask = mask.rotate(angle, Image.Resampling.BILINEAR, expand=True)
    corner = np.array([at[0] - piece.width / 2, at[1] - piece.height / 2])
    dark = mask.filter(ImageFilter.GaussianBlur(max(1.0, shadow * 0.6))).point(lambda value: value * 0.45)
    offset = corner - towards * shadow
    scene.paste((0, 0, 0), (round(offset[0]), round(offset[1])), dark)
    scene.paste(piece, (round(corner[0]), round(corner[1])), mask)


def lay_flower(scene: Image.Image, rng: np.random.Generator, shape: str, petal: np.ndarray, radius: float,
               at: np.ndarray, towards: np.ndarray) -> None:
    """One flower of `shape` drawn, shaded, tilted away a little and laid on `scene` at `at`."""
    bloom, depth = flower(rng, shape, radius, petal)
    side = bloom.image.width
    x, y = grid((side, side))
    out = np.hypot(x - side / 2, y - side / 2) / radius
    facing = ((x - side / 2) * towards[0] + (y - side / 2) * towards[1]) / radius
    light = (1 - depth * np.clip(1 - out, 0, 1) ** 1.5) * (1 + 0.15 * facing) * (0.9 + 0.2 * mottle(rng, (side, side)))
    if shape == "cluster":  # a dome
        light *= 0.7 + 0.35 * np.sqrt(np.clip(1 - out**2, 0, 1))
    image = to_image(np.asarray(bloom.image, float) * light[..., None])
    if shape != "cup":  # seen a little from the side
        squash = (side, max(4, round(side * rng.uniform(0.6, 1.0))))
        image, mask = image.resize(squash, Image.Resampling.BICUBIC), bloom.mask.resize(squash, Image.Resampling.BICUBIC)
        angle = rng.uniform(0, 360)
    else:
        mask, angle = bloom.mask, rng.normal(0, 12)
    lay_piece(scene, image, mask, at, angle, towards, radius * 0.08)


def flower(rng: np.random.Generator, shape: str, radius: float, petal: np.ndarray) -> tuple[Layer, float]:
    """A flower of `shape`, about `radius` in radius, on a layer of its own, its middle in the
    layer's; and how much deeper its colour turns towards the middle."""
    side = int(radius * 2.3) + 4
    bloom = Layer((side, side))
    middle = np.array([side / 2, side / 2])
    start = rng.uniform(0, 2 * math.pi)
    edge = max(1, round(radius * 0.015))
    if shape in ("petals", "daisy"):
        daisy = shape == "daisy"
        count = int(rng.integers(14, 30)) if daisy else int(rng.integers(5, 7))
        aspect = rng.uniform(0.14, 0.25) if daisy else rng.uniform(0.6, 0.9)
        for row in (0, 1) if daisy else (0,):
            for index in range(count):
                angle = start + 2 * math.pi * (index + 0.5 * row) / count + rng.normal(0, 0.04)
                length = radius * rng.uniform(0.85, 1.0) * (0.9 if row else 1)
                tint = petal * rng.uniform(0.9, 1.04) * (0.9 if daisy and not row else 1)
                points = oval(middle + heading(angle) * length / 2, length / 2, aspect, angle, 24)
                bloom.polygon(points, rgb(tint))
                bloom.paint.line([*points, points[0]], fill=rgb(tint * 0.82), width=edge)
                for vein in (-0.12, 0, 0.12)[1 - int(daisy):2 + int(not daisy)]:  # a vein or three
                    bloom.paint.line([tuple(middle + heading(angle) * length * 0.2),
                                      tuple(middle + heading(angle + vein) * length * 0.8)], fill=rgb(tint * 0.88), width=edge)
        disc = radius * (rng.uniform(0.2, 0.3) if daisy else rng.uniform(0.1, 0.18))
        heart = hsv(rng.uniform(0.1, 0.14), rng.uniform(0.75, 0.95), rng.uniform(0.8, 0.95)) if rng.random() < 0.7 else \
            hsv(rng.uniform(0.05, 0.3), rng.uniform(0.5, 0.8), rng.uniform(0.15, 0.35))
        bloom.disc(middle, disc, rgb(heart))
        for _ in range(int(rng.integers(20, 60))):  # florets or stamens
            bloom.disc(middle + rng.normal(0, disc * 0.4, 2), max(1.0, disc * 0.12), rgb(heart * rng.uniform(0.6, 1.25)))
        return bloom, 0.35 if not daisy else 0.15
    if shape == "rose":
        rings = int(rng.integers(4, 7))
        for ring in range(rings):  # from the outer petals in, deeper inside
            out = radius * (1 - ring / (rings + 0.5))
            count = int(rng.integers(4, 7))
            turn = rng.uniform(0, 2 * math.pi)
            tint = petal * (1 - 0.25 * ring / rings)
            for index in range(count):
                angle = turn + 2 * math.pi * index / count
                points = oval(middle + heading(angle) * out * 0.35, out * 0.62, rng.uniform(0.75, 0.95), angle, 28)
                points = [(px + rng.normal(0, out * 0.012), py + rng.normal(0, out * 0.012)) for px, py in points]
                shade = tint * rng.uniform(0.92, 1.05)
                bloom.polygon(points, rgb(shade))
                bloom.paint.line([*points, points[0]], fill=rgb(shade * 0.68), width=edge)
                curl = [point for point in points if np.dot(np.array(point) - middle, heading(angle)) > out * 0.45]
                if len(curl) > 1:  # the petal's rolled-back lip, catching the light
                    bloom.paint.line(curl, fill=rgb(shade * 1.1 + 20), width=edge * 2)
        spiral = [tuple(middle + radius * 0.15 * turn / (3 * math.pi) * heading(turn + start))
                  for turn in np.linspace(0.5, 3 * math.pi, 30)]
        bloom.paint.line(spiral, fill=rgb(petal * 0.6), width=edge)
        return bloom, 0.3
    if shape == "cup":  # a tulip from the side: two petals behind, one before, pointed tips
        tall, broad = radius * 0.95, radius * rng.uniform(0.5, 0.65)
        for offset, lean, tint in ((-0.45, -0.15, 0.85), (0.45, 0.15, 0.85), (0.0, 0.0, 1.0)):
            centre = middle + np.array([offset * broad, 0])
            points = oval(centre, tall, broad / tall * (0.8 if offset else 1), -math.pi / 2 + lean, 36)
            points = [(px, max(py, middle[1] - tall * 0.05) if py > middle[1] else py) for px, py in points]
            bloom.polygon(points, rgb(petal * tint))
            bloom.paint.line([*points, points[0]], fill=rgb(petal * tint * 0.75), width=edge)
            bloom.paint.line([tuple(centre + [0, tall * -0.6]), tuple(centre)], fill=rgb(petal * tint * 1.1 + 15), width=edge)
        bloom.image.paste(to_image(np.asarray(bloom.image, float) * np.linspace(1.1, 0.75, side)[:, None, None]))
        return bloom, 0.0
    for _ in range(int(rng.integers(30, 60))):  # a dome of small four-petalled florets
        where = middle + radius * 0.85 * math.sqrt(rng.uniform(0, 1)) * heading(rng.uniform(0, 2 * math.pi))
        floret, turn = radius * rng.uniform(0.12, 0.18), rng.uniform(0, 2 * math.pi)
        tint = petal * rng.uniform(0.8, 1.08)
        for quarter in range(4):
            angle = turn + quarter * math.pi / 2
            points = oval(where + heading(angle) * floret * 0.5, floret * 0.55, 0.8, angle, 12)
            bloom.polygon(points, rgb(tint))
            bloom.paint.line([*points, points[0]], fill=rgb(tint * 0.8), width=1)
        bloom.disc(where, floret * 0.15, rgb(tint * 0.6))
    return bloom, 0.1


def mottle(rng: np.random.Generator, size: tuple[int, int], cells: int = 5) -> np.ndarray:
    """Smooth uneven colour in 0..1, (height, width): a few random cells enlarged smoothly
    (plasma's first octave, cheap enough for many small pieces)."""
    coarse = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8), "L")
    return np.asarray(coarse.resize(size, Image.Resampling.BICUBIC), float) / 255


def stem(scene: Image.Image, rng: np.random.Generator, top: np.ndarray, thick: float, height: int) -> None:
    """A green stem from `top` down and out of the picture, gently bent."""
    points = [top + np.array([rng.normal(0, thick * 3) * share**2, (height - top[1] + thick * 10) * share])
              for share in np.linspace(0, 1, 12)]
    green = hsv(rng.uniform(0.22, 0.33), rng.uniform(0.5, 0.8), rng.uniform(0.3, 0.55))
    draw = ImageDraw.Draw(scene)
    draw.line([tuple(point) for point in points], fill=rgb(green * 0.7), width=max(2, round(thick * 1.3)), joint="curve")
    draw.line([tuple(point - [thick * 0.2, 0]) for point in points], fill=rgb(green), width=max(1, round(thick * 0.8)),
              joint="curve")


def lay_leaf(scene: Image.Image, rng: np.random.Generator, at: np.ndarray, length: float, angle: float,
             towards: np.ndarray) -> None:
    """A pointed green leaf `length` long, with a paler midrib and side veins, shaded across."""
    side = int(length * 1.05) + 4
    leaf = Layer((side, side))
    middle = np.array([side / 2, side / 2])
    green = hsv(rng.uniform(0.2, 0.36), rng.uniform(0.45, 0.85), rng.uniform(0.25, 0.6))
    aspect = rng.uniform(0.22, 0.4)
    outline = [(px, py) for px, py in oval(middle, length / 2, aspect, 0.0, 48)]
    tip = np.array([middle[0] + length / 2, middle[1]])
    outline = [tuple(np.array(point) + (tip - point) * max(0.0, (point[0] - middle[0]) / length) ** 1.5 * 0.6
                     * np.array([0, 1])) for point in outline]
    leaf.polygon(outline, rgb(green))
    ribs = ImageDraw.Draw(leaf.image)
    ribs.line([(middle[0] - length / 2, middle[1]), tuple(tip)], fill=rgb(green * 1.25 + 20), width=max(1, round(length * 0.015)))
    for share in np.linspace(-0.35, 0.35, int(rng.integers(4, 8))):
        base = middle + [share * length, 0]
        for sign in (-1, 1):
            ribs.line([tuple(base), tuple(base + [length * 0.12, sign * length * aspect * 0.4])], fill=rgb(green * 1.12 + 10),
                      width=1)
    x, y = grid((side, side))
    across = (y - middle[1]) / (length * aspect / 2)
    fold = 1 + 0.15 * np.sign(across) * rng.choice([-1, 1]) + 0.15 * ((x - middle[0]) * towards[0] + (y - middle[1]) * towards[1]) / length
    image = to_image(np.asarray(leaf.image, float) * (fold * (0.9 + 0.2 * mottle(rng, (side, side))))[..., None])
    lay_piece(scene, image, leaf.mask, at, -math.degrees(angle), towards, length * 0.04)


# --- desk tops --------------------------------------------------------------------------

# A keyboard's rows: each key's width in key units (15 to a row) and the letters on the keys.
KEY_ROWS = (
    ([1.0] * 15, ["esc", *(f"F{number}" for number in range(1, 13)), "prt", "del"]),
    ([1.0] * 13 + [2.0], [*"`1234567890-=", "back"]),
    ([1.5] + [1.0] * 12 + [1.5], ["tab", *"QWERTYUIOP[]", "\\"]),
    ([1.75] + [1.0] * 11 + [2.25], ["caps", *"ASDFGHJKL;'", "enter"]),
    ([2.25] + [1.0] * 10 + [2.75], ["shift", *"ZXCVBNM,./", "shift"]),
    ([1.25] * 3 + [6.25] + [1.25] * 4, ["ctrl", "", "alt", "", "alt", "fn", "", "ctrl"]),
)
NUMBER_PAD = ("num/*-", "789+", "456", "123", "0.")


def draw_desk(rng: np.random.Generator) -> Image.Image:
    """A desk photographed from above: a wooden, stone, laminate or cloth-covered top with a
    keyboard (keys in rows with their letters, sometimes a number pad), a mouse, a mug of
    coffee or tea, printed sheets, sticky notes with scribbles, a pen, a phone and a cable, each
    with its shadow, lit from one side; or a keyboard close up, its keys filling the frame at
    a slant, the far ones out of focus."""
    size = picture_size(rng)
    width, height = size
    if rng.random() < 0.3:
        return keyboard_close_up(rng, size)
    towards = heading(rng.uniform(0, 2 * math.pi))
    scene = to_image(food_table(rng, size) if rng.random() < 0.6 else desk_mat(rng, size))
    numpad = rng.random() < 0.4
    unit = max(size) * rng.uniform(0.45, 0.85) / (19.8 if numpad else 15.8)  # a key's pitch, about 19 mm
    tilt = float(rng.normal(0, 8))
    right, down = heading(-math.radians(tilt)), heading(-math.radians(tilt) + math.pi / 2)
    board = np.array(size) / 2 + rng.uniform(-0.15, 0.15, 2) * size
    keys, key_mask = keyboard(rng, unit, numpad)
    span = np.array(keys.size) / 2

    def somewhere() -> np.ndarray:
        return rng.uniform(0.05, 0.95, 2) * size

    for _ in range(int(rng.integers(0, 4))):  # sheets of paper, under everything
        sheet, sheet_mask = paper_sheet(rng, unit)
        lay_piece(scene, sheet, sheet_mask, somewhere(), float(rng.normal(tilt, 20)), towards, unit * 0.05)
    if rng.random() < 0.5:  # the keyboard's cable, off the far edge
        start = board - down * span[1] + right * rng.uniform(-0.3, 0.3) * span[0]
        path = [start]
        while len(path) < 40 and 0 <= path[-1][0] < width and 0 <= path[-1][1] < height:
            path.append(path[-1] - down * unit * 0.6 + rng.normal(0, unit * 0.2, 2))
        draw = ImageDraw.Draw(scene)
        cable = max(2, round(unit * 0.18))
        draw.line([tuple(point - towards * unit * 0.12) for point in path], fill=(40, 40, 40), width=cable)
        draw.line([tuple(point) for point in path], fill=rgb(np.full(3, rng.uniform(20, 230))), width=cable, joint="curve")
    things = ["keyboard", "mouse", "mug", "notes", "pen", "phone"]
    rng.shuffle(things)
    for thing in things:
        if thing == "keyboard" and rng.random() < 0.9:
            lay_piece(scene, keys, key_mask, board, tilt, towards, unit * 0.15)
        elif thing == "mouse" and rng.random() < 0.7:
            image, mask = computer_mouse(rng, unit)
            at = board + right * (span[0] + unit * rng.uniform(2.5, 4)) + down * unit * rng.uniform(-1, 2)
            lay_piece(scene, image, mask, at, float(tilt + rng.normal(0, 10)), towards, unit * 0.2)
        elif thing == "mug" and rng.random() < 0.6:
            image, mask = mug(rng, unit, towards)
            at = board + right * rng.choice([-1, 1]) * (span[0] + unit * rng.uniform(1, 3)) \
                - down * (span[1] + unit * rng.uniform(0.5, 3))
            lay_piece(scene, image, mask, at, float(rng.uniform(0, 360)), towards, unit * 0.3)
        elif thing == "notes":
            for _ in range(int(rng.integers(0, 4))):
                image, mask = sticky_note(rng, unit)
                lay_piece(scene, image, mask, somewhere(), float(rng.normal(0, 12)), towards, unit * 0.04)
        elif thing == "pen" and rng.random() < 0.6:
            image, mask = pen(rng, unit)
            lay_piece(scene, image, mask, somewhere(), float(rng.uniform(0, 360)), towards, unit * 0.12)
        elif thing == "phone" and rng.random() < 0.5:
            image, mask = phone(rng, unit)
            lay_piece(scene, image, mask, somewhere(), float(rng.normal(tilt, 25)), towards, unit * 0.12)
    return photographed(scene, rng, blur=(0.4, 1.0))


def desk_mat(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A plain laminate desk or a felt desk mat: one muted colour, faintly uneven."""
    top = hsv(rng.uniform(0, 1), rng.uniform(0, 0.2), rng.uniform(0.15, 0.95))
    return np.broadcast_to(top, (size[1], size[0], 3)) * (0.94 + 0.12 * plasma(rng, size))[..., None]


def key_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A keyboard's case, keys and letters: dark keys with pale letters or pale with dark."""
    if rng.random() < 0.55:
        case = np.full(3, rng.uniform(18, 50))
        return case, case + rng.uniform(5, 30), np.full(3, rng.uniform(170, 235))
    case = np.full(3, rng.uniform(170, 225)) * (1 + rng.normal(0, 0.03, 3))
    return case, np.full(3, rng.uniform(215, 248)), np.full(3, rng.uniform(20, 90))


def draw_keys(draw: ImageDraw.ImageDraw, unit: float, origin: np.ndarray, numpad: bool,
              colours: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """A keyboard's keys with their top left at `origin`, `unit` pixels apart: each a darker
    rim round a paler top that stands a little nearer its back edge, its letter on the top."""
    _, face, ink = colours
    gap, lettering = unit * 0.07, font(max(6, round(unit * 0.3)))

    def key(left: float, top: float, wide: float, label: str) -> None:
        box = [left + gap, top + gap, left + wide * unit - gap, top + unit - gap]
        draw.rounded_rectangle(box, radius=unit * 0.12, fill=rgb(face * 0.72))
        inner = [box[0] + unit * 0.1, box[1] + unit * 0.05, box[2] - unit * 0.1, box[3] - unit * 0.17]
        draw.rounded_rectangle(inner, radius=unit * 0.1, fill=rgb(face))
        draw.line([(inner[0] + unit * 0.1, inner[1] + 1), (inner[2] - unit * 0.1, inner[1] + 1)], fill=rgb(face * 1.1 + 8))
        if label:
            draw.text((inner[0] + unit * 0.08, inner[1] + unit * 0.04), label, fill=rgb(ink), font=lettering)

    for row, (widths, labels) in enumerate(KEY_ROWS):
        left = origin[0]
        top = origin[1] + row * unit + (unit * 0.25 if row else 0)  # the function row a little apart
        for wide, label in zip(widths, labels):
            key(left, top, wide, label)
            left += wide * unit
    if numpad:
        for row, labels in enumerate(NUMBER_PAD):
            top = origin[1] + (row + 1) * unit + unit * 0.25
            for column, label in enumerate(labels):
                wide = 2.0 if label == "0" else 1.0
                key(origin[0] + (15.6 + column + (1 if row == 4 and column else 0)) * unit, top, wide, label)


def keyboard(rng: np.random.Generator, unit: float, numpad: bool) -> tuple[Image.Image, Image.Image]:
    """A whole keyboard seen from above and its mask: a rounded case, its keys and a light or two."""
    colours = key_colours(rng)
    size = (round(unit * (20.0 if numpad else 15.8)), round(unit * 6.85))
    image, mask = Image.new("RGB", size), Image.new("L", size, 0)
    ImageDraw.Draw(mask).rounded_rectangle([0, 0, size[0] - 1, size[1] - 1], radius=unit * 0.35, fill=255)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([0, 0, size[0] - 1, size[1] - 1], radius=unit * 0.35, fill=rgb(colours[0]),
                           outline=rgb(colours[0] * 0.7), width=max(1, round(unit * 0.05)))
    draw_keys(draw, unit, np.array([unit * 0.4, unit * 0.3]), numpad, colours)
    shaded = np.asarray(image, float) * (0.85 + 0.3 * mottle(rng, size, 3))[..., None]
    return to_image(shaded), mask


def keyboard_close_up(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """Keys filling the frame, seen at a slant: nearer keys larger, the far ones blurred."""
    width, height = size
    spread = rng.uniform(0.1, 0.35)
    flat = (int(width * (1 + 2 * spread)), int(height * rng.uniform(1.1, 1.4)))
    numpad = rng.random() < 0.4
    unit = max(flat[0] / rng.uniform(5, 11), flat[1] / rng.uniform(5.0, 6.0))  # the keys fill the frame
    colours = key_colours(rng)
    picture = Image.new("RGB", flat, rgb(colours[0]))
    origin = -rng.uniform(0, 1, 2) * np.array([unit * (19.6 if numpad else 15) - flat[0], unit * 6.25 - flat[1]]).clip(0)
    draw_keys(ImageDraw.Draw(picture), unit, origin, numpad, colours)
    k = spread * width
    picture = picture.transform(size, Image.Transform.QUAD, (0, 0, k, flat[1], k + width, flat[1], flat[0], 0),
                                Image.Resampling.BICUBIC)
    sharp = np.asarray(picture, float)
    soft = np.asarray(picture.filter(ImageFilter.GaussianBlur(unit * rng.uniform(0.04, 0.1))), float)
    focus = rng.uniform(0.5, 0.9)  # where the camera focused, as a share of the height
    share = np.clip(np.abs(np.linspace(0, 1, height) - focus) / focus * 1.3, 0, 1)[:, None, None] ** 1.5
    light = (1 - 0.3 * np.linspace(1, 0, height))[:, None, None]
    return photographed(to_image((sharp * (1 - share) + soft * share) * light), rng, blur=(0.3, 0.7))


def computer_mouse(rng: np.random.Generator, unit: float) -> tuple[Image.Image, Image.Image]:
    """A mouse from above: a rounded body, the split between its buttons and a scroll wheel."""
    size = (round(unit * 3.2), round(unit * 5.4))
    middle = np.array(size) / 2
    body = np.full(3, rng.uniform(25, 60)) if rng.random() < 0.6 else np.full(3, rng.uniform(190, 235))
    mouse = Layer(size)
    outline = oval(middle, size[1] * 0.48, 0.6, math.pi / 2, 48)
    outline = [(px + (px - middle[0]) * 0.12 * (py - middle[1]) / size[1], py) for px, py in outline]  # narrower in front
    mouse.polygon(outline, rgb(body))
    mouse.paint.line([(middle[0], size[1] * 0.03), (middle[0], size[1] * 0.4)], fill=rgb(body * 0.55), width=max(1, round(unit * 0.05)))
    mouse.paint.line([(size[0] * 0.12, size[1] * 0.42), (size[0] * 0.88, size[1] * 0.42)], fill=rgb(body * 0.8), width=1)
    mouse.paint.rounded_rectangle([middle[0] - unit * 0.18, size[1] * 0.12, middle[0] + unit * 0.18, size[1] * 0.3],
                                  radius=unit * 0.12, fill=rgb(body * 0.4 + 10))
    x, y = grid(size)
    hump = np.hypot((x - middle[0]) / (size[0] * 0.5), (y - size[1] * 0.55) / (size[1] * 0.5))
    light = 0.8 + 0.45 * np.clip(1 - hump**2, 0, 1)
    return to_image(np.asarray(mouse.image, float) * light[..., None]), mouse.mask


def mug(rng: np.random.Generator, unit: float, towards: np.ndarray) -> tuple[Image.Image, Image.Image]:
    """A mug from above: its rim, coffee, tea or nothing in it, a shine on the drink, a handle."""
    radius = unit * rng.uniform(1.9, 2.3)
    side = round(radius * 3.2)
    middle = np.array([side / 2, side / 2])
    china = hsv(rng.uniform(0, 1), rng.uniform(0, 0.6), rng.uniform(0.3, 0.95)) if rng.random() < 0.5 else \
        np.array([240.0, 238, 232])
    cup = Layer((side, side))
    handle = middle + np.array([radius * 1.15, 0])
    cup.line([tuple(handle - [radius * 0.2, radius * 0.3]), tuple(handle + [0, -radius * 0.25]),
              tuple(handle + [0, radius * 0.25]), tuple(handle - [radius * 0.2, -radius * 0.3])],
             rgb(china * 0.9), max(3, round(radius * 0.2)))
    cup.disc(middle, radius, rgb(china))
    drink = [np.array([60.0, 35, 20]), np.array([150.0, 80, 30]), np.array([190.0, 140, 95]), china * 0.7][int(rng.integers(0, 4))]
    cup.disc(middle, radius * 0.86, rgb(china * 0.75))
    cup.disc(middle, radius * 0.82, rgb(drink))
    shine = middle + towards * radius * 0.4
    cup.paint.ellipse([shine[0] - radius * 0.2, shine[1] - radius * 0.1, shine[0] + radius * 0.2, shine[1] + radius * 0.1],
                      fill=rgb(drink * 0.5 + 120))
    image = cup.image.filter(ImageFilter.GaussianBlur(0.6))
    return image, cup.mask


def paper_sheet(rng: np.random.Generator, unit: float) -> tuple[Image.Image, Image.Image]:
    """A printed A4 sheet: a heading, lines of words, sometimes a table's ruled lines."""
    size = (round(unit * 11), round(unit * 15.5))
    white = np.array([245.0, 244, 238]) * rng.uniform(0.92, 1.0)
    sheet = Image.new("RGB", size, rgb(white))
    draw = ImageDraw.Draw(sheet)
    margin, line = unit * 1.3, max(6.0, unit * 0.42)
    draw.text((margin, margin), words(rng, 3), fill=(30, 30, 30), font=font(round(line * 1.5)))
    y = margin + line * 3
    ruled = rng.random() < 0.3
    while y < size[1] - margin:
        if ruled:
            draw.line([(margin, y), (size[0] - margin, y)], fill=(120, 120, 120), width=1)
        draw.text((margin, y), words(rng, int(rng.integers(3, 9))), fill=(60, 60, 70), font=font(round(line * 0.8)))
        y += line * (1.3 if rng.random() < 0.9 else 2.5)
    return sheet, Image.new("L", size, 255)


def sticky_note(rng: np.random.Generator, unit: float) -> tuple[Image.Image, Image.Image]:
    """A square sticky note, yellow, pink, green or blue, with a few scribbled lines."""
    side = round(unit * rng.uniform(3.5, 4.2))
    tint = [(250, 235, 120), (250, 180, 200), (180, 240, 170), (170, 215, 245)][int(rng.integers(0, 4))]
    note = Image.new("RGB", (side, side), tint)
    draw = ImageDraw.Draw(note)
    ink = [(30, 40, 120), (25, 25, 25), (170, 30, 30)][int(rng.integers(0, 3))]
    for row in range(int(rng.integers(1, 5))):
        start = np.array([side * 0.12, side * (0.2 + 0.18 * row)])
        path = [tuple(start + [side * 0.75 * share, side * 0.04 * math.sin(share * rng.uniform(10, 30))])
                for share in np.linspace(0, rng.uniform(0.4, 1.0), 16)]
        draw.line(path, fill=ink, width=max(1, round(unit * 0.06)))
    shade = np.linspace(1.0, 0.9, side)[:, None, None]  # its free lower edge curls up a little
    return to_image(np.asarray(note, float) * shade), Image.new("L", (side, side), 255)


def pen(rng: np.random.Generator, unit: float) -> tuple[Image.Image, Image.Image]:
    """A ballpoint pen lying flat: a barrel shaded across, a metal tip, a clip."""
    size = (round(unit * 7.5), max(4, round(unit * 0.5)))
    barrel = [np.array([30.0, 50, 140]), np.array([25.0, 25, 28]), np.array([170.0, 30, 30]), np.array([235.0, 235, 230])][
        int(rng.integers(0, 4))]
    piece = Layer(size)
    piece.polygon([(0, size[1] / 2), (size[0] * 0.08, 0), (size[0], 0), (size[0], size[1]), (size[0] * 0.08, size[1])],
                  rgb(barrel))
    piece.polygon([(0, size[1] / 2), (size[0] * 0.08, size[1] * 0.15), (size[0] * 0.08, size[1] * 0.85)], (170, 170, 175))
    piece.paint.rectangle([size[0] * 0.6, size[1] * 0.35, size[0] * 0.95, size[1] * 0.65], fill=rgb(barrel * 0.6 + 60))
    across = 0.7 + 0.5 * np.sin(np.linspace(0.2, math.pi - 0.2, size[1]))[:, None, None]
    return to_image(np.asarray(piece.image, float) * across), piece.mask


def phone(rng: np.random.Generator, unit: float) -> tuple[Image.Image, Image.Image]:
    """A phone lying flat: face up, its dark glass reflecting a soft light or its screen lit
    with rows of app icons; or face down, showing its back and camera."""
    size = (round(unit * 3.8), round(unit * 7.9))
    piece = Layer(size)
    corner = unit * 0.5
    piece.cover.rounded_rectangle([0, 0, size[0] - 1, size[1] - 1], radius=corner, fill=255)
    if rng.random() < 0.35:  # face down
        back = hsv(rng.uniform(0, 1), rng.uniform(0, 0.5), rng.uniform(0.15, 0.9))
        piece.paint.rounded_rectangle([0, 0, size[0] - 1, size[1] - 1], radius=corner, fill=rgb(back))
        piece.paint.rounded_rectangle([unit * 0.3, unit * 0.3, unit * 1.6, unit * 1.6], radius=unit * 0.3, fill=rgb(back * 0.7))
        for lens in ((0.65, 0.65), (1.25, 0.65), (0.65, 1.25)):
            at = np.array(lens) * unit
            piece.paint.ellipse([*(at - unit * 0.22), *(at + unit * 0.22)], fill=(20, 20, 25))
        return piece.image, piece.mask
    piece.paint.rounded_rectangle([0, 0, size[0] - 1, size[1] - 1], radius=corner, fill=(20, 20, 22))
    screen = [unit * 0.15, unit * 0.15, size[0] - unit * 0.15, size[1] - unit * 0.15]
    if rng.random() < 0.5:  # lit: a wallpaper and icons
        wallpaper = hsv(rng.uniform(0, 1), rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.8))
        piece.paint.rounded_rectangle(screen, radius=corner * 0.8, fill=rgb(wallpaper))
        icon = unit * 0.55
        for row in range(6):
            for column in range(4):
                at = np.array([screen[0] + unit * 0.2 + column * icon * 1.3, screen[1] + unit * 0.8 + row * icon * 1.5])
                piece.paint.rounded_rectangle([*at, *(at + icon)], radius=icon * 0.25,
                                              fill=rgb(hsv(rng.uniform(0, 1), rng.uniform(0.4, 0.9), rng.uniform(0.6, 1))))
        return piece.image, piece.mask
    x, y = grid(size)
    glare = np.clip(1 - np.abs((x / size[0] - y / size[1]) * 3 - rng.uniform(-1, 1)), 0, 1) * rng.uniform(20, 60)
    glass = np.asarray(piece.image, float) + glare[..., None]
    return to_image(glass), piece.mask


# --- pet fur ----------------------------------------------------------------------------

COATS = ("ginger", "cream", "brown", "golden", "grey", "black", "white")


def draw_fur(rng: np.random.Generator) -> Image.Image:
    """A pet seen from above: a cat or dog curled up asleep on a blanket, a floor or a table,
    its head tucked in with the ears showing and its tail round it; or its coat close up,
    filling the frame. The coat ginger, cream, brown, golden, grey, black or white, plain,
    tabby-striped or in patches, in strands of hair that follow the body round and part where
    the head begins, shaded as a rounded body lit from one side, a little soft."""
    size = picture_size(rng)
    width, height = size
    reach = min(size)
    x, y = grid(size)
    towards = heading(rng.uniform(0, 2 * math.pi))
    base, second, pattern = coat(rng)
    if rng.random() < 0.35:  # close up
        lie = rng.uniform(0, 2 * math.pi)
        angle = lie + 2.0 * (plasma(rng, size) - 0.5)
        across = x * math.cos(lie + math.pi / 2) + y * math.sin(lie + math.pi / 2)
        stripes = 0.5 + 0.5 * np.sin(2 * math.pi * across / (reach * rng.uniform(0.15, 0.35)) + 6 * plasma(rng, size))
        hair = max(1.0, reach * rng.uniform(0.002, 0.005))
        fur = coat_pixels(rng, size, angle, base, second, pattern, stripes, hair, reach * rng.uniform(0.03, 0.06))
        lumps = plasma(rng, size)  # tufts and hollows where the coat parts
        slope_y, slope_x = np.gradient(lumps * reach * 0.05)
        light = (0.75 + 0.4 * lumps) * (1 + 0.5 * np.clip(slope_x * towards[0] + slope_y * towards[1], -0.6, 0.6))
        return photographed(to_image(fur * light[..., None]), rng, blur=(0.6, 1.3))
    ground = food_table(rng, size)
    middle = np.array(size) / 2 + rng.uniform(-0.12, 0.12, 2) * size
    radius = reach * rng.uniform(0.3, 0.48)
    toward_head = rng.uniform(0, 2 * math.pi)
    curl = 1 if rng.random() < 0.5 else -1  # which way round it lies
    head_at = middle + radius * rng.uniform(0.55, 0.7) * heading(toward_head)
    head_radius = radius * rng.uniform(0.32, 0.42)
    body, head, tail = (Image.new("L", size, 0) for _ in range(3))
    ImageDraw.Draw(body).polygon(blob(rng, middle, radius, rng.uniform(0.75, 0.9), 0.06), fill=255)
    sweep = [middle + radius * 0.97 * heading(toward_head + curl * turn) for turn in np.linspace(0.7, 2.8, 14)]
    thick = max(3, round(radius * 0.22))
    ImageDraw.Draw(tail).line([tuple(point) for point in sweep], fill=255, width=thick, joint="curve")
    ImageDraw.Draw(tail).ellipse([*(sweep[-1] - thick / 2), *(sweep[-1] + thick / 2)], fill=255)  # its rounded tip
    ImageDraw.Draw(head).polygon(blob(rng, head_at, head_radius, rng.uniform(0.8, 0.95), 0.05), fill=255)
    ears(ImageDraw.Draw(head), rng, head_at, head_radius, toward_head, rng.random() < 0.6)
    in_head, in_tail = np.asarray(head, float) / 255, np.asarray(tail, float) / 255
    around = np.arctan2(y - middle[1], x - middle[0]) + curl * math.pi / 2  # the hair runs round the body
    nose = head_at - head_radius * 1.3 * heading(toward_head)  # tucked into the body
    from_nose = np.arctan2(y - nose[1], x - nose[0])  # the hair on the head runs from the nose to the ears
    out = np.hypot(x - middle[0], y - middle[1]) / radius
    along = around + 0.5 * curl * (in_tail < 0.5)
    spine, share = toward_head - curl * math.pi / 2, np.clip(out * 1.6, 0, 1)  # no whorl in the middle: the hair lies one way
    along = np.arctan2(share * np.sin(along) + (1 - share) * math.sin(spine), share * np.cos(along) + (1 - share) * math.cos(spine))
    angle = np.where(in_head > 0.5, from_nose, along) + 0.8 * (plasma(rng, size) - 0.5)
    turn = np.arctan2(y - middle[1], x - middle[0])
    stripes = (0.5 + 0.5 * np.sin(turn * rng.integers(6, 11) + 5 * plasma(rng, size))) * np.clip(out * 1.5 - 0.2, 0, 1)
    hair = max(1.0, reach * rng.uniform(0.002, 0.004))
    fur = coat_pixels(rng, size, angle, base, second, pattern, stripes, hair, reach * rng.uniform(0.02, 0.04))
    whole = np.maximum.reduce([np.asarray(part, float) for part in (body, head, tail)])
    dome = np.asarray(Image.fromarray(whole.astype(np.uint8)).filter(ImageFilter.GaussianBlur(radius * 0.4)), float) / 255
    slope_y, slope_x = np.gradient(dome * radius * 0.5)
    light = (0.45 + 0.6 * np.sqrt(np.clip(dome * 1.6 - 0.3, 0, 1))) \
        * (1 + 0.7 * np.clip(slope_x * towards[0] + slope_y * towards[1], -0.6, 0.6))
    for part, inside in ((head, in_head), (tail, in_tail)):  # a soft shadow where head and tail lie on the body
        rim = np.asarray(part.filter(ImageFilter.GaussianBlur(radius * 0.04)), float) / 255
        light *= 1 - 0.3 * np.clip((1 - rim) * rim * 4, 0, 1) * (inside < 0.5)
    fur *= light[..., None]
    ragged = np.asarray(Image.fromarray(whole.astype(np.uint8)).filter(ImageFilter.GaussianBlur(hair * 3)), float) / 255
    tufts = flow_smooth(rng.random(size[::-1]), angle, hair * 2, 3)
    cover = np.clip((ragged - 0.5) * 2.5 + 0.5 + 2.5 * (tufts - 0.5), 0, 1)
    shadow = Image.fromarray((np.clip(whole, 0, 255)).astype(np.uint8))
    ground = cast_shadow(ground, shadow, -towards * radius * 0.08, radius * 0.1, 0.55)
    pixels = ground * (1 - cover[..., None]) + fur * cover[..., None]
    return photographed(to_image(pixels), rng, blur=(0.5, 1.1))


def coat(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """A coat's main colour, its second (the stripes' or the patches') and its pattern."""
    name = str(rng.choice(COATS, p=[0.22, 0.1, 0.16, 0.12, 0.14, 0.14, 0.12]))
    base = {"ginger": hsv(rng.uniform(0.05, 0.09), rng.uniform(0.55, 0.8), rng.uniform(0.65, 0.9)),
            "cream": hsv(rng.uniform(0.08, 0.12), rng.uniform(0.18, 0.35), rng.uniform(0.82, 0.95)),
            "brown": hsv(rng.uniform(0.05, 0.08), rng.uniform(0.45, 0.7), rng.uniform(0.3, 0.55)),
            "golden": hsv(rng.uniform(0.09, 0.12), rng.uniform(0.45, 0.65), rng.uniform(0.7, 0.9)),
            "grey": hsv(rng.uniform(0.55, 0.65), rng.uniform(0.03, 0.12), rng.uniform(0.4, 0.65)),
            "black": hsv(rng.uniform(0.0, 0.1), rng.uniform(0.1, 0.3), rng.uniform(0.08, 0.16)),
            "white": hsv(rng.uniform(0.08, 0.14), rng.uniform(0.02, 0.1), rng.uniform(0.86, 0.96))}[name]
    pattern = str(rng.choice(["plain", "tabby", "patches"], p=[0.45, 0.35, 0.2]))
    if pattern == "tabby":
        second = base * rng.uniform(0.35, 0.6)
    elif name in ("black", "brown"):
        second = hsv(rng.uniform(0.08, 0.12), rng.uniform(0.02, 0.12), rng.uniform(0.85, 0.95))  # white patches
    else:
        second = hsv(rng.uniform(0.0, 0.1), rng.uniform(0.1, 0.4), rng.uniform(0.08, 0.3))  # dark patches
    return base, second, pattern


def flow_smooth(values: np.ndarray, angle: np.ndarray, step: float, steps: int) -> np.ndarray:
    """`values`, (height, width) or (height, width, channels), averaged along the lines that
    run at `angle` through each pixel, `steps` steps of `step` pixels either way: noise so
    averaged becomes strands of hair lying the way the coat lies."""
    height, width = values.shape[:2]
    flat = values.reshape(height * width, -1).astype(np.float32)
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = (np.cos(angle) * step).astype(np.float32), (np.sin(angle) * step).astype(np.float32)
    total = np.zeros(flat.shape, np.float32)
    for offset in range(-steps, steps + 1):
        column = np.clip(columns + offset * dx + 0.5, 0, width - 1).astype(np.int32)
        row = np.clip(rows + offset * dy + 0.5, 0, height - 1).astype(np.int32)
        total += np.take(flat, (row * width + column).ravel(), axis=0)
    return (total / (2 * steps + 1)).reshape(values.shape).astype(float)


def coat_pixels(rng: np.random.Generator, size: tuple[int, int], angle: np.ndarray, base: np.ndarray, second: np.ndarray,
                pattern: str, stripes: np.ndarray, hair: float, length: float) -> np.ndarray:
    """The coat over the whole frame: its pattern, then strands of hair `hair` pixels thick
    and about `length` long lying at `angle`, their tips lighter or darker by turns."""
    width, height = size
    if pattern == "tabby":  # stripes, broken here and there
        share = np.clip((stripes - 0.45 - 0.5 * (plasma(rng, size) - 0.5)) * 4, 0, 1)
    elif pattern == "patches":
        share = np.clip((plasma(rng, size) - rng.uniform(0.45, 0.6)) * 8, 0, 1)
    else:
        share = np.zeros((height, width))
    coarse = (round(height / hair) + 1, round(width / hair) + 1)
    noise = Image.fromarray((rng.random(coarse) * 255).astype(np.uint8)).resize(size, Image.Resampling.NEAREST)
    steps = 5
    strands = flow_smooth(np.stack([np.asarray(noise, float) / 255, share], -1), angle, length / (2 * steps), steps)
    texture = (strands[..., 0] - 0.5) / max(float(strands[..., 0].std()), 1e-6)
    share = strands[..., 1]
    colours = base * (1 - share[..., None]) + second * share[..., None]
    return colours * (1 + 0.12 * np.clip(texture, -2.5, 2.5))[..., None] + 10 * np.clip(texture - 1.5, 0, 1)[..., None]


def ears(draw: ImageDraw.ImageDraw, rng: np.random.Generator, head: np.ndarray, radius: float, facing: float,
         pointed: bool) -> None:
    """Two ears at the far side of the head from the body: a cat's pointed or a dog's folded."""
    for side in (-1, 1):
        root = head + radius * 0.85 * heading(facing + side * 0.7)
        if pointed:
            tip = root + radius * 0.55 * heading(facing + side * 0.45)
            draw.polygon([tuple(root + radius * 0.3 * heading(facing + side * 0.7 + math.pi / 2)),
                          tuple(tip), tuple(root - radius * 0.3 * heading(facing + side * 0.7 + math.pi / 2))], fill=255)
        else:
            flap = root + radius * 0.35 * heading(facing + side * 1.3)
            draw.polygon(oval(flap, radius * 0.45, 0.55, facing + side * 1.3, 24), fill=255)
