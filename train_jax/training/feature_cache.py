"""Activations of the always-frozen blocks, computed once per photo and view, reused
across epochs: on a CPU this turns an epoch into a pass over the last block only."""

from __future__ import annotations

import logging
from typing import Iterator

import numpy as np
from flax import nnx
from tqdm import tqdm

from train_jax.data.augment import AugmentConfig
from train_jax.data.pipeline import batch_count, epoch_batches
from train_jax.data.scan import ImageRecord
from train_jax.errors import UserError
from train_jax.model.vgg16 import VGG16
from train_jax.training.config import TrainConfig
from train_jax.training.parallel import DataParallel
from train_jax.training.predict import pad_batch
from train_jax.training.steps import make_frozen_features

log = logging.getLogger(__name__)

# Augmented views draw from epochs numbered apart from the training epochs'.
VIEW_EPOCH_BASE = 10_000


class FrozenFeatureCache:
    """Activations entering block `cache_block`, computed once: `views` augmented views of
    every training photo and one plain view of every validation photo.

    Blocks before `cache_block` are frozen in both phases, so their output for a given
    input never changes: computing it once per view and reusing it across epochs is
    exact. Epochs then pick one of each photo's views at random, which trades fresh
    augmentation every epoch for a fixed pool of `views` augmentations per photo.
    """

    def __init__(self, train: np.ndarray, validation: np.ndarray):
        self.train = train  # (views, photos, h, w, c)
        self.validation = validation  # (photos, h, w, c)

    @staticmethod
    def bytes_needed(config: TrainConfig, model: VGG16, cache_block: int, train_count: int, validation_count: int) -> int:
        side = config.image_size // 2**cache_block
        channels = model.config.block_channels()[cache_block - 1]
        return 4 * side * side * channels * (config.augmented_views * train_count + validation_count)

    @classmethod
    def build(cls, config: TrainConfig, model: VGG16, cache_block: int, parallel: DataParallel,
              train_records: list[ImageRecord], validation_records: list[ImageRecord]) -> "FrozenFeatureCache":
        needed = cls.bytes_needed(config, model, cache_block, len(train_records), len(validation_records))
        if needed > config.cache_memory_gb * 2**30:
            raise UserError(
                f"caching frozen features needs {needed / 2**30:.1f} GiB, over --cache-memory-gb {config.cache_memory_gb}: "
                "raise it, lower --augmented-views, or pass --augmented-views 0"
            )
        log.info(
            "running frozen blocks 1-%d once: %d augmented views of %d photos + %d validation photos (%.2f GiB)",
            cache_block, config.augmented_views, len(train_records), len(validation_records), needed / 2**30,
        )
        graphdef, model_state = nnx.split(model, nnx.Param)
        frozen_features = make_frozen_features(graphdef, cache_block)
        model_state = parallel.replicate(model_state)

        def run(records, epochs, augment_config, description):
            """The frozen blocks' output for every record of every epoch, in that order."""
            chunks = []
            batches = epoch_batches(
                records, image_size=config.image_size, batch_size=config.batch_size, seed=config.seed,
                epochs=epochs, augment_config=augment_config, workers=config.workers,
            )
            total = batch_count(len(records) * len(epochs), config.batch_size, drop_remainder=False)
            for batch in tqdm(batches, total=total, desc=description, unit="batch", leave=False):
                count = len(batch["image"])
                images = parallel.shard(pad_batch(batch["image"], config.batch_size))
                chunks.append(np.asarray(frozen_features(model_state, images))[:count])
            return np.concatenate(chunks)

        # Each augmented view is an epoch of its own seed, all from one pipeline.
        view_epochs = [VIEW_EPOCH_BASE + view for view in range(config.augmented_views)]
        views = run(train_records, view_epochs, AugmentConfig(), f"frozen blocks, {config.augmented_views} augmented views")
        views = views.reshape(config.augmented_views, len(train_records), *views.shape[1:])
        validation = run(validation_records, [0], None, "frozen blocks, validation")
        return cls(views, validation)

    def epoch_batches(self, labels: np.ndarray, batch_size: int, seed: int, epoch: int) -> Iterator[dict[str, np.ndarray]]:
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(labels))
        view_of_photo = rng.integers(len(self.train), size=len(labels))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            photos = order[start : start + batch_size]
            yield {"image": self.train[view_of_photo[photos], photos], "label": labels[photos]}
