"""Photos decoded and resized once, kept as one uint8 array on disk (memory-mapped).

Fresh augmentation every epoch needs every photo's pixels every epoch; decoding a JPEG
and resizing it cost about three times what augmenting costs (cataract bench input). So
training with fresh augmentation decodes each photo once, into a file on the machine's
temporary disk, and its epochs read pixels from there: grain's workers then only
augment, and keep ahead of the devices. The file is written whole before it is renamed
into place, so a killed run never leaves half of one; a resumed run reuses it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from train_jax.data.scan import ImageRecord

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DecodedPhotos:
    """uint8 (count, size, size, 3) pixels and int32 labels of a list of photos, in order.
    Holds only the file's path, so grain can send it to worker processes."""

    path: Path
    count: int
    image_size: int
    labels: tuple[int, ...]

    @staticmethod
    def bytes_needed(count: int, image_size: int) -> int:
        return count * image_size * image_size * 3

    @classmethod
    def build(cls, records: list[ImageRecord], image_size: int, path: Path, batches) -> "DecodedPhotos":
        """Write the photos' pixels, from `batches` (the records' batches in order, as the
        input pipeline makes them), unless a complete file of the right shape is there."""
        shape = (len(records), image_size, image_size, 3)
        decoded = cls(path, len(records), image_size, tuple(record.label for record in records))
        if path.is_file() and np.load(path, mmap_mode="r").shape == shape:
            log.info("reusing the decoded photos in %s", path)
            return decoded
        log.info("decoding %d photos once into %s (%.2f GiB)", len(records), path, cls.bytes_needed(*shape[:2]) / 2**30)
        partial = path.with_suffix(f".{os.getpid()}.partial.npy")  # processes sharing a disk write apart
        pixels = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=shape)
        start = 0
        for batch in tqdm(batches, desc="decoding photos once", unit="batch", leave=False):
            pixels[start : start + len(batch["image"])] = batch["image"]
            start += len(batch["image"])
        if start != len(records):
            raise RuntimeError(f"decoded {start} photos of {len(records)}")
        pixels.flush()
        del pixels
        partial.replace(path)
        return decoded

    def pixels_of(self, indices: list[int]) -> np.ndarray:
        """The photos' pixels, copied out of the file: (len(indices), size, size, 3)."""
        return self._array()[np.asarray(indices)]

    def _array(self) -> np.ndarray:
        # Opened lazily in each process that reads it (grain workers included), read-only.
        array = getattr(self, "_mapped", None)
        if array is None:
            array = np.load(self.path, mmap_mode="r")
            object.__setattr__(self, "_mapped", array)
        return array

    def __getstate__(self):  # the mapping stays behind: workers map the file themselves
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    def __setstate__(self, state):
        for name, value in state.items():
            object.__setattr__(self, name, value)
