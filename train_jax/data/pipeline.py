"""grain input pipelines: decode -> shared resize -> (train only) augmentation -> batches.

An epoch's order and every augmentation are drawn from (seed, epoch, position of the
photo in the epoch's global order), never from which process or worker decodes it. So
an epoch's global batches are the same whatever the number of worker processes or of
training processes, and a resumed run sees exactly the batches it would have seen.
Several consecutive epochs can come from one pipeline, so its worker processes start once.
With `augment_on_device`, the pipeline only draws each photo's augmentation and ships it
beside the unaugmented photo; the training step applies it (data/device_augment.py).

With several training processes, process p of P reads rows [p*B/P, (p+1)*B/P) of every
global batch of B: the global batch assembled from the processes' rows is the one-process
batch, row for row. (Striding the photos over processes, as grain's ShardByJaxProcess
does, would hold the same photos per batch but in another row order, so each photo would
meet another dropout mask than in a one-process run.)
"""

from __future__ import annotations

import dataclasses
from typing import Iterator, Sequence

import grain
import numpy as np
from absl import flags

from cataract_contract import decode_image, read_image_bytes, resize_for_model
from train_jax.data.augment import AugmentConfig, apply_augmentation, draw_augmentation
from train_jax.data.decoded import DecodedPhotos
from train_jax.data.scan import ImageRecord

# Batches each worker process prepares ahead, so decoding never waits on the devices.
PREFETCH_BATCHES_PER_WORKER = 4
# Reading threads in each worker process: decoding and augmenting release Python's lock,
# but dozens of threads in each of many workers would only fight over the cores.
READ_THREADS_PER_WORKER = 2
# A batch's drawn augmentation, beside "image" and "label", with augment_on_device.
AUGMENTATION_KEYS = ("output_to_input", "brightness")


Item = tuple[int, int, int, ImageRecord]  # (epoch, position in the epoch's order, record index, record)


@dataclasses.dataclass(frozen=True)
class LoadBatch(grain.transforms.Map):
    """A batch's items -> {"image": uint8 (n, size, size, 3), "label": int32 (n,)}: each
    record's photo decoded and resized, or its pixels taken from `decoded`, then augmented
    with a generator seeded by (seed, epoch, position) when `augment_config` is given.
    With `augment_on_device` the photos stay as decoded and the batch also holds each
    one's drawn augmentation: "output_to_input" float32 (n, 2, 3), "brightness" float32 (n,).
    Whole batches per call keep grain's per-element bookkeeping off the hot path."""

    image_size: int
    augment_config: AugmentConfig | None = None
    seed: int = 0
    decoded: DecodedPhotos | None = None
    augment_on_device: bool = False

    def map(self, items: list[Item]) -> dict[str, np.ndarray]:
        if self.decoded is not None:
            images = self.decoded.pixels_of([index for _, _, index, _ in items])  # one read, a copy
        else:
            images = np.stack([resize_for_model(decode_image(read_image_bytes(record.path)), self.image_size)
                               for *_, record in items])
        batch = {"image": images, "label": np.array([record.label for *_, record in items], np.int32)}
        if self.augment_config is None:
            return batch
        draws = [draw_augmentation(np.random.default_rng([self.seed, epoch, position]), self.augment_config)
                 for epoch, position, _, _ in items]
        if self.augment_on_device:
            output_to_input = np.stack([draw.output_to_input(*images.shape[1:3]) for draw in draws]).astype(np.float32)
            batch.update(zip(AUGMENTATION_KEYS, (output_to_input, np.array([draw.brightness for draw in draws], np.float32))))
        else:
            for row, draw in enumerate(draws):
                images[row] = apply_augmentation(images[row], draw)
        return batch


def shard_positions(count: int, batch_size: int, drop_remainder: bool, shard: tuple[int, int]) -> list[int]:
    """Positions in the epoch's order that shard `index` of `shards` reads: its rows of
    every global batch."""
    index, shards = shard
    if batch_size % shards:
        raise ValueError(f"a batch of {batch_size} does not split over {shards} processes")
    if shards > 1 and not drop_remainder:
        raise ValueError("several processes read whole batches only (drop_remainder)")
    rows = batch_size // shards
    steps = count // batch_size if drop_remainder else -(-count // batch_size)
    starts = (step * batch_size + index * rows for step in range(steps))
    return [position for start in starts for position in range(start, min(start + rows, count))]


def epoch_batches(
    records: list[ImageRecord],
    *,
    image_size: int,
    batch_size: int,
    seed: int = 0,
    epochs: Sequence[int] = (0,),
    shuffle: bool = False,
    augment_config: AugmentConfig | None = None,
    drop_remainder: bool = False,
    workers: int = 0,
    shard: tuple[int, int] = (0, 1),
    decoded: DecodedPhotos | None = None,
    augment_on_device: bool = False,
) -> Iterator[dict[str, np.ndarray]]:
    """The batches of `epochs`, one after the other: this shard's rows (batch_size / shards
    per batch). Training shuffles, augments and drops each epoch's last partial batch (so
    every step has one shape and no batch spans two epochs); evaluation keeps order and
    every record (then a batch can span two epochs: the photos come in epoch order).
    With `decoded` (the records' pixels, in the records' order), nothing is decoded. With
    `augment_on_device`, augmentation is drawn here and applied by the training step."""
    positions = shard_positions(len(records), batch_size, drop_remainder, shard)
    items = []
    for epoch in epochs:
        order = np.random.default_rng([seed, epoch]).permutation(len(records)) if shuffle else np.arange(len(records))
        items += [(epoch, position, order[position], records[order[position]]) for position in positions]
    rows = batch_size // shard[1]  # positions already hold whole batches when dropping the remainder
    batches = [items[start : start + rows] for start in range(0, len(items), rows)]
    dataset = grain.MapDataset.source(batches).map(LoadBatch(image_size, augment_config, seed, decoded, augment_on_device))
    if workers == 0:
        iterable = dataset.to_iter_dataset()  # grain's default: a pool of reading threads
    else:
        iterable = dataset.to_iter_dataset(grain.ReadOptions(num_threads=READ_THREADS_PER_WORKER))
        # grain's workers read absl flags, which only absl.app parses; take the defaults.
        if not flags.FLAGS.is_parsed():
            flags.FLAGS.mark_as_parsed()
        options = grain.MultiprocessingOptions(num_workers=workers, per_worker_buffer_size=PREFETCH_BATCHES_PER_WORKER)
        iterable = iterable.mp_prefetch(options)
    return iter(iterable)


def batch_count(record_count: int, batch_size: int, drop_remainder: bool) -> int:
    return record_count // batch_size if drop_remainder else -(-record_count // batch_size)
