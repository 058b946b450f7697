"""The contract every side of the product shares, in one module.

Training, export, the Triton python models, the client library and the dashboard all
import this module, so class names, model and tensor names, the model repository's
layout, the model card and the parameters the served configs carry, size limits, and how
a photo becomes model input are defined exactly once.

It imports nothing else of the project and needs only numpy and Pillow: `cataract
export` copies it into the model repository, where Triton's python backend imports it
in an environment that has nothing else of this project.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import json
import os
import re
import stat
import types
import typing
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# -- classes: index order is the model's output order and labels.txt's ----------------------

CLASS_NAMES = ("cataract", "normal")
POSITIVE_CLASS = "cataract"
CATARACT = CLASS_NAMES.index(POSITIVE_CLASS)

# -- the operating point ----------------------------------------------------------------------
# The decision threshold t is chosen on validation photos for the model's own score, its
# P(cataract). Export folds t into the served model: it adds operating_point_offsets(t) to
# the logits (the cataract logit shifted by -logit(t)), so the served P(cataract) is 50%
# exactly where the score is t. The label is then the top class at every door (client,
# dashboard, Triton's classification extension, raw KServe v2 calls), and the confidence,
# the served probability of that label, is at least 50%. model_scores() undoes the shift,
# so the score stays available for ROC analysis. The config says so with DECISION_RULE.

DECISION_RULE = "top_class"  # config parameter `decision_rule` of a model exported this way
SERVED_THRESHOLD = 0.5  # on served probabilities: a tie goes to cataract, as score >= t does
_LOGIT_LIMIT = 1e-7  # keeps logit(t) finite for a threshold of exactly 0 or 1


def logit(probability: float) -> float:
    probability = min(max(float(probability), _LOGIT_LIMIT), 1.0 - _LOGIT_LIMIT)
    return float(np.log(probability / (1.0 - probability)))


def operating_point_offsets(threshold: float) -> np.ndarray:
    """What export adds to the model's logits (CLASS_NAMES order) to serve threshold t at 50%."""
    offsets = np.zeros(len(CLASS_NAMES), np.float32)
    offsets[CATARACT] = -logit(threshold)
    return offsets


def at_operating_point(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """The model's own probabilities (N, 2) as the exported model serves them."""
    logits = np.log(np.clip(np.asarray(probabilities, np.float64), 1e-30, None)) + operating_point_offsets(threshold)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def model_scores(served: np.ndarray, threshold: float, positive: int = CATARACT) -> np.ndarray:
    """The model's own P(cataract) (N,) from served probabilities (N, 2): the shift undone.
    Computed from the log-ratio of both outputs, so it stays exact near 0 and 1."""
    served = np.clip(np.asarray(served, np.float64), 1e-30, None)
    difference = np.log(served[:, positive]) - np.log(served[:, 1 - positive]) + logit(threshold)
    return 1.0 / (1.0 + np.exp(-difference))


# -- the model repository ---------------------------------------------------------------------

CLASSIFIER = "cataract_vgg16"  # uint8 pixels -> probabilities, heatmap
PREPROCESS = "preprocess"  # encoded photo bytes -> uint8 pixels
ENSEMBLE = "cataract"  # encoded photo bytes -> probabilities, heatmap
INPUT_IMAGE = "image"
INPUT_IMAGE_BYTES = "image_bytes"
OUTPUT_PROBABILITIES = "probabilities"
OUTPUT_HEATMAP = "heatmap"
OUTPUT_GRADABLE = "gradable"  # TYPE_BOOL [1]: may the model judge this photo at all
OUTPUT_UNGRADABLE_REASON = "ungradable_reason"  # TYPE_INT32 [1]: an UngradableReason, 0 = gradable
# TYPE_INT32 [2]: the decoded photo's height and width before resizing, which the classifier
# cannot see in its resized pixels. Preprocess (and the client) send it; 0, 0 = not known,
# and then the photo's size is not checked (a raw tensor call may leave it out).
INPUT_PHOTO_SIZE = "photo_size"
GRADABILITY_OUTPUTS = (OUTPUT_GRADABLE, OUTPUT_UNGRADABLE_REASON)
# The classifier's outputs, in the order configs list them; a version exported before the
# gradability gate has only the first two (UNGATED_OUTPUTS).
UNGATED_OUTPUTS = (OUTPUT_PROBABILITIES, OUTPUT_HEATMAP)
CLASSIFIER_OUTPUTS = (*UNGATED_OUTPUTS, *GRADABILITY_OUTPUTS)
LABELS_FILE = "labels.txt"
SAVEDMODEL_DIR = "model.savedmodel"  # <model>/<version>/model.savedmodel
MODEL_CARD = "model_card.json"  # <model>/<version>/model_card.json
SAVEDMODEL_SIGNATURE = "serving_default"
# Each of VGG16's five blocks halves the image: the heatmap's side is image_size / 32.
HEATMAP_REDUCTION = 32


# -- gradability: whether the model may judge a photo at all -------------------------------
# The served graph refuses a photo it cannot judge instead of labelling it: every door then
# shows UNGRADABLE with the reason's text. Checks in this order, the first that fails gives
# the reason (a dark or blurred photo also looks unlike an eye photo to the network, and
# "retake with more light" helps more than "not an eye photo"):
#   TOO_SMALL         the decoded photo's shorter side < MIN_PHOTO_SIDE (decided where it is
#                     decoded: preprocess and the client send photo_size; 0 = not known)
#   TOO_DARK          mean luminance (LUMA weights, 0..255, of the resized pixels) < limit
#   TOO_BRIGHT        mean luminance > limit
#   BLURRED           sharpness < limit: log10((var(Laplacian(Y)) + 1) / (var(Y) + 1)) on the
#                     resized luminance Y, Laplacian = LAPLACIAN_KERNEL, valid positions only
#   GREYSCALE         colourfulness < limit (Hasler and Suesstrunk 2003, of the resized RGB
#                     pixels, 0..255): sqrt(var(rg) + var(yb)) + 0.3 sqrt(mean(rg)^2 +
#                     mean(yb)^2), rg = R - G, yb = (R + G) / 2 - B; a gate fitted before
#                     this check (min_colourfulness None) skips it. After the blur check:
#                     blurring drains a photo's colour spread too, and "too blurred" is the
#                     advice that helps
#   NOT_AN_EYE_PHOTO  the photo's colours are far from the training photos': the squared
#                     Mahalanobis distance of its logged rg-chromaticity histogram to the
#                     training photos' mean under a shrunk covariance > limit
#                     (train_jax/gradability/spec.py); a gate fitted before this check
#                     (max_colour_distance None) skips it; or
#   NOT_AN_EYE_PHOTO  the network's pooled features are far from the training photos':
#                     the smallest Mahalanobis distance to a class mean under a shrunk
#                     shared covariance > limit
# The limits other than MIN_PHOTO_SIDE are fitted on the training photos when training ends
# (train_jax/gradability), carried into the exported graph, its config and model card.

UNGRADABLE = "Ungradable"  # the prediction every door shows for a refused photo
MIN_PHOTO_SIDE = 32  # pixels; the shared real photos go down to 36
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luminance of RGB
LAPLACIAN_KERNEL = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))
COLOURFULNESS_MEAN_WEIGHT = 0.3  # Hasler and Suesstrunk's weight of the mean chroma


