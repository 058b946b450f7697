"""Reading VGG16 convolution weights from a Keras HDF5 weight file.

The published `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5` holds one group per
layer (block1_conv1 ... block5_conv3) with `<layer>_W_1:0` (HWIO kernel) and
`<layer>_b_1:0`; a whole-model Keras file keeps the same groups under `model_weights`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from train_jax.errors import UserError
from train_jax.model.architecture import conv_layer_names

KERAS_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_NOTOP_MD5 = "6d6bbae143d832006294945121d1f1fc"
KERAS_NOTOP_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + KERAS_NOTOP_FILE

LayerWeights = dict[str, tuple[np.ndarray, np.ndarray]]  # keras layer name -> (HWIO kernel, bias)


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_keras_h5(path: Path) -> LayerWeights:
    """Convolution weights from a Keras VGG16 weight file (the published notop layout,
    or any Keras HDF5 weight file whose layer groups are named block{b}_conv{c}). A layer
    the file lacks is left out: loading names it, unless the recipe's dont_load covers it."""
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
