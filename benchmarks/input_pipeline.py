"""`cataract bench input`: the training input pipeline alone, in images/s.

Reads, decodes, resizes and freshly augments real photos into batches, exactly as a
training epoch without the feature cache does (data/pipeline.py), with no device in the
way: the rate the GPUs can be fed at, for each number of grain worker processes, from the
photo files and from the photos decoded once (DecodedPhotos, what training uses).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks.timing import device_description
from train_jax.data.augment import AugmentConfig
from train_jax.data.decoded import DecodedPhotos
from train_jax.data.pipeline import epoch_batches
from train_jax.data.scan import discover
from train_jax.errors import UserError
from benchmarks.configs import InputBenchConfig


def run_input_benchmark(config: InputBenchConfig) -> dict:
    records = discover(config.data)["train"]
    if len(records) < config.batch_size:
        raise UserError(f"{config.data} has {len(records)} training photos, fewer than a batch of {config.batch_size}")
    counts = config.worker_counts or [0, min(16, os.cpu_count() or 1)]
    print(f"input pipeline, images/s | {len(records)} photos of {config.data}, {config.image_size}x{config.image_size}, "
          f"batch {config.batch_size}, fresh augmentation | {device_description()}")
    epochs = max(1, -(-config.images // len(records)))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        decoded = DecodedPhotos.build(records, config.image_size, Path(folder) / "decoded.npy",
                                      epoch_batches(records, image_size=config.image_size, batch_size=config.batch_size,
                                                    workers=counts[-1]))
        print(f"  decoding the {len(records)} photos once: {len(records) / (time.perf_counter() - started):.1f} images/s")
        figures = []
        for workers in counts:
            for source, pixels in (("photos decoded every epoch", None), ("photos decoded once", decoded)):
                started, images = time.perf_counter(), 0
                for batch in epoch_batches(records, image_size=config.image_size, batch_size=config.batch_size, seed=0,
                                           epochs=range(epochs), shuffle=True, augment_config=AugmentConfig(),
                                           drop_remainder=True, workers=workers, decoded=pixels):
                    images += len(batch["label"])
                rate = images / (time.perf_counter() - started)
                figures.append({"workers": workers, "source": source, "images_per_second": rate, "images": images})
                print(f"  {workers:2d} workers, {source:27s}: {rate:8.1f} images/s")
    print(f"  ({epochs} epochs of fresh augmentation each, timed from the pipeline's start: worker start-up included)")
    report = {"device": device_description(), "photos": len(records), "figures": figures}
    return report