class UngradableReason(enum.IntEnum):
    """The classifier's `ungradable_reason` output; 0 means the photo was graded."""

    GRADABLE = 0
    NOT_AN_EYE_PHOTO = 1
    TOO_DARK = 2
    TOO_BRIGHT = 3
    BLURRED = 4
    TOO_SMALL = 5
    GREYSCALE = 6


REASON_TEXTS = {
    UngradableReason.GRADABLE: "gradable",
    UngradableReason.NOT_AN_EYE_PHOTO: "not an external eye photo like those the model was trained on",
    UngradableReason.TOO_DARK: "too dark to see the lens",
    UngradableReason.TOO_BRIGHT: "too bright to see the lens",
    UngradableReason.BLURRED: "too blurred",
    UngradableReason.TOO_SMALL: f"too small (shorter side under {MIN_PHOTO_SIDE} pixels)",
    UngradableReason.GREYSCALE: "grey or nearly colourless (the model judges colour photos)",
}
# What a version exported before the gate answers for "reason": it was never checked.
NOT_CHECKED = "not checked (exported before gradability)"


def reason_text(code: int) -> str:
    """The text of an `ungradable_reason` code; ValueError for a code the contract lacks."""
    try:
        return REASON_TEXTS[UngradableReason(int(code))]
    except ValueError:
        raise ValueError(f"unknown ungradable_reason code {code!r}") from None


@dataclasses.dataclass(frozen=True)
class GateCheck:
    """One of the gate's checks after the photo-size check: a photo whose `measure` lies below
    (a limit named min_...) or above (max_...) its GateLimits `limit` is refused with `reason`.
    `refuses` says so in words, before the limit's value (printed with `decimals`)."""

    limit: str
    measure: str
    reason: UngradableReason
    refuses: str
    decimals: int = 1

    @property
    def is_minimum(self) -> bool:
        return self.limit.startswith("min_")

    def failed(self, measured: Any, limit: float) -> Any:
        return measured < limit if self.is_minimum else measured > limit


# The gate's measures, each (N,) a photo, by name: what gate_decision reads.
GATE_MEASURES = ("brightness", "colourfulness", "sharpness", "colour_distance", "feature_distance")
# The checks after the photo-size check, in the order above. Fitting, validating, logging,
# exporting and the served graph all read this one table: a new check is a row here, a
# field of GateLimits, and its measure.
GATE_CHECKS = (
    GateCheck("min_brightness", "brightness", UngradableReason.TOO_DARK, "too dark below mean luminance"),
    GateCheck("max_brightness", "brightness", UngradableReason.TOO_BRIGHT, "too bright above mean luminance"),
    GateCheck("min_sharpness", "sharpness", UngradableReason.BLURRED, "blurred below sharpness", decimals=3),
    GateCheck("min_colourfulness", "colourfulness", UngradableReason.GREYSCALE, "grey below colourfulness"),
    GateCheck("max_colour_distance", "colour_distance", UngradableReason.NOT_AN_EYE_PHOTO,
              "not an eye photo's colours above colour distance"),
    GateCheck("max_feature_distance", "feature_distance", UngradableReason.NOT_AN_EYE_PHOTO,
              "not an eye photo above feature distance"),
)


