"""A synthetic photo collection with planted copies and look-alikes, and how well copy
detection found them: the ground truth for the audit's tests and `cataract bench audit`.

The collection holds drawn eyes (synth.py) in DATA/train/{cataract,normal}/:
- originals: distinct photos;
- copies of some originals, equally many of each kind in COPY_KINDS, made from the
  original's file as a user would make them;
- look-alikes: another photo of an eye of the same shape, colours and framing (each of
  the drawing's shape, pose and lighting draws moved by up to LOOK_ALIKE_VARIATION of its
  range) with its own fine texture. Not copies: finding one in its original's group is a
  false group.
DATA/truth.json says which photo each file shows.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageEnhance

from cataract_contract import CLASS_NAMES
from train_jax.data.synth import draw_eye
from train_jax.data.workers import in_workers
from train_jax.errors import UserError

DRAWN_HEIGHT = 256  # eyes are drawn at most this high, then enlarged to the photo height
LOOK_ALIKE_VARIATION = 0.2
TRUTH_FILE = "truth.json"
PHOTOS_PER_TASK = 32


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _crop(image: Image.Image, share: float, rng: np.random.Generator) -> Image.Image:
    """Cut `share` of the width and of the height, split at random between the sides."""
    cut_x, cut_y = round(image.width * share), round(image.height * share)
    left, top = int(rng.integers(cut_x + 1)), int(rng.integers(cut_y + 1))
    return image.crop((left, top, image.width - (cut_x - left), image.height - (cut_y - top)))


def _mirror(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


# Kind of copy -> how it is made from the original's file (bytes -> bytes).
COPY_KINDS: dict[str, Callable[[bytes, np.random.Generator], bytes]] = {
    "exact": lambda data, rng: data,
    "resized to 70%, quality 70": lambda data, rng: _jpeg(
        (image := Image.open(io.BytesIO(data))).resize((round(image.width * 0.7), round(image.height * 0.7)),
                                                      Image.Resampling.BICUBIC), 70),
    "cropped by 4%": lambda data, rng: _jpeg(_crop(Image.open(io.BytesIO(data)), 0.04, rng)),
    "15% brighter": lambda data, rng: _jpeg(ImageEnhance.Brightness(Image.open(io.BytesIO(data))).enhance(1.15)),
    "recoloured": lambda data, rng: _jpeg(Image.fromarray(
        np.clip(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) * [1.1, 0.95, 0.9], 0, 255).astype(np.uint8))),
    "rotated 5°": lambda data, rng: _jpeg(Image.open(io.BytesIO(data)).convert("RGB").rotate(
        5 * float(rng.choice([-1, 1])), Image.Resampling.BILINEAR)),
    "mirrored": lambda data, rng: _jpeg(_mirror(Image.open(io.BytesIO(data)))),
    "mirrored and cropped": lambda data, rng: _jpeg(_crop(_mirror(Image.open(io.BytesIO(data))), 0.04, rng)),
}
ORIGINAL, LOOK_ALIKE = "original", "look-alike"


class VariedDraws:
    """Repeats another generator's draws, each uniform draw moved by up to `amount` of its
    range: handed to draw_eye, an eye like the other one, not the same."""

    def __init__(self, generator: np.random.Generator, amount: float, variation: np.random.Generator):
        self.generator, self.amount, self.variation = generator, amount, variation

    def uniform(self, low=0.0, high=1.0, size=None):
        value = self.generator.uniform(low, high, size) + (high - low) * self.amount * self.variation.uniform(-1, 1, size)
        return float(value) if size is None else value  # as the generator's own: PIL takes no numpy scalars

    def __getattr__(self, name):  # integers, random, choice: the same draws
        return getattr(self.generator, name)


@dataclasses.dataclass(frozen=True)
class PlantedPhoto:
    path: str  # relative to the collection folder
    photo: int  # which photo it shows: copies share their original's number
    kind: str  # ORIGINAL, LOOK_ALIKE or a kind of COPY_KINDS
    of: str | None = None  # the original a copy or look-alike was made from


@dataclasses.dataclass(frozen=True)
class CollectionPlan:
    count: int
    seed: int
    photo_height: int
    copy_share: float
    look_alike_share: float


def build_collection(folder: str | Path, plan: CollectionPlan, workers: int = 0) -> list[PlantedPhoto]:
    """Draw the collection into `folder` (new or empty), or reuse it when it already holds
    this plan's collection."""
    folder = Path(folder)
    truth_file = folder / TRUTH_FILE
    if truth_file.is_file():
        saved = json.loads(truth_file.read_text())
        if saved["plan"] == dataclasses.asdict(plan):
            return [PlantedPhoto(**photo) for photo in saved["photos"]]
    if folder.exists() and any(folder.iterdir()):
        raise UserError(f"{folder} holds something other than this collection: choose a new or empty folder")
    photos = _planned_photos(plan)
    for name in CLASS_NAMES:
        (folder / "train" / name).mkdir(parents=True, exist_ok=True)
    drawn = [photo for photo in photos if photo.of is None or photo.kind == LOOK_ALIKE]
    copies = [photo for photo in photos if photo.of is not None and photo.kind != LOOK_ALIKE]
    for tasks in ([(str(folder), plan, drawn[i : i + PHOTOS_PER_TASK]) for i in range(0, len(drawn), PHOTOS_PER_TASK)],
                  [(str(folder), plan, copies[i : i + PHOTOS_PER_TASK]) for i in range(0, len(copies), PHOTOS_PER_TASK)]):
        for _ in in_workers(_write_photos, tasks, workers):  # the originals exist before anyone copies them
            pass
    truth_file.write_text(json.dumps({"plan": dataclasses.asdict(plan), "photos": [dataclasses.asdict(p) for p in photos]}))
    return photos


