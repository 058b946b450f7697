"""Reading torchvision's VGG16 `.pth` file without PyTorch and without running pickled code.

torch.save writes a pickle whose tensors point at raw storage bytes, either in a zip
archive (PyTorch >= 1.6) or, in the legacy format that torchvision's published VGG16
file uses, as pickles followed by the storages one after another. The unpickler here
resolves only the handful of names a state dict needs (an OrderedDict and tensors
rebuilt from float storages); any other reference is refused, so a hostile file cannot
execute code.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

from train_jax.errors import UserError
from train_jax.model.architecture import conv_layer_names

TORCHVISION_FILE = "vgg16-397923af.pth"
TORCHVISION_URL = "https://download.pytorch.org/models/" + TORCHVISION_FILE
# Indices of the 13 convolutions in torchvision's `features` Sequential (ReLUs and pools between).
TORCHVISION_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
}


class UnsafeCheckpointError(ValueError):
    """The file references something other than plain tensors."""


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class _Storage:
    """Placeholder for a storage whose bytes are filled in after unpickling."""

    def __init__(self, dtype: np.dtype, numel: int):
        self.dtype = dtype
        self.numel = numel
        self.array: np.ndarray | None = None


class _LazyTensor:
    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def to_numpy(self) -> np.ndarray:
        base = self.storage.array
        if base is None:
            raise ValueError("tensor storage missing from the file")
        itemsize = base.dtype.itemsize
        needed = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1
        if any(n == 0 for n in self.size):
            return np.zeros(self.size, base.dtype)
        if needed > base.size:
            raise ValueError("tensor reaches past the end of its storage")
        view = np.lib.stride_tricks.as_strided(
            base[self.offset :], shape=self.size, strides=[s * itemsize for s in self.stride]
        )
        return np.array(view)


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    return _LazyTensor(storage, storage_offset, size, stride)


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, storages: dict[str, _Storage]):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise UnsafeCheckpointError(
            f"refusing to load: the file references {module}.{name}, which a plain state dict never does"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] in ("storage", b"storage")):
            raise UnsafeCheckpointError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise UnsafeCheckpointError(f"unexpected storage type {storage_type!r}")
        key = key.decode() if isinstance(key, bytes) else str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, int(numel))
        return self.storages[key]


def _to_numpy(state) -> dict[str, np.ndarray]:
    if not isinstance(state, dict):
        raise UnsafeCheckpointError(f"expected a state dict, found {type(state).__name__}")
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return {str(k): v.to_numpy() for k, v in state.items() if isinstance(v, _LazyTensor)}


def _load_zip(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pickles:
            raise ValueError(f"{path} is a zip file without data.pkl: not a torch.save checkpoint")
        prefix = pickles[0][: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        state = _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), storages).load()
        for key, storage in storages.items():
            raw = archive.read(f"{prefix}data/{key}")
            storage.array = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"), count=storage.numel)
    return _to_numpy(state)


def _load_legacy(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as file:
        # The three leading pickles hold plain numbers and a dict; nothing may be resolved.
        for expected in ("magic number", "protocol version", "system info"):
            value = _RestrictedUnpickler(file, {}).load()
            if expected == "magic number" and value != LEGACY_MAGIC_NUMBER:
                raise ValueError(f"{path} is not a PyTorch checkpoint (bad magic number)")
            if expected == "protocol version" and value != LEGACY_PROTOCOL_VERSION:
                raise ValueError(f"{path}: unsupported PyTorch protocol version {value}")
        storages: dict[str, _Storage] = {}
        state = _RestrictedUnpickler(file, storages).load()
        keys = _RestrictedUnpickler(file, {}).load()
        for key in keys:
            storage = storages[str(key)]
            (numel,) = struct.unpack("<q", file.read(8))
            raw = file.read(numel * storage.dtype.itemsize)
            if len(raw) != numel * storage.dtype.itemsize:
                raise ValueError(f"{path} is truncated")
            storage.array = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
    return _to_numpy(state)


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Parameter name -> numpy array from a torch.save'd state dict (either format)."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    return _load_legacy(path)


def read_torchvision_pth(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Convolution weights by Keras layer name from a torchvision VGG16 state dict
    (`features.{0,2,5,...,28}.weight`, OIHW), kernels turned to HWIO."""
    try:
        state = load_state_dict(path)
    except UnsafeCheckpointError as exc:
        raise UserError(f"{path}: {exc}") from None
    except (ValueError, OSError, EOFError) as exc:
        raise UserError(f"{path} is not a readable PyTorch checkpoint: {exc}") from None
    layers = {}
    for name, index in zip(conv_layer_names(), TORCHVISION_CONV_INDICES):
        weight, bias = state.get(f"features.{index}.weight"), state.get(f"features.{index}.bias")
        if weight is None or bias is None:
            continue
        layers[name] = (np.transpose(weight, (2, 3, 1, 0)).astype(np.float32), bias.astype(np.float32))
    return layers