@dataclasses.dataclass(frozen=True)
class GateLimits:
    """The gradability gate's limits, as fitted on one run's training photos: each fitted
    limit is the training photos' `quantile` (lower tail for a minimum, upper for a
    maximum), so each check alone refuses about that fraction of photos like them; the
    colour limit is a share of its quantile (train_jax/gradability/fit.py, GREY_SHARE), so it
    refuses fewer."""

    quantile: float
    min_brightness: float
    max_brightness: float
    min_sharpness: float
    max_feature_distance: float
    min_photo_side: int = MIN_PHOTO_SIDE
    min_colourfulness: float | None = None  # None: fitted before the grey check, which it skips
    max_colour_distance: float | None = None  # None: fitted before the colour-distribution check, which it skips

    def checks(self) -> tuple[tuple[GateCheck, float], ...]:
        """The checks these limits make, with their limits, in order (a gate fitted before a
        check has no limit for it and skips it)."""
        return tuple((check, getattr(self, check.limit)) for check in GATE_CHECKS
                     if getattr(self, check.limit) is not None)


def gate_checks(shorter_side: Any, measures: Mapping[str, Any], limits: GateLimits
                ) -> tuple[tuple[Any, UngradableReason], ...]:
    """The gate's checks as (failed, reason) pairs, in the order above (the first that
    fails gives the reason), of arrays or tensors of any library: `measures` by the names
    of GATE_MEASURES; shorter_side 0 = not known."""
    size = ((shorter_side > 0) & (shorter_side < limits.min_photo_side), UngradableReason.TOO_SMALL)
    return (size, *((check.failed(measures[check.measure], limit), check.reason) for check, limit in limits.checks()))


def first_failed(checks: tuple[tuple[Any, UngradableReason], ...], gradable: Any, where: Callable) -> Any:
    """The reason of the first failed check, else `gradable` (zeros of the reasons' type):
    `where` is numpy's, jax.numpy's or TensorFlow's."""
    reason = gradable
    for failed, code in reversed(checks):  # the first check is applied last, so it wins
        reason = where(failed, int(code), reason)
    return reason


def gate_decision(photo_size: Any, measures: Mapping[str, Any], limits: GateLimits, xp: Any = np) -> tuple[Any, Any]:
    """The gate's decision from its measures: (gradable bool (N,), ungradable_reason int32
    (N,)). photo_size is (N, 2) height, width (0 = not known); `measures` (N,) each, by the
    names of GATE_MEASURES; `xp` is numpy or jax.numpy (the served graph computes the same
    in TensorFlow, train_jax/export/savedmodel.py)."""
    checks = gate_checks(xp.min(photo_size, axis=-1), measures, limits)
    reason = first_failed(checks, xp.zeros(xp.shape(measures["brightness"]), xp.int32), xp.where).astype(xp.int32)
    return reason == 0, reason


# The embedded server's precision, chosen by export and recorded in the model card; "auto"
# asks the tool that chooses (export, training, the benchmarks) to decide for this machine.
PRECISIONS = ("float32", "bfloat16")
PRECISION_CHOICES = ("auto", *PRECISIONS)
# An operator's override of the precision export chose, read by the classifier's python
# model when it loads (one of PRECISIONS; it logs that it overrides).
CPU_PRECISION_OVERRIDE = "CATARACT_CPU_PRECISION"


def version_numbers(model_dir: str | os.PathLike) -> list[int]:
    """The exported versions of a model folder, ascending."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(child.name) for child in model_dir.iterdir() if child.is_dir() and child.name.isdigit())


# -- the served model's interface: its model card and the parameters its configs carry ------
# Export writes a ModelCard into each version folder, and the card's served subset,
# ServedParameters, into every classifier config as Triton parameters (strings). Rollback,
# the benchmarks, the client and both python models read them back here, typed.


class ModelCardError(ValueError):
    """A model card or a config's served parameters lack a field, or hold one of the wrong
    kind; the message names it."""


# Served parameters read one at a time, by these keys: a config that export did not write
# (the preprocess model's, a test model's) carries only some. Each key is a field of
# ServedParameters, which reads the whole set.
PARAMETER_DECISION_THRESHOLD = "decision_threshold"
PARAMETER_DECISION_RULE = "decision_rule"
PARAMETER_CLASSES = "classes"
PARAMETER_POSITIVE_CLASS = "positive_class"
PARAMETER_MODEL_VERSION = "model_version"
PARAMETER_IMAGE_SIZE = "image_size"
PARAMETER_CPU_PRECISION = "cpu_precision"
# "checked" in the config of a version whose graph holds the gradability gate; absent in
# one exported before it (its configs list neither photo_size nor the gate's outputs).
PARAMETER_GRADABILITY = "gradability"
GRADABILITY_CHECKED = "checked"

# What the classifier's outputs mean, written into its configs for anyone who reads them.
PROBABILITIES_MEANING = (
    "at the operating point: the cataract logit is shifted by -logit(decision_threshold), so the top class is the "
    "decision and its probability (the confidence) is at least 0.5; the model's own score is "
    "P(cataract) = sigmoid(log(p_cataract / p_normal) + logit(decision_threshold))")
HEATMAP_MEANING = "class-activation map: per-position evidence for cataract over normal; positive pushes to cataract"
NOT_MEASURED = "n/a"  # a served figure export could not measure on its machine
_REQUIRED = object()  # ServedParameters.get without a default


def config_parameters(config: Mapping) -> dict[str, str]:
    """A model config's parameters, as Triton gives the config in JSON (to a client, and
    to a python model's initialize), as strings."""
    return {key: value.get("string_value", "") for key, value in config.get("parameters", {}).items()}


