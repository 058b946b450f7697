"""Copy-detection features kept on disk by content hash: a photo is decoded and described
once, however many audits, trainings and evaluations read it, and a re-audit of a grown
collection only describes the new photos.

A store is a folder of shards, each written whole by one worker (a temporary folder of
files flushed to disk, renamed into place, so a reader never sees half a shard, even after
a crash) and never changed afterwards.
A shard holds, for its photos, in .npy files read through memory maps (a photo's
features are loaded alone, not its shard's):
    keys          content hashes (S64)
    descriptors   (m, DESCRIPTOR_SIZE) float32
    hashes        (m, 2) uint64: perceptual hashes of the photo and of its mirror image
    offsets       (2m + 1) int64: photo r's keypoints are rows offsets[2r]:offsets[2r+1]
                  of points/orb, its mirror image's offsets[2r+1]:offsets[2r+2]
    points, orb   (P, 2) float32 and (P, 32) uint8
    grey, grey_shapes   (m, GREY_SIDE, GREY_SIDE) uint8 (padded) and (m, 2) int16
About 40 KB a photo with 500 keypoints each way. The store lives in the product's cache
root (cataract_contract.cache_root(): $CATARACT_CACHE, else ~/.cache/cataract), in
features/<FORMAT>. Delete the folder any time: it refills.
"""

from __future__ import annotations

import atexit
import collections
import dataclasses
import functools
import io
import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import numpy as np

from cataract_contract import CACHE_ENVIRONMENT, cache_root
from train_jax.data.copies import (CORNER_THRESHOLDS, DESCRIPTOR_SIZE, FEATURE_SIDE, GREY_SIDE, MIN_KEYPOINTS, ORB_KEYPOINTS,
                                   LocalFeatures, PhotoFeatures, Thumbnail)
from train_jax.errors import UserError
from train_jax.files import sync_folder, write_atomically

log = logging.getLogger(__name__)

# Features computed another way must not be mixed with these: the folder names the recipe.
FORMAT = (f"v1-orb{ORB_KEYPOINTS}-corners{'-'.join(map(str, CORNER_THRESHOLDS))}-min{MIN_KEYPOINTS}-side{FEATURE_SIDE}"
          f"-grey{GREY_SIDE}-cells{DESCRIPTOR_SIZE}")
# The feature cache's own root before every cache moved under $CATARACT_CACHE: still
# honoured, with a warning.
DEPRECATED_CACHE_ENVIRONMENT = "CATARACT_CACHE_DIR"
SHARD_FILES = ("keys", "descriptors", "hashes", "offsets", "points", "orb", "grey", "grey_shapes")


def _open_shard_limit() -> int:
    """Shards kept open (memory-mapped) per process: as many as 1024, since the pairs to
    verify come in no order, but each open file holds a descriptor, so at most half of
    the process's file limit goes to them."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(4, min(1024, soft // (2 * len(SHARD_FILES))))


OPEN_SHARDS = _open_shard_limit()


class DamagedShard(ValueError):
    """A shard's files cannot be read or disagree with each other."""


@dataclasses.dataclass(frozen=True)
class FeatureLocation:
    """Where one photo's features are: small enough to send to worker processes."""

    folder: str
    shard: str
    row: int


def default_cache_folder() -> Path:
    """The cache root the store lives in (under features/): the product's cache_root(), or
    the deprecated $CATARACT_CACHE_DIR where it is still set."""
    deprecated = os.environ.get(DEPRECATED_CACHE_ENVIRONMENT)
    if deprecated:
        _warn_deprecated_environment()
        return Path(deprecated)
    return cache_root()


@functools.cache
def _warn_deprecated_environment() -> None:  # once per process
    log.warning("%s is deprecated: set %s, the root of every cache (the feature cache is its features/ folder)",
                DEPRECATED_CACHE_ENVIRONMENT, CACHE_ENVIRONMENT)


