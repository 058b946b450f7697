"""Pictures that are a pattern or texture across the whole frame: noise (random noise,
stripes, checkerboards and plasma), fabric patterns (woven or knitted cloth with stripes,
plaid, dots, florals or paisley, in soft folds) and abstract paintings (acrylic on canvas:
bristly strokes, colour fields, drips, geometric blocks or swirls, sometimes framed on a
wall), with the helpers only the fabric and the paintings use."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from benchmarks.negatives.canvas import (
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