def weights_file_name(source: str) -> str:
    """"<path> (md5 <hex>)" as "<file name> (md5 <hex>)": a served config names no folder
    of the machine that trained the model. Other descriptions pass unchanged."""
    match = re.fullmatch(r"(?P<path>.+) \(md5 (?P<md5>[0-9a-f]{32})\)", source)
    return f"{Path(match['path']).name} (md5 {match['md5']})" if match else source


def _served(write: Callable[[Any], str] = str, read: Callable[[str], Any] = str) -> Any:
    """A ServedParameters field: how its value becomes a config's text, and back."""
    return dataclasses.field(metadata={"write": write, "read": read})


def _decimals(places: int) -> Any:
    return _served(lambda value: f"{value:.{places}f}", float)


def _gated(write: Callable[[Any], str] = str, read: Callable[[str], Any] = str) -> Any:
    """A ServedParameters field only a version exported with the gradability gate has: None,
    and left out of the config, in a version exported before it."""
    return dataclasses.field(default=None, metadata={"write": write, "read": read})


def _measured(places: int) -> Any:
    return _served(lambda value: NOT_MEASURED if value is None else f"{value:.{places}f}",
                   lambda text: None if text == NOT_MEASURED else float(text))


@dataclasses.dataclass(frozen=True)
class ServedParameters:
    """The model card's served subset, as every classifier config carries it: each field
    is the parameter of the same name, its text written by to_strings() and read back by
    from_config()."""

    decision_threshold: float = _decimals(6)
    threshold_rule: str = _served()
    decision_rule: str = _served()
    probabilities: str = _served()  # PROBABILITIES_MEANING
    positive_class: str = _served()
    classes: tuple[str, ...] = _served(",".join, lambda text: tuple(text.split(",")))
    model_version: str = _served()  # as Triton names versions in its answers
    image_size: int = _served(str, int)
    exported_at: str = _served()
    training_data_fingerprint: str = _served()
    weights_source: str = _served()  # a file name, never a path of the exporting machine
    validation_accuracy: float = _decimals(4)
    validation_sensitivity: float = _decimals(4)
    validation_specificity: float = _decimals(4)
    validation_roc_auc: float = _decimals(4)
    validation_count: int = _served(str, int)
    cpu_precision: str = _served()
    training_precision: str = _served()
    cpu_bfloat16_decision_agreement: float | None = _measured(4)  # None: not measured
    heatmap: str = _served()  # HEATMAP_MEANING
    # The gradability gate (GateLimits), in a version exported with it: gradability is then
    # GRADABILITY_CHECKED, and each limit is written exactly (repr), as the graph holds it.
    gradability: str | None = _gated()
    gate_quantile: float | None = _gated(repr, float)
    gate_min_brightness: float | None = _gated(repr, float)
    gate_max_brightness: float | None = _gated(repr, float)
    gate_min_sharpness: float | None = _gated(repr, float)
    gate_max_feature_distance: float | None = _gated(repr, float)
    gate_min_photo_side: int | None = _gated(str, int)
    gate_min_colourfulness: float | None = _gated(repr, float)  # None too in a gate fitted before it
    gate_max_colour_distance: float | None = _gated(repr, float)  # None too in a gate fitted before it

    def to_strings(self) -> dict[str, str]:
        """The config parameters, as repository.write_configs takes them (a gate field only
        when the version has the gate)."""
        return {field.name: field.metadata["write"](getattr(self, field.name)) for field in dataclasses.fields(self)
                if not (field.default is None and getattr(self, field.name) is None)}

    @classmethod
    def from_config(cls, parameters: Mapping[str, str]) -> ServedParameters:
        """Every served parameter of a config that export wrote, typed (a gate field the
        config lacks is None: a version exported before the gate)."""
        return cls(**{field.name: cls.get(parameters, field.name, None if field.default is None else _REQUIRED)
                      for field in dataclasses.fields(cls)})

    @property
    def gated(self) -> bool:
        """Whether the served version checks gradability (has the outputs gradable and ungradable_reason)."""
        return self.gradability == GRADABILITY_CHECKED

    def gate_limits(self) -> GateLimits | None:
        """The served gate's limits; None for a version exported before the gate."""
        if not self.gated:
            return None
        return GateLimits(**{field.name: getattr(self, "gate_" + field.name) for field in dataclasses.fields(GateLimits)})

    @classmethod
    def get(cls, parameters: Mapping[str, str], key: str, default: Any = _REQUIRED) -> Any:
        """One served parameter of a config, typed; `default` where the config lacks it
        (without one, ModelCardError)."""
        if key not in parameters:
            if default is _REQUIRED:
                raise ModelCardError(f"the config has no parameter {key!r}")
            return default
        field = next(field for field in dataclasses.fields(cls) if field.name == key)
        try:
            return field.metadata["read"](parameters[key])
        except ValueError:
            raise ModelCardError(f"the config's parameter {key!r} is {parameters[key]!r}, not {field.type}") from None


