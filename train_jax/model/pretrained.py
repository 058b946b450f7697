"""Pretrained ImageNet weights for the VGG16 convolutions: finding them and merging them.

Two published files are understood (their readers: keras_h5.py and torch_pth.py):
Keras' notop `.h5` (the network then expects "caffe" preprocessing) and torchvision's
`.pth` (torchvision's mean/std preprocessing).

Loading follows big_vision's `merge_params`: a pure function that merges pretrained
arrays into freshly initialised ones and skips what `dont_load` names. A parameter the
model expects to load that the file lacks is an error naming it, never a layer left at
random: only `dont_load` decides what starts fresh (by default the head, which ImageNet
files never hold).
"""

from __future__ import annotations

import dataclasses
import http.client
import logging
import os
import re
import urllib.request
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from flax import nnx, traverse_util

from train_jax.errors import UserError
from train_jax.files import write_atomically
from train_jax.model.keras_h5 import KERAS_NOTOP_FILE, KERAS_NOTOP_URL, LayerWeights, md5_of, read_keras_h5
from train_jax.model.torch_pth import TORCHVISION_FILE, TORCHVISION_LAYER_NAMES, read_torchvision_pth
from train_jax.model.architecture import VGG16_BLOCKS, keras_layer_name
from train_jax.model.vgg16 import VGG16, Preprocessing

log = logging.getLogger(__name__)

# Parameter paths are written "blocks/<block>/<conv>/kernel", "head/bias", ...
SEPARATOR = "/"
# What starts fresh unless a recipe says otherwise: the 2-way head, which no ImageNet file holds.
DONT_LOAD_HEAD = ("head/.*",)


@dataclasses.dataclass(frozen=True)
class PretrainedWeights:
    layers: LayerWeights
    preprocessing: Preprocessing
    source: str  # where they came from, for the run's config and the model card
    names_in_file: Mapping[str, str]  # Keras layer name -> the file's own name for it, for errors


@dataclasses.dataclass(frozen=True)
class LoadReport:
    loaded: tuple[str, ...]  # parameter paths taken from the file
    fresh: tuple[str, ...]  # parameter paths that keep their initialisation (those dont_load names)


class MissingParameters(UserError):
    """Parameters the model expects to load that the weight file lacks."""

    def __init__(self, paths: Sequence[str]):
        self.paths = tuple(paths)
        super().__init__(f"the weight file lacks parameters the model loads (not covered by dont_load): {', '.join(self.paths)}")


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def torch_cache_dir() -> Path:
    return Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"


def read_weight_file(path: Path) -> PretrainedWeights:
    if path.suffix.lower() in (".h5", ".hdf5", ".keras"):
        layers, preprocessing, names_in_file = read_keras_h5(path), "caffe", {}
    elif path.suffix.lower() in (".pth", ".pt"):
        layers, preprocessing, names_in_file = read_torchvision_pth(path), "torch", TORCHVISION_LAYER_NAMES
    else:
        raise UserError(f"{path}: weight files must be Keras .h5 or torchvision .pth")
    if not layers:
        raise UserError(f"{path} holds none of VGG16's convolution layers")
    return PretrainedWeights(layers, preprocessing, f"{path} (md5 {md5_of(path)})", names_in_file)


def _download(url: str, destination: Path, timeout: float = 30.0) -> bool:
    """Fetch `url` into `destination` whole (~58 MB for the Keras file, held in memory), so
    an interrupted download leaves no partial weight file in the cache."""
    log.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            write_atomically(destination, response.read())
        return True
    except (OSError, http.client.HTTPException) as exc:  # HTTPException: a truncated body (IncompleteRead)
        log.info("download failed: %s", exc)
        return False


def find_imagenet_weights(allow_download: bool = True) -> Path | None:
    """The published Keras file, else torchvision's, from the caches or a download."""
    candidates = [keras_cache_dir() / KERAS_NOTOP_FILE, torch_cache_dir() / TORCHVISION_FILE]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if allow_download and _download(KERAS_NOTOP_URL, candidates[0]):
        return candidates[0]
    return None


