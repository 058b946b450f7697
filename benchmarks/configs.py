"""The benchmarks' settings, declared once (the command line builds its flags from them).
Light to import: no framework is loaded until a benchmark runs."""

from __future__ import annotations

import dataclasses

from train_jax.model.architecture import check_image_size
from train_jax.settings import check_settings, setting


@dataclasses.dataclass(frozen=True)
class TrainBenchConfig:
    image_size: int | None = setting(None, "square input side (default: 224 on GPUs, 64 on CPU)")
    batch_sizes: str | None = setting(None, "comma-separated batches of the all-layers step (default: 64,256 on "
                                            "GPUs, 32 on CPU); the recipe's phases use the largest")
    compute_dtype: str = setting("auto", "compute precision (auto: bfloat16 on GPUs, float32 on CPU)",
                                 choices=("auto", "float32", "bfloat16"))
    steps: int = setting(10, "timed steps per figure", minimum=1)
    photos: int = setting(256, "photos per epoch of the CPU recipe end to end", minimum=1)
    epochs: int = setting(4, "epochs per phase of the CPU recipe end to end", minimum=1)
    augmented_views: int = setting(4, "frozen-feature views of the CPU recipe end to end", minimum=1)
    skip_keras: bool = setting(False, "JAX figures only (Keras runs only on CPU, where TensorFlow is installed)")
    json: str | None = setting(None, "also write the figures to this JSON file")

    def __post_init__(self):
        check_settings(self)


@dataclasses.dataclass(frozen=True)
class InferenceBenchConfig:
    image_size: int = setting(224, "square input side")
    batch_sizes: str = setting("1,8,64,256", "comma-separated batch sizes")
    compute_dtype: str = setting("auto", "compute precision (auto: bfloat16 on GPUs, float32 on CPU)",
                                 choices=("auto", "float32", "bfloat16"))
    steps: int = setting(20, "timed calls per batch size", minimum=1)
    json: str | None = setting(None, "also write the figures to this JSON file")

    def __post_init__(self):
        check_settings(self)
        check_image_size(self.image_size)


@dataclasses.dataclass(frozen=True)
class InputBenchConfig:
    data: str = setting(help="dataset folder (its train/ split is read)")
    image_size: int = setting(224, "square output side")
    batch_size: int = setting(64, "photos per batch", minimum=1)
    workers: str | None = setting(None, "comma-separated worker counts to compare (default: 0 and one per CPU core up to 16)")
    images: int = setting(20_000, "images read per worker count (the photos are read epoch after epoch), so "
                                   "that starting the workers and filling their buffers weigh little", minimum=1)
    json: str | None = setting(None, "also write the figures to this JSON file")

    def __post_init__(self):
        check_settings(self)


@dataclasses.dataclass(frozen=True)
class AuditBenchConfig:
    n: int = setting(2000, "photos in the synthetic collection, planted copies and look-alikes included", minimum=50)
    seed: int = setting(0, "random seed of the collection")
    photo_height: int = setting(1024, "photo height in pixels (drawn at most 256 high, then enlarged: reading and "
                                      "decoding cost what a real photo of that size costs)", minimum=32)
    copy_share: float = setting(0.1, "share of the photos that are planted copies, equally many of each kind", minimum=0, below=0.5)
    look_alike_share: float = setting(0.05, "share of the photos that are look-alikes of others (not copies)", minimum=0, below=0.5)
    workers: int | None = setting(None, "worker processes (default: one per CPU core)", minimum=0)
    collection: str | None = setting(None, "keep the collection in this folder and reuse it when it holds the same one "
                                           "(default: a temporary folder, drawn anew)")
    extrapolate_to: int = setting(100_000, "photos to extrapolate the measured stage rates to", minimum=1)
    json: str | None = setting(None, "also write the figures to this JSON file")

    def __post_init__(self):
        check_settings(self)
