"""Finding and reading eye photos on disk: what each photo is, once decoded.

Accepted layouts (class folder names in any letter case):
    DATA/train/{cataract,normal}/...  and optionally DATA/test/{cataract,normal}/...
    DATA/{cataract,normal}/...        (a flat set, or one split folder such as D/test)
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
from collections import Counter
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from cataract_contract import CLASS_NAMES, IMAGE_SUFFIXES, ImageError, decode_image, read_image_bytes
from train_jax.data.copies import LocalFeatures, content_hash, local_features, perceptual_hash
from train_jax.errors import UserError

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "test")


@dataclasses.dataclass(frozen=True)
class ImageRecord:
    """One photo on disk and its class index."""

    path: str
    label: int


@dataclasses.dataclass(frozen=True)
class ScannedImage:
    """A photo that decoded, with what the split and the audit need to know of it."""

    record: ImageRecord
    content_hash: str
    perceptual_hash: int
    features: LocalFeatures = dataclasses.field(repr=False, compare=False)
    width: int = 0
    height: int = 0
    mode: str = ""
    format: str = ""


@dataclasses.dataclass(frozen=True)
class UnreadableFile:
    path: str
    reason: str


def class_folders(folder: Path) -> dict[int, Path]:
    """Class index -> subfolder of `folder` named after that class (any case)."""
    found: dict[int, Path] = {}
    if not folder.is_dir():
        return found
    for child in sorted(folder.iterdir()):
        name = child.name.lower()
        if child.is_dir() and name in CLASS_NAMES:
            found[CLASS_NAMES.index(name)] = child
    return found


def image_files(folder: Path) -> list[Path]:
    """Image files under a class folder, by suffix in any case, hidden files skipped."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not path.name.startswith(".")
        and path.suffix.lower() in IMAGE_SUFFIXES
    )


def discover(root: str | Path) -> dict[str, list[ImageRecord]]:
    """Split name -> records. A flat set or a single split folder comes back as "train"."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"data folder {root} does not exist")
    splits: dict[str, dict[int, Path]] = {}
    for split in SPLIT_NAMES:
        for child in root.iterdir():
            if child.is_dir() and child.name.lower() == split:
                splits[split] = class_folders(child)
    if not splits:
        flat = class_folders(root)
        if not flat:
            raise UserError(
                f"{root} has neither train/ (or test/) nor cataract/ and normal/ subfolders"
            )
        splits["train"] = flat
    records: dict[str, list[ImageRecord]] = {}
    for split, folders in splits.items():
        records[split] = [
            ImageRecord(str(path), label)
            for label, folder in sorted(folders.items())
            for path in image_files(folder)
        ]
    return records


def records_of_split_folder(folder: str | Path) -> list[ImageRecord]:
    """Records of a held-out set: a split folder with class subfolders, or a dataset
    root whose test/ is used."""
    folder = Path(folder)
    splits = discover(folder)
    if "test" in splits:
        return splits["test"]
    if any(child.name.lower() == "train" for child in folder.iterdir() if child.is_dir()):
        raise UserError(f"{folder} has a train/ but no test/ split to evaluate on")
    return splits["train"]


def scan(
    records: list[ImageRecord], description: str = "reading photos"
) -> tuple[list[ScannedImage], list[UnreadableFile]]:
    """Decode every photo once: hashes and sizes of the good ones, reasons for the bad."""
    scanned: list[ScannedImage] = []
    unreadable: list[UnreadableFile] = []
    for record in tqdm(records, desc=description, unit="img", leave=False, disable=len(records) < 50):
        try:
            data = read_image_bytes(record.path)
            image = decode_image(data)
        except ImageError as exc:
            unreadable.append(UnreadableFile(record.path, str(exc)))
            continue
        original_format, original_mode = _original_format_and_mode(data)
        scanned.append(
            ScannedImage(
                record=record,
                content_hash=content_hash(data),
                perceptual_hash=perceptual_hash(image),
                features=local_features(image),
                width=image.width,
                height=image.height,
                mode=original_mode,
                format=original_format,
            )
        )
    for bad in unreadable:
        log.warning("skipping unreadable file %s: %s", bad.path, bad.reason)
    return scanned, unreadable


def _original_format_and_mode(data: bytes) -> tuple[str, str]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format or "?", image.mode


def require_both_classes(records: list[ImageRecord], where: str) -> None:
    counts = Counter(record.label for record in records)
    missing = [name for index, name in enumerate(CLASS_NAMES) if counts[index] == 0]
    if missing:
        raise UserError(
            f"{where} has no readable images of class {' and '.join(repr(m) for m in missing)}: "
            f"a classifier needs photos of both {' and '.join(CLASS_NAMES)}"
        )


def class_counts(records: list[ImageRecord]) -> dict[str, int]:
    counts = Counter(record.label for record in records)
    return {name: counts[index] for index, name in enumerate(CLASS_NAMES)}


def with_label(image: ScannedImage, label: int) -> ScannedImage:
    """The same photo filed under another class (label-conflict policies)."""
    return dataclasses.replace(image, record=dataclasses.replace(image.record, label=label))


def fingerprint(scanned: list[ScannedImage]) -> str:
    """A short digest of the photos' content and labels, independent of paths and order."""
    digest = hashlib.sha256()
    for label, content in sorted((image.record.label, image.content_hash) for image in scanned):
        digest.update(f"{label}:{content}\n".encode())
    return digest.hexdigest()[:16]