@dataclasses.dataclass(frozen=True)
class ValidationFigures:
    """The exported model on the validation photos at its decision threshold: training's
    BinaryMetrics, less the threshold, which the card holds."""

    count: int
    accuracy: float
    precision: float
    recall: float  # sensitivity
    specificity: float
    f1: float
    roc_auc: float
    confusion: dict[str, int]  # true/false positives/negatives


@dataclasses.dataclass(frozen=True)
class GateCard:
    """The gradability gate a version's graph holds, as its model card records it (from the
    run's RUN/gradability.json)."""

    limits: GateLimits
    feature_blocks: tuple[int, ...]  # 1-based VGG16 blocks whose pooled features the distance uses
    method: str  # how the limits were fitted, in words
    blind_spots: tuple[str, ...]  # what the gate is known not to catch
    validation: dict[str, Any]  # refusals measured on the validation photos


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """What export records of one version, in <model>/<version>/model_card.json. The
    fields' names, order and JSON kinds are the file's, so the cards of earlier versions
    read; a card that lacks a field without a default raises ModelCardError naming it."""

    model: str
    version: int
    exported_at: str  # UTC, ISO 8601, to the second
    run: str  # the training run's folder, on the exporting machine
    best_epoch: int
    image_size: int
    classes: tuple[str, ...]
    positive_class: str
    decision_threshold: float  # on the model's own score; the served model carries it
    threshold_rule: str
    decision_rule: str
    validation: ValidationFigures
    training_data_fingerprint: str
    training_counts: dict[str, int]
    validation_counts: dict[str, int]
    weights_source: str  # "<path> (md5 <hex>)" or how the weights began
    preprocessing: str
    training_precision: str
    width: float
    parity_max_probability_gap: float  # SavedModel against the Flax model
    onnx_opset: int
    onnx_parity_max_probability_gap: float  # ONNX twin against the SavedModel
    tf_trt_visible_convolutions: int
    cpu_precision: str  # one of PRECISIONS
    cpu_bfloat16_decision_agreement: float | None  # None: not measured on the exporting CPU
    cpu_bfloat16_max_probability_gap: float | None
    exported_on: str  # the exporting machine's host name
    # Fields added since: a card written before them reads with these defaults.
    learned: bool | None = None  # the run's verdict (train_jax/training/verdict.py); None: exported before runs were judged
    exported_unproven: bool = False  # exported by --allow-unproven although the run did not learn
    gradability: GateCard | None = None  # None: exported before the gate (the graph has no gradable output)
    operating_point: str = "youden"  # the target the threshold was chosen for (RUN/threshold.json)
    operating_point_achieved: dict[str, Any] | None = None  # what the threshold reached on validation
    operating_point_warning: str | None = None  # a target validation did not reach, said plainly

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        try:
            fields = json.loads(text)
        except ValueError as exc:
            raise ModelCardError(f"the model card is not JSON: {exc}") from None
        return _from_fields(cls, fields, "")

    def write(self, version_dir: str | os.PathLike) -> Path:
        path = Path(version_dir) / MODEL_CARD
        path.write_text(self.to_json())
        return path

    @classmethod
    def read(cls, version_dir: str | os.PathLike) -> ModelCard:
        """A version folder's card; ModelCardError, naming the file, if it cannot be read,
        is not JSON, or lacks a field."""
        path = Path(version_dir) / MODEL_CARD
        try:
            return cls.from_json(path.read_text())
        except OSError as exc:
            raise ModelCardError(f"cannot read {path}: {exc.strerror or exc}") from None
        except ModelCardError as exc:
            raise ModelCardError(f"{path}: {exc}") from None

    def to_parameters(self) -> ServedParameters:
        """The served subset, as a config written from this card reads back (its figures
        rounded as their text is)."""
        validation = self.validation
        written = ServedParameters(
            decision_threshold=self.decision_threshold, threshold_rule=self.threshold_rule,
            decision_rule=self.decision_rule, probabilities=PROBABILITIES_MEANING, positive_class=self.positive_class,
            classes=self.classes, model_version=str(self.version), image_size=self.image_size,
            exported_at=self.exported_at, training_data_fingerprint=self.training_data_fingerprint,
            weights_source=weights_file_name(self.weights_source), validation_accuracy=validation.accuracy,
            validation_sensitivity=validation.recall, validation_specificity=validation.specificity,
            validation_roc_auc=validation.roc_auc, validation_count=validation.count,
            cpu_precision=self.cpu_precision, training_precision=self.training_precision,
            cpu_bfloat16_decision_agreement=self.cpu_bfloat16_decision_agreement, heatmap=HEATMAP_MEANING,
            **({} if self.gradability is None else gate_parameters(self.gradability.limits)),
        )
        return ServedParameters.from_config(written.to_strings())