def resolve(spec: str, allow_download: bool = True) -> PretrainedWeights | None:
    """--weights imagenet|none|auto|PATH -> weights to load, or None for random init."""
    if spec == "none":
        return None
    if spec in ("imagenet", "auto"):
        path = find_imagenet_weights(allow_download)
        if path is not None:
            return read_weight_file(path)
        if spec == "imagenet":
            raise UserError(
                f"ImageNet weights not found and not downloadable: put {KERAS_NOTOP_FILE} "
                f"({KERAS_NOTOP_URL}) in {keras_cache_dir()}/ or pass --weights PATH"
            )
        log.warning(
            "\n" + "!" * 78 + "\n!! NO PRETRAINED WEIGHTS: ImageNet weights were not found in %s or %s and\n"
            "!! could not be downloaded. Training starts from RANDOM weights, which needs far more\n"
            "!! data and epochs. Put %s there to fine-tune instead.\n" + "!" * 78,
            keras_cache_dir(),
            torch_cache_dir(),
            KERAS_NOTOP_FILE,
        )
        return None
    path = Path(spec).expanduser()
    if not path.is_file():
        raise UserError(f"--weights {spec}: no such file (use imagenet, none, auto or a path)")
    return read_weight_file(path)


def parameter_path(block: int, conv: int, name: str) -> str:
    """The model's path of one convolution parameter: "blocks/<block>/<conv>/<name>"."""
    return SEPARATOR.join(("blocks", str(block), str(conv), name))


def as_parameter_paths(layers: LayerWeights) -> dict[str, np.ndarray]:
    """Keras layer names -> the model's parameter paths ("blocks/0/1/kernel", ...)."""
    paths = {}
    for block, (_, count) in enumerate(VGG16_BLOCKS):
        for conv in range(count):
            name = keras_layer_name(block, conv)
            if name in layers:
                kernel, bias = layers[name]
                paths[parameter_path(block, conv, "kernel")] = kernel
                paths[parameter_path(block, conv, "bias")] = bias
    return paths


def layer_of(path: str) -> str:
    """The Keras layer name of a convolution parameter's path; other paths as they are."""
    parts = path.split(SEPARATOR)
    if parts[0] == "blocks" and len(parts) == 4:
        return keras_layer_name(int(parts[1]), int(parts[2]))
    return path


def merge_params(
    loaded: dict[str, Any], inited: dict[str, Any], dont_load: Sequence[str] = ()
) -> tuple[dict[str, Any], LoadReport]:
    """Flat parameter dicts (path -> array) merged as big_vision does: each initialised
    parameter takes the loaded array of the same path, unless a `dont_load` regex matches
    the path fully. A parameter on one side only that `dont_load` does not cover is an
    error (MissingParameters where the file lacks it); shapes must agree."""
    skip = [re.compile(pattern) for pattern in dont_load]

    def should_load(path: str) -> bool:
        return not any(pattern.fullmatch(path) for pattern in skip)

    unknown = sorted(path for path in set(loaded) - set(inited) if should_load(path))
    if unknown:
        raise UserError(f"the weight file has parameters the model lacks: {', '.join(unknown)}")
    missing = [path for path in inited if path not in loaded and should_load(path)]
    if missing:
        raise MissingParameters(missing)
    merged, taken, fresh = {}, [], []
    for path, initial in inited.items():
        if not should_load(path):
            merged[path] = initial
            fresh.append(path)
            continue
        if np.shape(loaded[path]) != np.shape(initial):
            raise UserError(
                f"pretrained {path} has shape {np.shape(loaded[path])}, the model needs {np.shape(initial)}: "
                "pretrained weights need the full-width VGG16 (--width 1)"
            )
        merged[path] = np.asarray(loaded[path], np.asarray(initial).dtype)
        taken.append(path)
    return merged, LoadReport(tuple(taken), tuple(fresh))


def load_into(model: VGG16, weights: PretrainedWeights, dont_load: Sequence[str] = DONT_LOAD_HEAD) -> LoadReport:
    """Merge pretrained convolution weights into `model`'s parameters, in place; every
    parameter that `dont_load` does not name must come from the file."""
    state = nnx.state(model, nnx.Param)
    flat = traverse_util.flatten_dict(nnx.to_pure_dict(state))
    inited = {SEPARATOR.join(map(str, keys)): value for keys, value in flat.items()}
    try:
        merged, report = merge_params(as_parameter_paths(weights.layers), inited, dont_load)
    except MissingParameters as missing:
        layers = dict.fromkeys(weights.names_in_file.get(layer_of(path), layer_of(path)) for path in missing.paths)
        raise UserError(
            f"{weights.source} lacks {', '.join(layers)}, which the model loads: "
            "use a complete VGG16 weight file, or --weights none to train from scratch"
        ) from None
    keys_of = {SEPARATOR.join(map(str, keys)): keys for keys in flat}
    nnx.replace_by_pure_dict(state, traverse_util.unflatten_dict({keys_of[path]: value for path, value in merged.items()}))
    nnx.update(model, state)
    log.info("pretrained weights from %s", weights.source)
    log.info("loaded: %s", ", ".join(report.loaded) or "nothing")
    log.info("fresh (initialised here): %s", ", ".join(report.fresh) or "nothing")
    return report
