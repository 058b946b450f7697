"""Pretrained ImageNet weights for the VGG16 convolutions, from Keras or torchvision files.

Two published files are understood:
- Keras' `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`: one HDF5 group per layer
  (block1_conv1 ... block5_conv3) holding `<layer>_W_1:0` (HWIO kernel) and `<layer>_b_1:0`;
  the network expects "caffe" preprocessing.
- torchvision's `vgg16-397923af.pth`: a state dict with `features.{0,2,5,...,28}.weight`
  (OIHW) and `.bias`; the network expects torchvision's mean/std preprocessing.

`load_into` follows big_vision's pattern: pretrained arrays are merged into the freshly
initialised model, and the report names what was loaded and what starts fresh.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from train_jax.errors import UserError
from train_jax.model import VGG16, VGG16_BLOCKS, Preprocessing, keras_layer_name

log = logging.getLogger(__name__)

KERAS_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_NOTOP_MD5 = "6d6bbae143d832006294945121d1f1fc"
KERAS_NOTOP_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + KERAS_NOTOP_FILE
TORCHVISION_FILE = "vgg16-397923af.pth"
TORCHVISION_URL = "https://download.pytorch.org/models/" + TORCHVISION_FILE
# Indices of the 13 convolutions in torchvision's `features` Sequential (ReLUs and pools between).
TORCHVISION_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)

LayerWeights = dict[str, tuple[np.ndarray, np.ndarray]]  # keras layer name -> (HWIO kernel, bias)


@dataclasses.dataclass(frozen=True)
class PretrainedWeights:
    layers: LayerWeights
    preprocessing: Preprocessing
    source: str  # where they came from, for the run's config and the model card


@dataclasses.dataclass(frozen=True)
class LoadReport:
    loaded: tuple[str, ...]
    fresh: tuple[str, ...]


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def torch_cache_dir() -> Path:
    return Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def conv_layer_names() -> list[str]:
    return [keras_layer_name(b, c) for b, (_, count) in enumerate(VGG16_BLOCKS) for c in range(count)]


def read_keras_h5(path: Path) -> LayerWeights:
    """Convolution weights from a Keras VGG16 weight file (the published notop layout,
    or any Keras HDF5 weight file whose layer groups are named block{b}_conv{c})."""
    import h5py

    if path.name == KERAS_NOTOP_FILE:
        checksum = md5_of(path)
        if checksum != KERAS_NOTOP_MD5:
            raise UserError(
                f"{path} has MD5 {checksum}, not the published {KERAS_NOTOP_MD5}: "
                "the download is damaged; delete it and fetch it again"
            )
    layers: LayerWeights = {}
    try:
        with h5py.File(path, "r") as file:
            root = file["model_weights"] if "model_weights" in file else file
            for name in conv_layer_names():
                if name not in root:
                    continue
                arrays = _datasets_under(root[name])
                kernels = [a for a in arrays if a.ndim == 4]
                biases = [a for a in arrays if a.ndim == 1]
                if len(kernels) != 1 or len(biases) != 1:
                    raise UserError(f"{path}: layer {name} does not hold one kernel and one bias")
                layers[name] = (kernels[0].astype(np.float32), biases[0].astype(np.float32))
    except OSError as exc:
        raise UserError(f"{path} is not a readable HDF5 weight file: {exc}") from None
    return layers


def _datasets_under(group) -> list[np.ndarray]:
    """Arrays of a layer group in the order its `weight_names` attribute gives, else by name."""
    names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs.get("weight_names", [])]
    if names:
        return [np.asarray(group[name]) for name in names]
    found = []
    group.visititems(lambda name, item: found.append((name, np.asarray(item))) if hasattr(item, "shape") else None)
    return [array for _, array in sorted(found)]


def read_torchvision_pth(path: Path) -> LayerWeights:
    """Convolution weights from a torchvision VGG16 state dict, kernels turned to HWIO."""
    from train_jax.torch_checkpoint import UnsafeCheckpointError, load_state_dict

    try:
        state = load_state_dict(path)
    except UnsafeCheckpointError as exc:
        raise UserError(f"{path}: {exc}") from None
    except (ValueError, OSError, EOFError) as exc:
        raise UserError(f"{path} is not a readable PyTorch checkpoint: {exc}") from None
    layers: LayerWeights = {}
    for name, index in zip(conv_layer_names(), TORCHVISION_CONV_INDICES):
        weight, bias = state.get(f"features.{index}.weight"), state.get(f"features.{index}.bias")
        if weight is None or bias is None:
            continue
        layers[name] = (np.transpose(weight, (2, 3, 1, 0)).astype(np.float32), bias.astype(np.float32))
    return layers


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
    log.info("downloading %s", url)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=timeout) as response, tempfile.NamedTemporaryFile(
            dir=destination.parent, delete=False
        ) as partial:
            shutil.copyfileobj(response, partial)
        os.replace(partial.name, destination)
        return True
    except OSError as exc:
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


def load_into(model: VGG16, weights: PretrainedWeights) -> LoadReport:
    """Copy pretrained convolution weights into `model` in place."""
    loaded, fresh = [], []
    for block_index, block in enumerate(model.blocks):
        for conv_index, conv in enumerate(block):
            name = keras_layer_name(block_index, conv_index)
            if name not in weights.layers:
                fresh.append(name)
                continue
            kernel, bias = weights.layers[name]
            if kernel.shape != conv.kernel.shape or bias.shape != conv.bias.shape:
                raise UserError(
                    f"pretrained {name} has kernel {kernel.shape}, the model needs {conv.kernel.shape}: "
                    "pretrained weights need the full-width VGG16 (--width 1)"
                )
            conv.kernel[...] = kernel
            conv.bias[...] = bias
            loaded.append(name)
    fresh.append("head (dense %d->%d)" % tuple(model.head.kernel.shape))
    log.info("pretrained weights from %s", weights.source)
    log.info("loaded: %s", ", ".join(loaded) or "nothing")
    log.info("fresh (random init): %s", ", ".join(fresh))
    return LoadReport(tuple(loaded), tuple(fresh))