class FeatureStore:
    """The shards in one folder (CACHE/features/FORMAT); look features up by content
    hash, read them by location."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._known: dict[str, FeatureLocation] = {}
        self._shards_seen: set[str] = set()
        self._open: collections.OrderedDict[str, dict[str, np.ndarray]] = collections.OrderedDict()

    @classmethod
    def in_cache(cls, cache_folder: str | Path | None = None) -> FeatureStore:
        """The store in `cache_folder` (default: default_cache_folder()). If the default
        cannot be written, a temporary one, removed when the process ends; a folder the
        user named must work."""
        folder = Path(cache_folder) if cache_folder is not None else default_cache_folder()
        store = cls(folder / "features" / FORMAT)
        try:
            store.folder.mkdir(parents=True, exist_ok=True)
            probe = store.folder / f".probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            if cache_folder is not None:
                raise UserError(f"cannot write the feature cache in {folder}: {exc.strerror or exc}") from None
            temporary = tempfile.mkdtemp(prefix="cataract-features-")
            atexit.register(shutil.rmtree, temporary, ignore_errors=True)
            log.warning("cannot write the feature cache in %s (%s): using %s for this run only",
                        folder, exc.strerror or exc, temporary)
            store = cls(Path(temporary) / "features" / FORMAT)
            store.folder.mkdir(parents=True)
        return store

    def find(self, digest: str) -> FeatureLocation | None:
        return self._known.get(digest)

    def forget(self, shard: str, reason: Exception) -> None:
        """Stop using a damaged shard: its photos will be described again."""
        log.warning("ignoring damaged feature shard %s: %s", self.folder / shard, reason)
        self._known = {digest: location for digest, location in self._known.items() if location.shard != shard}
        self._open.pop(shard, None)

    def refresh(self) -> None:
        """Learn the shards other processes wrote since the last look."""
        for shard in sorted(self.folder.glob("shard-*")):
            if shard.name in self._shards_seen:
                continue
            self._shards_seen.add(shard.name)
            try:
                keys = np.load(shard / "keys.npy")
            except (OSError, ValueError) as exc:
                log.warning("ignoring damaged feature shard %s: %s", shard, exc)
                continue
            for row, key in enumerate(keys):
                self._known.setdefault(key.decode(), FeatureLocation(str(self.folder), shard.name, row))

    def write(self, digests: list[str], features: list[PhotoFeatures]) -> list[FeatureLocation]:
        """Store one new shard; where each photo's features now are."""
        name = f"shard-{uuid.uuid4().hex}"
        temporary = self.folder / f".writing-{name}"
        try:
            temporary.mkdir(parents=True)
            for file, array in _shard_arrays(digests, features).items():
                write_atomically(temporary / f"{file}.npy", npy_bytes(array))
            temporary.rename(self.folder / name)  # the shard appears whole, or not at all
            sync_folder(self.folder)
        except OSError as exc:
            shutil.rmtree(temporary, ignore_errors=True)
            raise UserError(f"cannot write the feature cache in {self.folder}: {exc.strerror or exc} "
                            "(free some space, or choose another folder with --cache)") from None
        self._shards_seen.add(name)
        locations = [FeatureLocation(str(self.folder), name, row) for row in range(len(digests))]
        for digest, location in zip(digests, locations):
            self._known.setdefault(digest, location)
        return locations

    def thumbnail(self, location: FeatureLocation) -> Thumbnail:
        arrays = self._arrays(location.shard)
        hashes = arrays["hashes"][location.row]
        return Thumbnail(np.array(arrays["descriptors"][location.row]), int(hashes[0]), int(hashes[1]))

    def local_features(self, location: FeatureLocation, mirrored: bool = False) -> LocalFeatures:
        arrays = self._arrays(location.shard)
        segment = 2 * location.row + int(mirrored)
        start, end = arrays["offsets"][segment : segment + 2]
        height, width = arrays["grey_shapes"][location.row]
        grey = np.array(arrays["grey"][location.row, :height, :width])
        return LocalFeatures(np.array(arrays["points"][start:end]), np.array(arrays["orb"][start:end]),
                             grey[:, ::-1].copy() if mirrored else grey)

    def _arrays(self, shard: str) -> dict[str, np.ndarray]:
        """The shard's arrays, memory-mapped; DamagedShard if they cannot be."""
        if shard in self._open:
            self._open.move_to_end(shard)
            return self._open[shard]
        try:
            arrays = {file: np.load(self.folder / shard / f"{file}.npy", mmap_mode="r") for file in SHARD_FILES}
        except (OSError, ValueError) as exc:
            raise DamagedShard(str(exc)) from None
        rows = len(arrays["keys"])
        if not (len(arrays["descriptors"]) == len(arrays["hashes"]) == len(arrays["grey"]) == rows
                and len(arrays["offsets"]) == 2 * rows + 1 and len(arrays["points"]) == len(arrays["orb"]) == arrays["offsets"][-1]):
            raise DamagedShard("its arrays disagree in length")
        self._open[shard] = arrays
        if len(self._open) > OPEN_SHARDS:
            self._open.popitem(last=False)
        return arrays


@functools.lru_cache(maxsize=8)
def store_at(folder: str) -> FeatureStore:
    """The store whose FORMAT folder is `folder`, opened once per process (worker
    processes get locations, not stores)."""
    return FeatureStore(folder)


def npy_bytes(array: np.ndarray) -> bytes:
    """The .npy file np.save writes for `array`, which np.load can memory-map."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _shard_arrays(digests: list[str], features: list[PhotoFeatures]) -> dict[str, np.ndarray]:
    sides = [local for photo in features for local in (photo.local, photo.mirrored)]
    grey = np.zeros((len(features), GREY_SIDE, GREY_SIDE), np.uint8)
    for row, photo in enumerate(features):
        grey[row, : photo.local.grey.shape[0], : photo.local.grey.shape[1]] = photo.local.grey
    return {
        "keys": np.array(digests, dtype="S64"),
        "descriptors": np.stack([photo.thumbnail.descriptor for photo in features]).astype(np.float32).reshape(-1, DESCRIPTOR_SIZE),
        "hashes": np.array([[photo.thumbnail.perceptual_hash, photo.thumbnail.mirrored_perceptual_hash] for photo in features],
                           np.uint64).reshape(-1, 2),
        "offsets": np.concatenate([[0], np.cumsum([len(side.points) for side in sides])]).astype(np.int64),
        "points": np.concatenate([side.points for side in sides]).astype(np.float32).reshape(-1, 2),
        "orb": np.concatenate([side.descriptors for side in sides]).astype(np.uint8).reshape(-1, 32),
        "grey": grey,
        "grey_shapes": np.array([photo.local.grey.shape for photo in features], np.int16).reshape(-1, 2),
    }
