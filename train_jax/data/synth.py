"""Procedural eye photographs for the offline demo and the tests.

Each photo draws skin, an almond-shaped eye opening with lids and lashes, a veined
sclera, a textured iris, a pupil and specular highlights, under varied lighting,
framing, blur, noise and JPEG quality. A cataract is a lens opacity inside the pupil:
nuclear (a diffuse central cloud), cortical (spokes from the rim) or posterior
subcapsular (a small dense plaque), of varied density and colour. Faint cataracts and
normal pupils with a light haze or large reflections keep the task from being trivial.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from cataract_contract import CLASS_NAMES
from train_jax.errors import UserError
from train_jax.files import file_in_the_way

SKIN_TONES = np.array([[236, 200, 170], [210, 160, 125], [170, 120, 85], [120, 80, 55], [80, 55, 40]], np.float32)
IRIS_COLOURS = np.array([[95, 60, 35], [60, 40, 25], [70, 110, 150], [90, 120, 80], [120, 95, 55]], np.float32)
OPACITY_COLOURS = np.array([[235, 235, 230], [215, 210, 190], [200, 180, 130], [190, 195, 205]], np.float32)


def _smooth_noise(rng: np.random.Generator, height: int, width: int, scale: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1], by upsampling a coarse random grid."""
    coarse = rng.uniform(-1, 1, (max(2, height // scale), max(2, width // scale))).astype(np.float32)
    image = Image.fromarray(((coarse + 1) * 127.5).astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(image, np.float32) / 127.5 - 1


def _blend(canvas: np.ndarray, colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    alpha = np.clip(alpha, 0, 1)[..., None]
    return canvas * (1 - alpha) + colour * alpha


def draw_eye(rng: np.random.Generator, cataract: bool, height: int = 256,
             texture_rng: np.random.Generator | None = None) -> Image.Image:
    """One eye photo. `rng` decides its shape, colours and lighting; `texture_rng` (by
    default `rng` too) its fine texture: skin pores, veins, iris fibres, lashes, sensor
    noise. The same `rng` seed with two texture seeds draws look-alikes: two different
    photos of eyes shaped and lit alike, which copy detection must keep apart."""
    texture = rng if texture_rng is None else texture_rng
    width = int(height * rng.uniform(1.0, 1.4))
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)

    # Framing: where the eye sits and how large it is.
    scale = height * rng.uniform(0.36, 0.5)
    cx = width / 2 + rng.uniform(-0.12, 0.12) * width
    cy = height / 2 + rng.uniform(-0.1, 0.1) * height
    tilt = math.radians(rng.uniform(-12, 12))
    u = ((x - cx) * math.cos(tilt) + (y - cy) * math.sin(tilt)) / scale
    v = (-(x - cx) * math.sin(tilt) + (y - cy) * math.cos(tilt)) / scale

    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.1, 3)
    canvas = np.broadcast_to(skin, (height, width, 3)).astype(np.float32).copy()
    # Broad shading plus fine pores: skin texture differs from photo to photo.
    canvas *= (1 + 0.08 * _smooth_noise(texture, height, width, 24) + 0.05 * _smooth_noise(texture, height, width, 2))[..., None]

    # Eye opening: between an upper and a lower lid parabola.
    half_width = rng.uniform(1.5, 1.9)
    upper_lid = -rng.uniform(0.55, 0.95) * (1 - (u / half_width) ** 2)
    lower_lid = rng.uniform(0.45, 0.75) * (1 - (u / half_width) ** 2)
    opening = (v > upper_lid) & (v < lower_lid) & (np.abs(u) < half_width)
    edge = np.minimum(v - upper_lid, lower_lid - v)
    crease = np.exp(-(((v - upper_lid + 0.35) / 0.08) ** 2)) * (np.abs(u) < half_width)
    canvas *= (1 - 0.25 * crease)[..., None]

    sclera = np.array([245, 240, 232], np.float32) * rng.uniform(0.85, 1.0) + np.array([0, -10, -15]) * rng.uniform(0, 1)
    veins = np.clip(_smooth_noise(texture, height, width, 6), 0.75, 1) - 0.75
    sclera_image = sclera - veins[..., None] * np.array([0, 300, 300]) * rng.uniform(0, 1)
    canvas = np.where(opening[..., None], sclera_image, canvas)

    # Iris and pupil, with a gaze offset.
    iris_u, iris_v = rng.uniform(-0.35, 0.35), rng.uniform(-0.1, 0.15)
    iris_radius = rng.uniform(0.55, 0.72)
    radius = np.hypot(u - iris_u, v - iris_v)
    angle = np.arctan2(v - iris_v, u - iris_u)
    iris_colour = IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))] * rng.uniform(0.8, 1.15)
    # Radial fibres whose count, phase and waviness differ per eye, over fine crypts:
    # real irises are unique, and identical patterns would make distinct photos look alike.
    fibres = np.sin(angle * texture.integers(18, 70) + texture.uniform(0, 6.3) + 6 * _smooth_noise(texture, height, width, 5))
    crypts = _smooth_noise(texture, height, width, 2)
    streaks = np.clip(0.5 + 0.3 * fibres + 0.5 * crypts, 0, 1)
    iris_shade = (0.75 + 0.35 * streaks) * (1 - 0.45 * np.clip((radius / iris_radius - 0.8) / 0.2, 0, 1))
    iris = (radius < iris_radius) & opening
    canvas = np.where(iris[..., None], iris_colour * iris_shade[..., None], canvas)

    pupil_radius = iris_radius * rng.uniform(0.33, 0.55)
    pupil = (radius < pupil_radius) & opening
    canvas = np.where(pupil[..., None], np.array([12, 10, 10], np.float32) * rng.uniform(0.6, 1.6), canvas)

    inside_pupil = np.clip(1 - radius / pupil_radius, 0, 1)
    if cataract:
        # Most opacities are plain to see; about one in six is faint.
        density = rng.uniform(0.3, 0.5) if rng.random() < 0.17 else rng.uniform(0.55, 0.95)
        colour = OPACITY_COLOURS[rng.integers(len(OPACITY_COLOURS))]
        kind = rng.integers(3)
        if kind == 0:  # nuclear: a diffuse cloud filling the pupil
            shape = np.clip(inside_pupil * 4, 0, 1)
        elif kind == 1:  # cortical: spokes from the rim inwards
            spokes = np.clip(np.sin(angle * rng.integers(5, 10) + rng.uniform(0, 6)), 0, 1) ** 2
            shape = np.clip(spokes * np.clip(1.5 - inside_pupil, 0, 1) + 0.5 * np.clip(inside_pupil * 4, 0, 1), 0, 1)
        else:  # posterior subcapsular: a small dense central plaque
            shape = np.clip((inside_pupil - 0.3) * 4, 0, 1)
        shape = shape * (0.8 + 0.3 * _smooth_noise(texture, height, width, 10))
        canvas = _blend(canvas, colour, density * shape * pupil)
    elif rng.random() < 0.3:  # a healthy pupil may still look faintly grey in flash light
        canvas = _blend(canvas, np.array([120, 120, 125], np.float32), rng.uniform(0.05, 0.15) * inside_pupil * pupil)

    # Lid shadow and lashes over the eye, reflections on the cornea.
    canvas *= (1 - 0.35 * np.exp(-np.clip(edge, 0, None) / 0.08) * opening)[..., None]
    lash_count = texture.integers(15, 40)
    for lash in range(lash_count):
        lash_u = -half_width + 2 * half_width * (lash + texture.random()) / lash_count
        base_v = -texture.uniform(0.55, 0.95) * (1 - (lash_u / half_width) ** 2)
        slope, thickness = texture.uniform(0.05, 0.7) * texture.choice([-1, 1]), texture.uniform(0.007, 0.018)
        lash_line = np.abs((u - lash_u) - slope * (v - base_v)) < thickness
        lash_mask = lash_line & (v < base_v + 0.02) & (v > base_v - texture.uniform(0.1, 0.25))
        canvas[lash_mask] *= 0.25
    for _ in range(rng.integers(1, 4)):
        spot_u = iris_u + rng.uniform(-0.5, 0.5) * iris_radius
        spot_v = iris_v + rng.uniform(-0.5, 0.3) * iris_radius
        spot = np.exp(-(np.hypot(u - spot_u, v - spot_v) / rng.uniform(0.02, 0.07)) ** 2) * opening
        canvas = _blend(canvas, np.array([255, 255, 255], np.float32), spot * rng.uniform(0.6, 1.0))

    # Lighting: exposure, colour temperature, vignetting, sensor noise.
    canvas *= rng.uniform(0.65, 1.25) * rng.uniform(0.9, 1.1, 3)
    canvas *= (1 - rng.uniform(0.1, 0.45) * (np.hypot((x - width / 2) / width, (y - height / 2) / height) * 1.4) ** 2)[..., None]
    canvas += texture.normal(0, rng.uniform(2, 7), canvas.shape)
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.4)))


