"""The benchmarks' settings, declared once (the command line builds its flags from them;
where a benchmark writes its figures and which model repository it serves are settings of
the command, cataract_cli/options.py). Light to import: no framework is loaded until a
benchmark runs."""

from __future__ import annotations

import dataclasses

from cataract_contract import PRECISION_CHOICES, PRECISIONS
from train_jax.errors import UserError
from train_jax.model.architecture import check_image_size
from train_jax.settings import check_settings, setting

PHOTOS_HELP = "folder of photos to send (searched recursively; up to 64 used)"


def integers(flag: str, text: str | None, minimum: int) -> list[int] | None:
    """A flag's comma-separated integers, each at least `minimum` (None stays None); a typo
    is a UserError naming the flag before anything runs."""
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdecimal() and part.isascii() and int(part) >= minimum for part in parts):
        raise UserError(f"{flag} takes comma-separated integers >= {minimum}, got {text!r}")
    return [int(part) for part in parts]


@dataclasses.dataclass(frozen=True)
class TrainBenchConfig:
    image_size: int | None = setting(None, "square input side (default: 224 on GPUs, 64 on CPU)")
    batch_sizes: str | None = setting(None, "comma-separated batches of the all-layers step (default: 64,256 on "
                                            "GPUs, 32 on CPU); the recipe's phases use the largest, as does "
                                            "--end-to-end (default: the batch `cataract train` chooses for --data)")
    compute_dtype: str = setting("auto", "compute precision (auto: bfloat16 on GPUs, float32 on CPU)",
                                 choices=PRECISION_CHOICES)
    steps: int = setting(10, "timed steps per figure", minimum=1)
    photos: int = setting(256, "photos per epoch of the CPU recipe end to end", minimum=1)
    epochs: int = setting(4, "epochs per phase of the CPU recipe end to end", minimum=1)
    augmented_views: int = setting(4, "frozen-feature views of the CPU recipe end to end", minimum=1)
    skip_keras: bool = setting(False, "JAX figures only (Keras runs only on CPU, where TensorFlow is installed)")
    width: float = setting(1.0, "channel multiplier of the VGG16 timed; 1 is VGG16", minimum=1e-3, maximum=1.0)
    end_to_end: bool = setting(False, "instead: each recipe phase and the all-layers step fed from the photos in "
                                      "--data through the training input pipeline (augmentation on the devices), "
                                      "beside the same step fed photos already on the device")
    data: str | None = setting(None, "dataset folder of --end-to-end (its train/ split is read)")
    workers: int | None = setting(None, "grain worker processes of --end-to-end (default: as `cataract train` "
                                        "chooses)", minimum=0)

    def __post_init__(self):
        check_settings(self)
        self.batches  # noqa: B018  (parsed once here, so a typo fails before anything runs)
        if self.end_to_end and self.data is None:
            raise UserError("--end-to-end reads photos: give --data DIR")

    @property
    def batches(self) -> list[int] | None:
        return integers("--batch-sizes", self.batch_sizes, 1)


@dataclasses.dataclass(frozen=True)
class InferenceBenchConfig:
    image_size: int = setting(224, "square input side")
    batch_sizes: str = setting("1,8,64,256", "comma-separated batch sizes")
    compute_dtype: str = setting("auto", "compute precision (auto: bfloat16 on GPUs, float32 on CPU)",
                                 choices=PRECISION_CHOICES)
    steps: int = setting(20, "timed calls per batch size", minimum=1)

    def __post_init__(self):
        check_settings(self)
        check_image_size(self.image_size)
        self.batches  # noqa: B018  (parsed here, so a typo fails before anything runs)

    @property
    def batches(self) -> list[int]:
        return integers("--batch-sizes", self.batch_sizes, 1)


@dataclasses.dataclass(frozen=True)
class InputBenchConfig:
    data: str = setting(help="dataset folder (its train/ split is read)")
    image_size: int = setting(224, "square output side")
    batch_size: int = setting(64, "photos per batch", minimum=1)
    workers: str | None = setting(None, "comma-separated worker counts to compare (default: 0 and one per CPU core up to 16)")
    images: int = setting(20_000, "images read per worker count (the photos are read epoch after epoch), so "
                                   "that starting the workers and filling their buffers weigh little", minimum=1)

    def __post_init__(self):
        check_settings(self)
        self.worker_counts  # noqa: B018  (parsed here, so a typo fails before anything runs)

    @property
    def worker_counts(self) -> list[int] | None:
        return integers("--workers", self.workers, 0)


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

    def __post_init__(self):
        check_settings(self)


@dataclasses.dataclass(frozen=True)
class ServeBenchConfig:
    photos: str = setting(help=PHOTOS_HELP)
    concurrency: str = setting("1,4,8,16", "comma-separated levels of requests in flight")
    seconds: float = setting(20.0, "seconds per level", above=0)
    skip_reference: bool = setting(False, "Triton and in-process figures only")

    def __post_init__(self):
        check_settings(self)
        self.levels  # noqa: B018  (parsed here, so a typo fails before anything runs)

    @property
    def levels(self) -> list[int]:
        return integers("--concurrency", self.concurrency, 1)


def concurrency_setting(default: int) -> int:
    return setting(default, "requests kept in flight", minimum=1)


def seconds_setting(default: float) -> float:
    return setting(default, "seconds of load after the warm-up", above=0)


@dataclasses.dataclass(frozen=True)
class SoakBenchConfig:
    photos: str = setting(help=PHOTOS_HELP)
    concurrency: int = concurrency_setting(16)
    seconds: float = seconds_setting(600.0)
    max_memory_growth: float = setting(0.10, "allowed growth of the server's resident memory after warm-up, "
                                             "as a share", minimum=0)

    def __post_init__(self):
        check_settings(self)


@dataclasses.dataclass(frozen=True)
class OverloadBenchConfig:
    photos: str = setting(help=PHOTOS_HELP)
    concurrency: int = concurrency_setting(64)
    seconds: float = seconds_setting(120.0)
    busy_pause: float = setting(0.1, "seconds a refused sender waits before its next request, like a client "
                                     "backing off", minimum=0)

    def __post_init__(self):
        check_settings(self)


@dataclasses.dataclass(frozen=True)
class GradabilityBenchConfig:
    run: str = setting(help="run folder written by `cataract train`, with its gradability gate")
    per_kind: int = setting(50, "pictures drawn per drawn kind (the eye-derived kinds take one per validation "
                                "photo)", minimum=1)
    seed: int = setting(0, "random seed of the drawn pictures")
    cost: bool = setting(False, "also time the exported classifier without and with the gate (in-process, "
                                "interleaved): the gate's serving cost")
    rounds: int = setting(20, "rounds of the serving cost: each times both SavedModels", minimum=1)
    calls_per_round: int = setting(3, "calls of each SavedModel per round of the serving cost", minimum=1)
    cost_batch: int = setting(8, "photos per call of the serving cost", minimum=1)
    cost_precision: str = setting("float32", "precision of the serving cost's SavedModels (the server runs the one "
                                             "export chose)", choices=PRECISIONS)

    def __post_init__(self):
        check_settings(self)