def gate_parameters(limits: GateLimits) -> dict[str, Any]:
    """The ServedParameters fields of a gated version."""
    return {"gradability": GRADABILITY_CHECKED,
            **{"gate_" + field.name: getattr(limits, field.name) for field in dataclasses.fields(GateLimits)}}


def _from_fields(kind: type, fields: Any, prefix: str) -> Any:
    """A card dataclass from its JSON object, each field checked for its kind (fields the
    dataclass does not know are left out; a missing field takes its default, if it has one)."""
    if not isinstance(fields, dict):
        raise ModelCardError(f"the model card's {prefix.rstrip('.') or 'text'} is not a JSON object")
    types_of = typing.get_type_hints(kind)
    values = {}
    for field in dataclasses.fields(kind):
        name = prefix + field.name
        if field.name not in fields:
            if field.default is not dataclasses.MISSING:
                continue
            raise ModelCardError(f"the model card lacks the field {name!r}")
        values[field.name] = _field_value(types_of[field.name], fields[field.name], name)
    return kind(**values)


def _field_value(kind: Any, value: Any, name: str) -> Any:
    """A card field's JSON value, checked for its kind (a list read as a tuple)."""
    options = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
    if value is None and type(None) in options:
        return None
    base = typing.get_origin(options[0]) or options[0]
    if dataclasses.is_dataclass(base):
        return _from_fields(base, value, name + ".")
    accepted = {float: (int, float), tuple: (list,)}.get(base, (base,))
    if isinstance(value, bool) != (base is bool) or not isinstance(value, accepted):  # JSON's true is no number
        kind_name = kind.__name__ if type(kind) is type else kind
        raise ModelCardError(f"the model card's field {name!r} is {value!r}, not {kind_name}")
    return tuple(value) if base is tuple else value


# -- this machine's caches ------------------------------------------------------------------

CACHE_ENVIRONMENT = "CATARACT_CACHE"  # the one root of every cache the product keeps


def cache_root() -> Path:
    """$CATARACT_CACHE, else ~/.cache/cataract: the Triton runtime, the photo feature
    cache and any other cache live in folders under it."""
    return Path(os.environ.get(CACHE_ENVIRONMENT) or Path.home() / ".cache" / "cataract")


# -- photos -----------------------------------------------------------------------------------

# Limits shared by every door into the system (client, CLI, dashboard, server).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # ~ a 7700x5200 photo; larger headers are treated as bombs
# Memory is budgeted in bytes, not only pixels: a decoded image may hold at most what an
# 8-bit RGB photo at the pixel limit holds, so 16-bit or RGBA pixels count double or more.
MAX_DECODED_BYTES = 3 * MAX_IMAGE_PIXELS
# Bytes per pixel of Pillow's modes, as the file's decoder delivers them (others: 4).
MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2, "LA": 2, "PA": 2, "RGB": 3}
# The formats a photo may come in. Pillow knows dozens more (PPM, ICO, TGA, PCX, EPS,
# which calls Ghostscript, ...): each is more code an attacker can reach, so they are refused.
ACCEPTED_FORMATS = ("JPEG", "PNG", "BMP", "WEBP", "GIF", "TIFF")
GRAY_ROWS_PER_STEP = 256  # rows of a 16-bit image scaled at once: bounds the temporaries
ORIENTATION_TAG = 0x0112  # EXIF

# One fixed filter: PIL's bilinear resize is area-aware when shrinking, so large
# photos are smoothed rather than aliased on their way down to 224x224.
RESIZE_FILTER = Image.Resampling.BILINEAR

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")


def image_files(folder: str | os.PathLike) -> list[Path]:
    """The photos under `folder` (searched recursively; suffixes in any case), sorted: the
    one way every tool lists a folder of photos. Hidden files and folders are left out."""
    folder = Path(folder)
    return sorted(path for path in folder.rglob("*")
                  if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
                  and not any(part.startswith(".") for part in path.relative_to(folder).parts))

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, Image.Image, np.ndarray]


class ImageError(ValueError):
    """The input is not a usable photo; the message says why in one line."""


# The server's python models start a bad photo's error with this, so that clients can
# tell "this photo" from "the server" whatever Triton puts before it.
INVALID_IMAGE_MARKER = "invalid image: "


# The size limit's messages, one text each, for every door (CLI, client, dashboard, gateway).
SIZE_LIMIT_TEXT = f"{MAX_IMAGE_BYTES / 2**20:.0f} MiB"


