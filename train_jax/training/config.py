"""The training settings: one typed object, declared once, saved resolved in the run folder.

Every field carries its help text and limits (train_jax/settings.py); `cataract train`
builds its flags from these fields, and tests build TrainConfig directly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from cataract_contract import PRECISION_CHOICES
from train_jax.errors import UserError
from train_jax.files import write_atomically
from train_jax.model.architecture import POOLINGS, check_image_size
from train_jax.recipes import RECIPES
from train_jax.settings import check_settings, setting
from train_jax.training.threshold import DEFAULT_OPERATING_POINT, OPERATING_POINT_HELP, YOUDEN, OperatingPoint

# The learning rates are given for the earlier project's batch of 16.
REFERENCE_BATCH = 16
# On GPUs: 128 photos of 224x224 per device keep an H100 busy in bfloat16 (cataract bench train).
BATCH_PER_ACCELERATOR = 128
MAX_AUTO_WORKERS = 16

# What runs recorded before these settings existed trained with: a constant Adam rate, no
# clipping, Youden's J. Such a run resumes as it trained (and its optimizer state restores).
SETTINGS_BEFORE_RECORDED = {"warmup_epochs": 0.0, "decay": "constant", "clip_norm": 0.0, "operating_point": YOUDEN}

WEIGHT_CHOICES_HELP = (
    "imagenet | none | auto | PATH to a Keras .h5 or torchvision .pth file (auto: ImageNet if available, "
    "else random with a warning)"
)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    data: str = setting(help="dataset folder: DATA/train/{cataract,normal} or DATA/{cataract,normal}")
    out: str = setting(help="run folder to write (config, metrics, checkpoints)")
    # Applied by the command line; recorded here, so RUN/config.json names the recipe.
    recipe: str | None = setting(None, "start from this recipe's settings (see the list below); flags override "
                                       "single settings", choices=tuple(RECIPES))
    weights: str = setting("auto", WEIGHT_CHOICES_HELP)
    image_size: int = setting(224, "square input side, a multiple of 32")
    width: float = setting(1.0, "channel multiplier; 1 is VGG16", minimum=1e-3, maximum=1.0)
    batch_size: int | None = setting(
        None, "global batch over all devices and processes (default: 16 on CPU; on GPUs 128 per GPU, at most "
              "an eighth of the training photos)", minimum=1)
    # Phase 1 trains the head on the frozen base; phase 2 also unfreezes the last blocks.
    head_epochs: int = setting(10, "phase 1 epochs, base frozen", minimum=0)
    finetune_epochs: int = setting(10, "phase 2 epochs, last blocks unfrozen", minimum=0)
    # Adam from a random start is badly conditioned on a frozen VGG's pooled features
    # (train_jax/training/linear_probe.py); the probe starts the head phase at its solution.
    head_init: str = setting("random", "the dense layer at the start of phase 1: random, or a linear probe (a "
                                       "logistic regression fitted on the frozen features, as in LP-FT)",
                             choices=("random", "probe"))
    epochs: int | None = setting(None, "shorthand: set both --head-epochs and --finetune-epochs to this", minimum=0)
    unfreeze_blocks: int = setting(1, "blocks trained in phase 2, counted from the last", minimum=0, maximum=POOLINGS)
    learning_rate: float = setting(1e-4, "peak Adam rate in phase 1, for a batch of 16 (scaled by sqrt(batch/16))",
                                   minimum=1e-12)
    finetune_learning_rate: float = setting(1e-5, "peak Adam rate in phase 2, for a batch of 16 (scaled by "
                                                  "sqrt(batch/16))", minimum=1e-12)
    # A VGG without normalisation layers, from scratch at a constant rate and unclipped,
    # collapsed on some seeds and learned on others; warm-up, cosine decay and clipping
    # learned on every seed measured (train_jax/recipes/demo.py).
    warmup_epochs: float = setting(2.0, "linear learning-rate warm-up from 0 over this many epochs of each phase "
                                        "(at most half the phase)", minimum=0.0)
    decay: str = setting("cosine", "the learning rate over each phase: cosine decay to --final-learning-rate-fraction "
                                   "of the peak, or constant at the peak", choices=("cosine", "constant"))
    final_learning_rate_fraction: float = setting(0.01, "with cosine decay, each phase's last rate as a fraction of "
                                                        "its peak", minimum=0.0, maximum=1.0)
    clip_norm: float = setting(1.0, "clip gradients by global norm; 0: off", minimum=0.0)
    label_smoothing: float = setting(0.1, "label smoothing of the cross-entropy", minimum=0.0, below=1.0)
    dropout: float = setting(0.5, "dropout before the dense layer", minimum=0.0, below=1.0)
    # On a frozen random base, block 4's averages beside block 5's separate the classes
    # better (train_jax/recipes/photos_cpu.py).
    head_blocks: int = setting(1, "the dense layer reads the global averages of this many of the last blocks "
                                  "(1: block 5's only, as VGG16)", minimum=1, maximum=POOLINGS)
    patience: int = setting(3, "early stopping patience in epochs, each phase against its own best", minimum=1)
    validation_fraction: float = setting(0.2, "share of train/ held out for validation", minimum=1e-6, below=1.0)
    # A screening aid must not miss cases: by default the threshold finds 90% of the
    # validation cataracts (`cataract operating-point RUN` chooses again without training).
    operating_point: str = setting(DEFAULT_OPERATING_POINT, OPERATING_POINT_HELP, metavar="RULE")
    seed: int = setting(0, "seed for split, shuffling, augmentation and init")
    augmented_views: int | None = setting(
        None, "run the frozen blocks once for this many augmented views per photo and reuse them (fast on CPU); "
              "0 = fresh augmentation and a full forward pass every step (default: 4 on one CPU process, else 0)",
        minimum=0)
    cache_memory_gb: float = setting(4.0, "memory for those cached views, or, with fresh augmentation, for the "
                                          "photos decoded once (a file on the temporary disk)", minimum=0.0)
    workers: int | None = setting(
        None, "grain worker processes decoding and augmenting photos (0: in-process; default: 0 on CPU, "
              "on GPUs one per four CPU cores)", minimum=0)
    compute_dtype: str = setting("auto", "convolution compute precision; parameters and optimizer state stay "
                                         "float32 (auto: bfloat16 on GPUs, float32 on CPU)",
                                 choices=PRECISION_CHOICES)
    # On a GPU an epoch of a small set trains in a fraction of a second, less than writing
    # and checksumming a 180 MB checkpoint: saving every epoch would set the pace.
    checkpoint_every_seconds: float = setting(0.0, "after an epoch that is neither the best so far nor its phase's "
                                                   "last, save a checkpoint only if this many seconds have passed "
                                                   "since the last one (0: after every epoch); --resume continues "
                                                   "from the last one saved", minimum=0.0)
    log_every: int = setting(20, "steps between reading loss and accuracy back from the devices", minimum=1)
    label_conflicts: str = setting("drop", "photos whose copies carry both labels: drop them all, or keep the label "
                                           "most copies carry", choices=("drop", "majority"))
    allow_leakage: bool = setting(False, "train even though test/ holds copies of training photos "
                                         "(evaluate then reports both scores)")

    def __post_init__(self):
        check_settings(self)
        check_image_size(self.image_size)
        if self.epochs is not None:  # the shorthand, resolved so the run folder records what ran
            object.__setattr__(self, "head_epochs", self.epochs)
            object.__setattr__(self, "finetune_epochs", self.epochs)
            object.__setattr__(self, "epochs", None)
        object.__setattr__(self, "operating_point", OperatingPoint.parse(self.operating_point).text)
        if self.head_epochs + self.finetune_epochs == 0:
            raise UserError("--head-epochs and --finetune-epochs must not both be 0")

    def resolved(self, platform: str, device_count: int, process_count: int, cpu_count: int,
                 train_count: int) -> "TrainConfig":
        """The settings with every "auto" decided for these devices; what the run records."""
        accelerated = platform != "cpu"
        batch = self.batch_size
        if batch is None:
            batch = 16
            if accelerated:  # fill the GPUs, but keep enough steps per epoch to learn from
                per_device = max(1, min(BATCH_PER_ACCELERATOR, train_count // (8 * device_count)))
                batch = per_device * device_count
        views = self.augmented_views
        if views is None:
            views = 4 if not accelerated and process_count == 1 else 0
        workers = self.workers
        if workers is None:
            # Each worker reads with two threads and releases the lock while augmenting;
            # `cataract bench input` on an H200 host's 16 cores, photos decoded once:
            # 4 workers 4105 photos/s, 8 workers 3466, 16 workers 3118.
            workers = max(1, min(MAX_AUTO_WORKERS, cpu_count // 4)) if accelerated else 0
        return dataclasses.replace(self, batch_size=batch, augmented_views=views, workers=workers,
                                   compute_dtype=resolve_compute_dtype(self.compute_dtype, platform))

    def learning_rates(self) -> tuple[float, float]:
        """Both phases' peak Adam rates at this batch: square-root scaling from the batch of
        16 they are given for (Malladi et al. 2022, the scaling rule for adaptive optimisers)."""
        scale = math.sqrt(self.batch_size / REFERENCE_BATCH)
        return self.learning_rate * scale, self.finetune_learning_rate * scale

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{**SETTINGS_BEFORE_RECORDED, **{key: value for key, value in values.items() if key in known}})


def resolve_compute_dtype(requested: str, platform: str) -> str:
    """The compute precision one of PRECISION_CHOICES asks for on a JAX platform ("cpu",
    "gpu", "tpu"): "auto" is bfloat16 on accelerators, whose matrix units run it at full
    rate, and float32 on CPU. Training and the benchmarks all decide it here."""
    if requested != "auto":
        return requested
    return "bfloat16" if platform != "cpu" else "float32"


def write_json(path: Path, values: Any) -> None:
    """Write JSON atomically, so an interrupted run never leaves half a file."""
    write_atomically(path, (json.dumps(values, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path) -> dict[str, Any]:
    """A run folder's JSON object; a missing, damaged or hand-edited file is a UserError
    naming it, never a traceback."""
    try:
        values = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path} is missing: the run folder is incomplete") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path} cannot be read as JSON ({error}): the file is damaged; restore it, "
                        "or train the run again") from None
    if not isinstance(values, dict):
        raise UserError(f"{path} holds a JSON {type(values).__name__}, not the object it was written as: "
                        "the file is damaged; restore it, or train the run again")
    return values


# A Kubernetes indexed Job gives each pod its index here: the process id.
KUBERNETES_INDEX = "JOB_COMPLETION_INDEX"


@dataclasses.dataclass(frozen=True)
class ClusterConfig:
    coordinator: str | None = setting(
        None, "HOST:PORT where process 0 runs the coordinator, to train on several processes or machines "
              "(not needed under Slurm or Open MPI, which JAX reads itself)")
    num_processes: int | None = setting(None, "how many processes train together (with --coordinator)", minimum=1)
    process_id: int | None = setting(
        None, f"this process's rank, 0 to N-1 (with --coordinator; default: ${KUBERNETES_INDEX} in a Kubernetes "
              "indexed Job)", minimum=0)

    def __post_init__(self):
        check_settings(self)