def _planned_photos(plan: CollectionPlan) -> list[PlantedPhoto]:
    rng = np.random.default_rng([plan.seed, 0])
    copies, look_alikes = round(plan.count * plan.copy_share), round(plan.count * plan.look_alike_share)
    originals = plan.count - copies - look_alikes
    if originals < max(copies, look_alikes, 2):
        raise UserError(f"{plan.count} photos leave too few originals for {copies} copies and {look_alikes} look-alikes")
    photos = [PlantedPhoto(f"train/{CLASS_NAMES[index % 2]}/original_{index:06d}.jpg", index, ORIGINAL) for index in range(originals)]
    kinds = list(COPY_KINDS)
    for number, index in enumerate(rng.choice(originals, copies, replace=False)):
        kind = kinds[number % len(kinds)]
        photos.append(PlantedPhoto(photos[index].path.replace("original_", f"copy_{number:06d}_of_"), int(index), kind,
                                   photos[index].path))
    for number, index in enumerate(rng.choice(originals, look_alikes, replace=False)):
        photos.append(PlantedPhoto(photos[index].path.replace("original_", f"look_alike_{number:06d}_of_"), originals + number,
                                   LOOK_ALIKE, photos[index].path))
    return photos


def _write_photos(task: tuple[str, CollectionPlan, list[PlantedPhoto]]) -> None:
    folder, plan, photos = task
    for photo in photos:
        target = Path(folder) / photo.path
        if photo.kind == ORIGINAL:
            target.write_bytes(_jpeg(_drawn(plan, photo.photo, look_alike=False), 92))
        elif photo.kind == LOOK_ALIKE:
            original = int(Path(photo.of).stem.rsplit("_", 1)[1])
            target.write_bytes(_jpeg(_drawn(plan, original, look_alike=True), 92))
        else:
            rng = np.random.default_rng([plan.seed, 2, int(target.stem.split("_")[1])])
            target.write_bytes(COPY_KINDS[photo.kind]((Path(folder) / photo.of).read_bytes(), rng))


def _drawn(plan: CollectionPlan, index: int, look_alike: bool) -> Image.Image:
    shape = np.random.default_rng([plan.seed, 1, index])
    if look_alike:
        shape = VariedDraws(shape, LOOK_ALIKE_VARIATION, np.random.default_rng([plan.seed, 3, index]))
    texture = np.random.default_rng([plan.seed, 4 if look_alike else 5, index])
    image = draw_eye(shape, cataract=index % 2 == 0, height=min(DRAWN_HEIGHT, plan.photo_height), texture_rng=texture)
    if plan.photo_height > image.height:
        scale = plan.photo_height / image.height
        image = image.resize((round(image.width * scale), plan.photo_height), Image.Resampling.BICUBIC)
    return image


@dataclasses.dataclass(frozen=True)
class PlantedScore:
    """How the groups found compare with the truth."""

    found: dict[str, tuple[int, int]]  # kind of copy -> (copies in their original's group, copies planted)
    clean: dict[str, tuple[int, int]]  # kind -> (found copies whose group holds no other photo's file, found copies)
    look_alikes_grouped: tuple[int, int]  # (look-alikes in their original's group, look-alikes planted)
    false_groups: int  # groups holding files of two or more photos
    groups: int  # groups of two or more files
    true_pairs: int  # pairs of files in one group that show one photo
    grouped_pairs: int  # pairs of files in one group

    def recall(self, kind: str) -> float:
        found, planted = self.found[kind]
        return found / planted if planted else float("nan")

    def precision(self, kind: str) -> float:
        clean, found = self.clean[kind]
        return clean / found if found else float("nan")

    @property
    def pair_precision(self) -> float:
        return self.true_pairs / self.grouped_pairs if self.grouped_pairs else 1.0


def score(photos: list[PlantedPhoto], group_of: dict[str, int]) -> PlantedScore:
    """Score group ids, by path relative to the collection folder, against the truth."""
    members: dict[int, list[PlantedPhoto]] = {}
    for photo in photos:
        members.setdefault(group_of[photo.path], []).append(photo)
    pure = {group: len({p.photo for p in files}) == 1 for group, files in members.items()}
    found, clean = Counter(), Counter()
    planted = Counter(photo.kind for photo in photos)
    for photo in photos:
        if photo.kind in COPY_KINDS and group_of[photo.path] == group_of[photo.of]:
            found[photo.kind] += 1
            clean[photo.kind] += pure[group_of[photo.path]]
    look_alikes = [p for p in photos if p.kind == LOOK_ALIKE]
    groups = [files for files in members.values() if len(files) > 1]
    return PlantedScore(
        found={kind: (found[kind], planted[kind]) for kind in COPY_KINDS},
        clean={kind: (clean[kind], found[kind]) for kind in COPY_KINDS},
        look_alikes_grouped=(sum(group_of[p.path] == group_of[p.of] for p in look_alikes), len(look_alikes)),
        false_groups=sum(not pure[group] for group, files in members.items() if len(files) > 1),
        groups=len(groups),
        true_pairs=sum(n * (n - 1) // 2 for files in groups for n in Counter(p.photo for p in files).values()),
        grouped_pairs=sum(len(files) * (len(files) - 1) // 2 for files in groups),
    )
