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
import time
from collections import Counter
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from cataract_contract import CLASS_NAMES, ImageError, decode_image, image_files, read_image_bytes
from train_jax.data.copies import FEATURE_SIDE, PhotoFeatures, Thumbnail, content_hash, photo_features
from train_jax.data.feature_store import DamagedShard, FeatureLocation, FeatureStore, store_at
from train_jax.data.workers import default_workers, in_workers
from train_jax.errors import UserError

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "test")
# JPEGs are decoded at a reduced scale, at least twice the side features are computed at:
# what copy detection sees barely changes, and decoding a large photo costs 2-3x less.
DECODE_SIDE = 2 * FEATURE_SIDE
EXIF_ORIENTATION = 0x0112
MIN_PHOTOS_FOR_WORKERS = 200  # below this, starting processes costs more than it saves
MIN_PHOTOS_PER_TASK, MAX_PHOTOS_PER_TASK = 16, 256  # a task's new photos become one shard of the store


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
    thumbnail: Thumbnail = dataclasses.field(repr=False, compare=False)  # what the candidate search compares (copies.py)
    features: FeatureLocation = dataclasses.field(repr=False, compare=False)  # its copy-detection features on disk
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


def discover(root: str | Path) -> dict[str, list[ImageRecord]]:
    """Split name -> records. A flat set or a single split folder comes back as "train"."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise UserError(f"data folder {root} is a file: give the folder that holds the photos' class folders")
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


@dataclasses.dataclass
class ScanResult:
    scanned: list[ScannedImage]
    unreadable: list[UnreadableFile]
    described: int = 0  # photos decoded and described now; the others' features were in the store
    read_seconds: float = 0.0  # CPU seconds of all workers reading, hashing and decoding
    describe_seconds: float = 0.0  # CPU seconds of all workers computing features


def read_photos(records: list[ImageRecord], description: str = "reading photos", *, store: FeatureStore | None = None,
                workers: int | None = None) -> ScanResult:
    """Read every photo (in worker processes): content hash, size, mode and format; the
    copy-detection features of those the store does not know yet, decoded once and kept
    there. Unreadable files come back with the reason, in their own list. `store` names
    the folder (default: the user's cache); each process opens it for itself."""
    store = store or FeatureStore.in_cache()
    workers = default_workers() if workers is None else workers
    size = min(MAX_PHOTOS_PER_TASK, max(MIN_PHOTOS_PER_TASK, -(-len(records) // (4 * max(1, workers)))))
    tasks = [(position, str(store.folder), records[position : position + size]) for position in range(0, len(records), size)]
    chunks: dict[int, ScanResult] = {}
    with tqdm(total=len(records), desc=description, unit="img", leave=False, disable=len(records) < 50) as bar:
        for (position, _, chunk), result in in_workers(read_chunk, tasks, workers if len(records) >= MIN_PHOTOS_FOR_WORKERS else 0):
            chunks[position] = result
            bar.update(len(chunk))
    results = [chunks[position] for position in sorted(chunks)]
    return ScanResult([image for result in results for image in result.scanned],
                      [bad for result in results for bad in result.unreadable],
                      sum(result.described for result in results), sum(result.read_seconds for result in results),
                      sum(result.describe_seconds for result in results))


def scan(records: list[ImageRecord], description: str = "reading photos", *, store: FeatureStore | None = None,
         workers: int | None = None) -> tuple[list[ScannedImage], list[UnreadableFile]]:
    """read_photos, with a warning per unreadable file."""
    result = read_photos(records, description, store=store, workers=workers)
    for bad in result.unreadable:
        log.warning("skipping unreadable file %s: %s", bad.path, bad.reason)
    return result.scanned, result.unreadable


def read_chunk(task: tuple[int, str, list[ImageRecord]]) -> ScanResult:
    """One worker's share of read_photos; new features go to the store as one shard."""
    _, folder, records = task
    store = store_at(folder)
    store.refresh()
    result = ScanResult([], [])
    new: dict[str, PhotoFeatures] = {}  # content hash -> features, of the photos the store did not know
    for record in records:
        started = time.process_time()
        try:
            data = read_image_bytes(record.path)
            digest = content_hash(data)
            location, seen = _stored_thumbnail(store, digest)  # bytes decoded before need no decoding again
            image = decode_image(data, reduce_to=DECODE_SIDE) if seen is None and digest not in new else None
            facts = _original_size_mode_and_format(data)
        except ImageError as exc:
            result.unreadable.append(UnreadableFile(record.path, str(exc)))
            continue
        finally:
            result.read_seconds += time.process_time() - started
        if image is not None:
            started = time.process_time()
            new[digest] = photo_features(image)
            result.describe_seconds += time.process_time() - started
        result.scanned.append(ScannedImage(record, digest, seen or new[digest].thumbnail, location, *facts))
    if new:
        locations = dict(zip(new, store.write(list(new), list(new.values()))))
        result.scanned = [dataclasses.replace(image, features=locations[image.content_hash]) if image.features is None else image
                          for image in result.scanned]
        result.described = len(new)
    return result


def _stored_thumbnail(store: FeatureStore, digest: str) -> tuple[FeatureLocation | None, Thumbnail | None]:
    location = store.find(digest)
    if location is None:
        return None, None
    try:
        return location, store.thumbnail(location)
    except DamagedShard as exc:
        store.forget(location.shard, exc)
        return None, None


def _original_size_mode_and_format(data: bytes) -> tuple[int, int, str, str]:
    """Width and height (upright, as its EXIF tag says), mode and format of the file,
    read from its header."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if image.getexif().get(EXIF_ORIENTATION) in (5, 6, 7, 8):  # turned a quarter: sides swap
                width, height = height, width
            return width, height, image.mode, image.format or "?"
    except Exception as exc:  # PIL raises many types for malformed headers
        raise ImageError(f"cannot decode image: {exc}") from None


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