def too_large_message(size: int | None = None) -> str:
    """Why a file is refused for its size; `size` in bytes when it is known."""
    known = f"{size / 2**20:.1f} MiB, " if size is not None else ""
    return f"file is {known}over the limit of {SIZE_LIMIT_TEXT}"


def too_large(size: int | None = None) -> ImageError:
    return ImageError(too_large_message(size))


def read_image_bytes(path: str | os.PathLike) -> bytes:
    """Read a photo file: a regular file only, and at most MAX_IMAGE_BYTES of it.

    A FIFO would hang the reader and a device such as /dev/zero never ends, so neither is
    read; a folder or a file that fails to read (any OSError) raises ImageError, which
    costs only this photo.
    """
    path = Path(path)
    try:
        # Non-blocking: opening a FIFO with no writer would otherwise wait forever.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            kind = os.fstat(descriptor)  # of what was opened, so it cannot be swapped after the check
            if not stat.S_ISREG(kind.st_mode):
                raise ImageError(f"cannot read {path}: {_file_kind(kind.st_mode)}, not a regular file")
            if kind.st_size > MAX_IMAGE_BYTES:
                raise too_large(kind.st_size)
            with open(descriptor, "rb", closefd=False) as file:
                data = file.read(MAX_IMAGE_BYTES + 1)  # the file may have grown since fstat
        finally:
            os.close(descriptor)
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise too_large(len(data))
    return data


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "a special file")


def decode_image(data: bytes | bytearray | memoryview, reduce_to: int | None = None) -> Image.Image:
    """Decode encoded image bytes to an 8-bit RGB image, upright per its EXIF tag.

    Grayscale, palette, RGBA, CMYK and 16-bit images become RGB; animated images
    give their first frame. Raises ImageError naming the problem otherwise.
    With `reduce_to`, a JPEG may come back smaller, its longest side at least that many
    pixels: the decoder then skips detail nobody will look at (2-3x faster on large photos).
    """
    if len(data) > MAX_IMAGE_BYTES:  # before any copy of it is made
        raise too_large(len(data))
    data = bytes(data)
    if not data:
        raise ImageError("empty input: no image bytes")
    try:
        with warnings.catch_warnings():
            # Our own pixel limit below is stricter; silence PIL's softer warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        raise ImageError(_unaccepted(data)) from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"refused as a decompression bomb: {exc}") from None
    except Exception as exc:  # PIL raises many types for malformed headers
        if "truncated" in str(exc).lower():
            raise ImageError(f"truncated or corrupt image data: {exc}") from None
        raise ImageError(f"cannot decode image: {exc}") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(
            f"image declares {width}x{height} pixels, over the limit of {MAX_IMAGE_PIXELS:,} "
            "(refused as a possible decompression bomb)"
        )
    decoded_bytes = width * height * MODE_BYTES.get(image.mode, 4)
    if decoded_bytes > MAX_DECODED_BYTES:
        raise ImageError(
            f"image declares {width}x{height} {image.mode} pixels, {decoded_bytes / 2**20:.0f} MiB decoded, over the "
            f"memory budget of {MAX_DECODED_BYTES / 2**20:.0f} MiB (refused as a possible decompression bomb)"
        )
    if reduce_to is not None and max(width, height) > reduce_to:
        scale = reduce_to / max(width, height)  # the box keeps the photo's proportions
        image.draft("RGB", (max(1, round(width * scale)), max(1, round(height * scale))))
    try:
        image.load()
    except Exception as exc:
        raise ImageError(f"truncated or corrupt {image.format or 'image'} data: {exc}") from None
    return to_rgb(image)


# Formats by their files' first bytes (their magic numbers), to name a refused file without
# handing it to any parser: the accepted formats, then those a photo is sent in by mistake.
# Names as Pillow gives them. Matched at the start of a file's first SIGNATURE_BYTES.
SIGNATURES = tuple((name, re.compile(pattern, re.DOTALL)) for name, pattern in (
    ("JPEG", rb"\xff\xd8\xff"),
    ("PNG", rb"\x89PNG\r\n\x1a\n"),
    ("GIF", rb"GIF8[79]a"),
    ("BMP", rb"BM"),
    ("WEBP", rb"RIFF....WEBP"),
    ("TIFF", rb"II[*+]\x00|MM\x00[*+]"),  # classic and BigTIFF, either byte order
    ("PDF", rb"%PDF-"),
    ("EPS", rb"%!PS|\xc5\xd0\xd3\xc6"),  # PostScript text, or DOS EPS's binary header
    ("PSD", rb"8BPS"),
    ("ICO", rb"\x00\x00\x01\x00"),
    ("JPEG2000", rb"\x00\x00\x00\x0cjP  \r\n\x87\n|\xff\x4f\xff\x51"),  # JP2 file, raw codestream
    ("HEIC", rb"....ftyp(heic|heix|hevc|hevx|heim|heis|mif1|msf1)"),
    ("AVIF", rb"....ftypavi[fs]"),
    ("SVG", rb"(\xef\xbb\xbf)?\s*(<[?!][^>]*>\s*)*<svg[\s>]"),  # after an XML declaration, a doctype
    ("PPM", rb"P[1-7]\s"),
    ("PCX", rb"\x0a[\x00-\x05]\x01"),
    ("SGI", rb"\x01\xda"),
    ("QOI", rb"qoif"),
))
SIGNATURE_BYTES = 512
# TGA has no magic number at its start; version 2 files end with this footer.
TGA_FOOTER = b"TRUEVISION-XFILE.\x00"


