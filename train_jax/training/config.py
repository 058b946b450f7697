"""The training settings: one typed object, declared once, saved resolved in the run folder.

Every field carries its help text and limits (train_jax/settings.py); `cataract train`
builds its flags from these fields, and tests build TrainConfig directly.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from train_jax.errors import UserError
from train_jax.model.vgg16 import POOLINGS, check_image_size
from train_jax.settings import check_settings, setting

WEIGHT_CHOICES_HELP = (
    "imagenet | none | auto | PATH to a Keras .h5 or torchvision .pth file (auto: ImageNet if available, "
    "else random with a warning)"
)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    data: str = setting(help="dataset folder: DATA/train/{cataract,normal} or DATA/{cataract,normal}")
    out: str = setting(help="run folder to write (config, metrics, checkpoints)")
    weights: str = setting("auto", WEIGHT_CHOICES_HELP)
    image_size: int = setting(224, "square input side, a multiple of 32")
    width: float = setting(1.0, "channel multiplier; 1 is VGG16", minimum=1e-3, maximum=1.0)
    batch_size: int = setting(16, "batch size over all devices", minimum=1)
    # Phase 1 trains the head on the frozen base; phase 2 also unfreezes the last blocks.
    head_epochs: int = setting(10, "phase 1 epochs, base frozen", minimum=0)
    finetune_epochs: int = setting(10, "phase 2 epochs, last blocks unfrozen", minimum=0)
    epochs: int | None = setting(None, "shorthand: set both --head-epochs and --finetune-epochs to this", minimum=0)
    unfreeze_blocks: int = setting(1, "blocks trained in phase 2, counted from the last", minimum=0, maximum=POOLINGS)
    learning_rate: float = setting(1e-4, "Adam rate in phase 1", minimum=1e-12)
    finetune_learning_rate: float = setting(1e-5, "Adam rate in phase 2", minimum=1e-12)
    label_smoothing: float = setting(0.1, "label smoothing of the cross-entropy", minimum=0.0, below=1.0)
    dropout: float = setting(0.5, "dropout before the dense layer", minimum=0.0, below=1.0)
    patience: int = setting(3, "early stopping patience in epochs", minimum=1)
    validation_fraction: float = setting(0.2, "share of train/ held out for validation", minimum=1e-6, below=1.0)
    seed: int = setting(0, "seed for split, shuffling, augmentation and init")
    augmented_views: int = setting(
        4, "run the frozen blocks once for this many augmented views per photo and reuse them (fast on CPU); "
           "0 = fresh augmentation and a full forward pass every step", minimum=0)
    cache_memory_gb: float = setting(4.0, "memory limit for those cached views", minimum=0.0)
    workers: int = setting(0, "grain worker processes for decoding (0: in-process)", minimum=0)
    compute_dtype: str = setting("float32", "convolution compute precision (bfloat16 pays on GPUs)",
                                 choices=("float32", "bfloat16"))
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
        if self.head_epochs + self.finetune_epochs == 0:
            raise UserError("--head-epochs and --finetune-epochs must not both be 0")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


def write_json(path: Path, values: Any) -> None:
    """Write JSON atomically, so an interrupted run never leaves half a file."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")
    temporary.replace(path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