def generate(out: str | Path, count: int, seed: int = 0, test_fraction: float = 0.2, height: int = 256) -> dict[str, dict[str, int]]:
    """Write `count` photos to OUT/{train,test}/{cataract,normal}/; half of each class."""
    if count < 8:
        raise UserError(f"--n must be at least 8 (two photos per class and split), got {count}")
    if not 0 < test_fraction < 1:
        raise UserError(f"--test-fraction must be between 0 and 1, got {test_fraction}")
    out = Path(out)
    in_the_way = out if out.exists() and not out.is_dir() else file_in_the_way(out)
    if in_the_way is not None:
        raise UserError(f"{in_the_way} is a file, not a folder: choose a new folder for the photos")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} exists and is not empty: choose a new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create {out}: {error.strerror or error}") from None
    rng = np.random.default_rng(seed)
    labels = np.array([index % 2 for index in range(count)])
    rng.shuffle(labels)
    counts: dict[str, dict[str, int]] = {"train": {}, "test": {}}
    test_every = max(2, round(1 / test_fraction))
    seen_per_class = {0: 0, 1: 0}
    for index, label in enumerate(labels):
        seen_per_class[label] += 1
        split = "test" if seen_per_class[label] % test_every == 0 else "train"
        class_name = CLASS_NAMES[label]
        folder = out / split / class_name
        folder.mkdir(parents=True, exist_ok=True)
        image = draw_eye(rng, cataract=class_name == "cataract", height=height)
        image.save(folder / f"synth_{index:05d}.jpg", quality=int(rng.integers(70, 96)))
        counts[split][class_name] = counts[split].get(class_name, 0) + 1
    return counts