def format_by_signature(data: bytes) -> str | None:
    """The format the bytes announce by their magic number; None when no signature matches."""
    head = data[:SIGNATURE_BYTES]
    if data.endswith(TGA_FOOTER):
        return "TGA"
    return next((name for name, signature in SIGNATURES if signature.match(head)), None)


def _unaccepted(data: bytes) -> str:
    """Why bytes Pillow would not open as an accepted format are refused: their format by its
    magic number (never by another Pillow plugin: each is more code an attacker can reach),
    else "not an image"."""
    known = format_by_signature(data)
    if known in ACCEPTED_FORMATS:  # the accepted format's own plugin could not read the header
        # (Pillow says no more: a damaged header and a variant it lacks, such as a TIFF of an
        # unknown pixel mode, fail alike)
        return (f"not an image: the bytes begin like {known}, but its header cannot be read (damaged, cut short, "
                f"or a {known} variant that is not supported)")
    if known:
        return f"{known} images are not accepted: send {', '.join(ACCEPTED_FORMATS)}"
    return "not an image: the bytes are in no known image format"


def to_rgb(image: Image.Image) -> Image.Image:
    """An upright 8-bit RGB image of any PIL image (the image itself when it already is
    one). Conversions make at most one full-size temporary, none in float64."""
    image = _upright(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _gray_to_8_bits(image).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas carry arbitrary colours: show them as black, like a dark background.
        if image.mode == "P":
            image = image.convert("RGBA")
        rgb, transparency = image.convert("RGB"), ImageOps.invert(image.getchannel("A"))
        rgb.paste((0, 0, 0), mask=transparency)  # blends towards black by (255 - alpha) / 255
        return rgb
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def _upright(image: Image.Image) -> Image.Image:
    """Turned per the EXIF orientation tag; untouched (no copy) when there is none."""
    try:
        if image.getexif().get(ORIENTATION_TAG, 1) != 1:
            return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not cost the photo itself
        pass
    return image



def _gray_to_8_bits(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit or float grayscale as 8-bit "L", the full range scaled down (convert()
    would clip): integers over 255 are taken as 16-bit, floats as 0..1. Row blocks at a
    time, in float32, so a 40-megapixel image needs no full-size float temporary."""
    pixels = np.asarray(image)
    if pixels.dtype.kind == "f":
        scale, offset = 255.0, 0.5
    else:
        scale, offset = 255.0 / (65535.0 if pixels.max(initial=0) > 255 else 255.0), 0.5
    gray = np.empty(pixels.shape, np.uint8)
    for start in range(0, pixels.shape[0], GRAY_ROWS_PER_STEP):
        block = pixels[start : start + GRAY_ROWS_PER_STEP].astype(np.float32)
        gray[start : start + GRAY_ROWS_PER_STEP] = np.clip(block * scale + offset, 0, 255)
    return Image.fromarray(gray, "L")


def resize_for_model(image: Image.Image, size: int) -> np.ndarray:
    """Resize an RGB image to size x size (the whole photo, no crop) as uint8 HWC."""
    if image.mode != "RGB":
        image = to_rgb(image)
    if image.size != (size, size):
        image = image.resize((size, size), RESIZE_FILTER)
    return np.asarray(image, dtype=np.uint8)


def load_rgb(source: ImageSource) -> Image.Image:
    """Turn a path, encoded bytes, a PIL image or an HxWx3 uint8 array into RGB."""
    if isinstance(source, Image.Image):
        width, height = source.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ImageError(f"image is {width}x{height} pixels, over the limit of {MAX_IMAGE_PIXELS:,}")
        return to_rgb(source)
    if isinstance(source, np.ndarray):
        return array_to_rgb(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_image(source)
    if isinstance(source, (str, os.PathLike)):
        return decode_image(read_image_bytes(source))
    raise ImageError(f"unsupported image source of type {type(source).__name__}")


def array_to_rgb(array: np.ndarray) -> Image.Image:
    """An HxW or HxWx{1,3,4} uint8 array as an RGB image."""
    if array.dtype != np.uint8:
        raise ImageError(f"image arrays must be uint8, got {array.dtype}")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ImageError(f"image arrays must be HxW or HxWx3, got shape {array.shape}")
    if array.shape[0] * array.shape[1] > MAX_IMAGE_PIXELS:
        raise ImageError(f"image is {array.shape[1]}x{array.shape[0]} pixels, over the limit")
    return to_rgb(Image.fromarray(np.ascontiguousarray(array)))


def model_input(source: ImageSource, size: int) -> np.ndarray:
    """Any supported source as the classifier's input: uint8 (size, size, 3)."""
    return resize_for_model(load_rgb(source), size)
