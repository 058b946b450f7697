"""The gradability gate of one run, as fitted when training ended: RUN/gradability.json
(the limits, the method, what validation measured) and RUN/gradability.npz (the feature
and colour statistics, and each training and validation photo's measures, so the limits can be
refitted at another quantile, and validated again, without training again).

The gate's measures and the order of its checks are the contract's (cataract_contract,
"gradability"); the not-an-eye check's features are defined here:
    features  the global average of the ReLU output of each block in `feature_blocks`
              (1-based VGG16 blocks, after their max pooling), concatenated in that order
    logged    log(features + feature_floor); a gate fitted before the floor existed
              (feature_floor None) takes the features as they are
    z         (logged - feature_shift) / feature_scale
    distance  min over classes c of (z - class_means[c]) . precision . (z - class_means[c])
              (the squared Mahalanobis distance under the shrunk shared covariance)
The colour-distribution check's histogram and distance, in exact integer arithmetic up to
the shares, so every library bins every pixel alike:
    lit        pixels whose R + G + B >= LIT_SUM (the chromaticity of near-black pixels is noise)
    bins       r = min(COLOUR_BINS * R // (R + G + B), COLOUR_BINS - 1), g likewise with G
    histogram  (COLOUR_BINS ** 2,) the share of lit pixels in each (r, g) bin, r major (all 0
               when no pixel is lit)
    distance   (log(histogram + COLOUR_FLOOR) - colour_mean) . colour_precision . (same)
               (one Gaussian for all classes, its covariance shrunk by Ledoit-Wolf); a gate
               fitted before the check has neither array (colour_mean None) and skips it
JAX (train_jax/gradability/measures.py) and the exported TensorFlow graph
(train_jax/export/savedmodel.py) both compute them from this spec.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from cataract_contract import GateLimits
from train_jax.errors import UserError
from train_jax.files import write_atomically

SPEC_FILE = "gradability.json"
ARRAYS_FILE = "gradability.npz"
# What a run trained before the gate needs (cataract_cli's operating-point command).
FIT_GATE_HINT = "fit one with `cataract operating-point RUN --fit-gate`"
ARRAY_FIELDS = ("feature_shift", "feature_scale", "class_means", "precision")
FLOOR_FIELD = "feature_floor"  # absent from gates fitted before it (their features are not logged)
COLOUR_FIELDS = ("colour_mean", "colour_precision")  # absent from gates fitted before the colour-distribution check
# The chromaticity histogram (above). 8 x 8 bins of r and g: fine enough to tell the skin,
# sclera and iris of eye photos from foliage, cloth or paint, coarse enough that 300
# training photos fill the bins eye photos use.
COLOUR_BINS = 8
LIT_SUM = 48  # R + G + B: a mean of 16 of 255
COLOUR_FLOOR = 1e-3  # added to each share before the log: an empty bin is far, but not infinitely
# Each training photo's cross-fitted measures, kept for refitting the limits. (A gate fitted
# before the grey or colour-distribution check stores no such measure: refitting keeps it without.)
IMAGE_MEASURES = ("brightness", "colourfulness", "sharpness", "colour_distance", "feature_distance")
TRAINING_MEASURES = tuple(f"training_{name}" for name in IMAGE_MEASURES)
# Each validation photo's measures, kept to validate refitted limits again.
VALIDATION_MEASURES = tuple(f"validation_{name}" for name in IMAGE_MEASURES)


@dataclasses.dataclass(frozen=True, eq=False)
class GateSpec:
    limits: GateLimits
    feature_blocks: tuple[int, ...]
    feature_shift: np.ndarray  # (D,) float32
    feature_scale: np.ndarray  # (D,) float32
    class_means: np.ndarray  # (classes, D) float32, standardised features
    precision: np.ndarray  # (D, D) float32, inverse of the shrunk shared covariance
    feature_floor: np.ndarray | None = None  # (D,) float32, added before the log; None: no log
    colour_mean: np.ndarray | None = None  # (COLOUR_BINS ** 2,) float32, logged histograms; None: no colour-distribution check
    colour_precision: np.ndarray | None = None  # (COLOUR_BINS ** 2, COLOUR_BINS ** 2) float32
    method: str = ""  # how the limits were fitted, in words (model card, report)
    blind_spots: tuple[str, ...] = ()  # what the gate is known not to catch (model card)
    validation: dict[str, Any] = dataclasses.field(default_factory=dict)  # refusals on validation photos
    training_measures: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # TRAINING_MEASURES
    validation_measures: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # VALIDATION_MEASURES

    @property
    def feature_count(self) -> int:
        return int(self.feature_shift.shape[0])

    def with_limits(self, limits: GateLimits, validation: dict[str, Any] | None = None) -> GateSpec:
        return dataclasses.replace(self, limits=limits, validation=self.validation if validation is None else validation)

    def save(self, run_root: str | Path) -> None:
        root = Path(run_root)
        arrays = {name: np.asarray(getattr(self, name), np.float32) for name in ARRAY_FIELDS}
        optional = (FLOOR_FIELD, *COLOUR_FIELDS)
        arrays.update({name: np.asarray(getattr(self, name), np.float32) for name in optional
                       if getattr(self, name) is not None})
        for measures in (self.training_measures, self.validation_measures):
            arrays.update({name: np.asarray(values, np.float32) for name, values in measures.items()})
        with (root / ARRAYS_FILE).open("wb") as stream:  # npz wants a file; written before the JSON that names it
            np.savez(stream, **arrays)
        described = {"limits": dataclasses.asdict(self.limits), "feature_blocks": list(self.feature_blocks),
                     "feature_count": self.feature_count, "logged_features": self.feature_floor is not None,
                     "colour_bins": COLOUR_BINS if self.colour_mean is not None else None,
                     "method": self.method,
                     "blind_spots": list(self.blind_spots), "validation": self.validation}
        write_atomically(root / SPEC_FILE, (json.dumps(described, indent=2) + "\n").encode())

    @classmethod
    def exists(cls, run_root: str | Path) -> bool:
        return (Path(run_root) / SPEC_FILE).is_file() and (Path(run_root) / ARRAYS_FILE).is_file()

    @classmethod
    def load(cls, run_root: str | Path) -> GateSpec:
        root = Path(run_root)
        if not cls.exists(root):
            raise UserError(f"{root / SPEC_FILE} is missing: the run has no gradability gate ({FIT_GATE_HINT})")
        try:
            described = json.loads((root / SPEC_FILE).read_text())
            with np.load(root / ARRAYS_FILE) as arrays:
                values = {name: np.asarray(arrays[name], np.float32) for name in ARRAY_FIELDS}
                values.update({name: np.asarray(arrays[name], np.float32) for name in (FLOOR_FIELD, *COLOUR_FIELDS)
                               if name in arrays})
                training, validation = ({name: np.asarray(arrays[name]) for name in names if name in arrays}
                                        for names in (TRAINING_MEASURES, VALIDATION_MEASURES))
            limits = GateLimits(**described["limits"])
            if ("colour_mean" in values) != (limits.max_colour_distance is not None) or \
                    ("colour_mean" in values) != ("colour_precision" in values):
                raise ValueError("the colour-distribution check's limit and statistics do not come together")
            return cls(limits=limits, feature_blocks=tuple(described["feature_blocks"]),
                       method=described.get("method", ""), blind_spots=tuple(described.get("blind_spots", ())),
                       validation=described.get("validation", {}), training_measures=training,
                       validation_measures=validation, **values)
        # A hand-edited or truncated file: JSON or zip errors, missing or mistyped fields.
        except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as error:
            raise UserError(f"{root}'s gradability gate ({SPEC_FILE}, {ARRAYS_FILE}) is damaged "
                            f"({type(error).__name__}: {error}): {FIT_GATE_HINT}") from None
