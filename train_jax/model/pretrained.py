"""Pretrained ImageNet weights for the VGG16 convolutions: finding them and merging them.

Two published files are understood (their readers: keras_h5.py and torch_pth.py):
Keras' notop `.h5` (the network then expects "caffe" preprocessing) and torchvision's
`.pth` (torchvision's mean/std preprocessing).

Loading follows big_vision's pattern: `merge_params` is a pure function that merges
pretrained arrays into freshly initialised ones, skips what `dont_load` names, and says
what was loaded and what starts fresh.
"""

from __future__ import annotations

import dataclasses
import http.client
import logging
import os
import re
import urllib.request
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from flax import nnx, traverse_util

from train_jax.errors import UserError
from train_jax.files import write_atomically
from train_jax.model.keras_h5 import KERAS_NOTOP_FILE, KERAS_NOTOP_URL, LayerWeights, md5_of, read_keras_h5
from train_jax.model.torch_pth import TORCHVISION_FILE, read_torchvision_pth
from train_jax.model.architecture import VGG16_BLOCKS, keras_layer_name
from train_jax.model.vgg16 import VGG16, Preprocessing

log = logging.getLogger(__name__)

# Parameter paths are written "blocks/<block>/<conv>/kernel", "head/bias", ...
SEPARATOR = "/"


@dataclasses.dataclass(frozen=True)
class PretrainedWeights:
    layers: LayerWeights
    preprocessing: Preprocessing
    source: str  # where they came from, for the run's config and the model card


@dataclasses.dataclass(frozen=True)
class LoadReport:
    loaded: tuple[str, ...]  # parameter paths taken from the file
    fresh: tuple[str, ...]  # parameter paths that keep their initialisation


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def torch_cache_dir() -> Path:
    return Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"


def read_weight_file(path: Path) -> PretrainedWeights:
    if path.suffix.lower() in (".h5", ".hdf5", ".keras"):
        layers, preprocessing = read_keras_h5(path), "caffe"
    elif path.suffix.lower() in (".pth", ".pt"):
        layers, preprocessing = read_torchvision_pth(path), "torch"
    else:
        raise UserError(f"{path}: weight files must be Keras .h5 or torchvision .pth")
    if not layers:
        raise UserError(f"{path} holds none of VGG16's convolution layers")
    return PretrainedWeights(layers, preprocessing, f"{path} (md5 {md5_of(path)})")


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


def as_parameter_paths(layers: LayerWeights) -> dict[str, np.ndarray]:
    """Keras layer names -> the model's parameter paths ("blocks/0/1/kernel", ...)."""
    paths = {}
    for block, (_, count) in enumerate(VGG16_BLOCKS):
        for conv in range(count):
            name = keras_layer_name(block, conv)
            if name in layers:
                kernel, bias = layers[name]
                paths[SEPARATOR.join(("blocks", str(block), str(conv), "kernel"))] = kernel
                paths[SEPARATOR.join(("blocks", str(block), str(conv), "bias"))] = bias
    return paths


def merge_params(
    loaded: dict[str, Any], inited: dict[str, Any], dont_load: Sequence[str] = ()
) -> tuple[dict[str, Any], LoadReport]:
    """Flat parameter dicts (path -> array) merged: each initialised parameter takes the
    loaded array of the same path, unless a `dont_load` regex matches the path fully.
    Shapes must agree; a loaded parameter the model does not have is an error."""
    skip = [re.compile(pattern) for pattern in dont_load]
    unknown = sorted(set(loaded) - set(inited))
    if unknown:
        raise UserError(f"the weight file has parameters the model lacks: {', '.join(unknown)}")
    merged, taken, fresh = {}, [], []
    for path, initial in inited.items():
        if path not in loaded or any(pattern.fullmatch(path) for pattern in skip):
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


def load_into(model: VGG16, weights: PretrainedWeights, dont_load: Sequence[str] = ()) -> LoadReport:
    """Merge pretrained convolution weights into `model`'s parameters, in place."""
    state = nnx.state(model, nnx.Param)
    flat = traverse_util.flatten_dict(nnx.to_pure_dict(state))
    inited = {SEPARATOR.join(map(str, keys)): value for keys, value in flat.items()}
    merged, report = merge_params(as_parameter_paths(weights.layers), inited, dont_load)
    keys_of = {SEPARATOR.join(map(str, keys)): keys for keys in flat}
    nnx.replace_by_pure_dict(state, traverse_util.unflatten_dict({keys_of[path]: value for path, value in merged.items()}))
    nnx.update(model, state)
    log.info("pretrained weights from %s", weights.source)
    log.info("loaded: %s", ", ".join(report.loaded) or "nothing")
    log.info("fresh (initialised here): %s", ", ".join(report.fresh))
    return report

