"""grain input pipelines: decode -> shared resize -> (train only) augmentation -> batches.

Every random draw comes from grain's per-record generators seeded from (seed, epoch),
so an epoch's batches are the same whatever the number of worker processes, and a
resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import grain
import numpy as np
from absl import flags

from cataract_contract import decode_image, read_image_bytes, resize_for_model
from train_jax.data.augment import AugmentConfig, augment
from train_jax.data.scan import ImageRecord


@dataclasses.dataclass(frozen=True)
class LoadImage(grain.transforms.Map):
    """Record -> {"image": uint8 (size, size, 3), "label": int32}."""

    image_size: int

    def map(self, record: ImageRecord) -> dict[str, np.ndarray]:
        image = decode_image(read_image_bytes(record.path))
        return {
            "image": resize_for_model(image, self.image_size),
            "label": np.int32(record.label),
        }


@dataclasses.dataclass(frozen=True)
class Augment(grain.transforms.RandomMap):
    config: AugmentConfig = AugmentConfig()

    def random_map(self, example: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {**example, "image": augment(example["image"], rng, self.config)}


def epoch_batches(
    records: list[ImageRecord],
    *,
    image_size: int,
    batch_size: int,
    seed: int = 0,
    epoch: int = 0,
    shuffle: bool = False,
    augment_config: AugmentConfig | None = None,
    drop_remainder: bool = False,
    workers: int = 0,
) -> Iterator[dict[str, np.ndarray]]:
    """One epoch of batches. Training shuffles, augments and drops the last partial
    batch (so every step has one shape); evaluation keeps order and every record."""
    dataset = grain.MapDataset.source(records)
    if shuffle:
        dataset = dataset.shuffle(seed=_epoch_seed(seed, epoch))
    dataset = dataset.map(LoadImage(image_size))
    if augment_config is not None:
        dataset = dataset.random_map(Augment(augment_config), seed=_epoch_seed(seed, epoch) + 1)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    iterable = dataset.to_iter_dataset()
    if workers > 0:
        # grain's workers read absl flags, which only absl.app parses; take the defaults.
        if not flags.FLAGS.is_parsed():
            flags.FLAGS.mark_as_parsed()
        iterable = iterable.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
    return iter(iterable)


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % (2**31)


def batch_count(record_count: int, batch_size: int, drop_remainder: bool) -> int:
    return record_count // batch_size if drop_remainder else -(-record_count // batch_size)
