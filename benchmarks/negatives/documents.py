"""Flat pictures of marks on paper or a screen: documents (pages of text, ruled lines and
tables), screenshots/UI (panels, title bars, buttons, input boxes and text), charts (axes
with ticks, bars, lines or points, a title and axis labels), sketches (pen strokes, curves,
circles, hatching and scribbles on off-white paper) and street maps (map tiles of buildings,
parks, water, roads with edges, street names, sometimes a pin), with the map's own helpers."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from benchmarks.negatives.canvas import blob, colour, font, grain, pen_path, picture_size, to_image, vertical_gradient, words


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
