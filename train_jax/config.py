"""The training configuration: one small typed object, saved resolved in the run folder."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from train_jax.model import ModelConfig


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    data: str
    out: str
    weights: str = "auto"
    image_size: int = 224
    width: float = 1.0
    batch_size: int = 16
    # Phase 1 trains the head on the frozen base; phase 2 also unfreezes the last blocks.
    head_epochs: int = 10
    finetune_epochs: int = 10
    unfreeze_blocks: int = 1
    learning_rate: float = 1e-4
    finetune_learning_rate: float = 1e-5
    label_smoothing: float = 0.1
    dropout: float = 0.5
    patience: int = 3
    validation_fraction: float = 0.2
    seed: int = 0
    # >0: the frozen blocks run once per image for this many augmented views, reused
    # across epochs; 0: fresh augmentation and a full forward pass every step.
    augmented_views: int = 4
    cache_memory_gb: float = 4.0
    workers: int = 0
    compute_dtype: str = "float32"
    # What to do with a photo whose copies carry both labels: "drop" or "majority".
    label_conflicts: str = "drop"
    # Train although test/ holds copies of training photos (evaluation then reports both scores).
    allow_leakage: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


def model_config_from_json(values: dict[str, Any]) -> ModelConfig:
    return ModelConfig(**values)


def write_json(path: Path, values: Any) -> None:
    """Write JSON atomically, so an interrupted run never leaves half a file."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")
    temporary.replace(path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
