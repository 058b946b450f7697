"""Reading torchvision's VGG16 `.pth` file without PyTorch and without running pickled code.

torch.save writes a pickle whose tensors point at raw storage bytes, either in a zip
archive (PyTorch >= 1.6) or, in the legacy format that torchvision's published VGG16
file uses, as pickles followed by the storages one after another. The unpickler here
resolves only the handful of names a state dict needs (an OrderedDict and tensors
rebuilt from float storages); any other reference is refused, so a hostile file cannot
execute code. Every tensor's offset, size and strides are checked against its storage
before a view is made, so a hostile file cannot read outside the bytes it holds either.
"""

from __future__ import annotations

import collections
import io
import math
import os
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
# Keras layer name -> torchvision's ("block1_conv1" -> "features.0", ...).
TORCHVISION_LAYER_NAMES = {name: f"features.{index}" for name, index in zip(conv_layer_names(), TORCHVISION_CONV_INDICES)}
LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001
# VGG16's largest tensor (the first classifier layer) has 102,760,448 elements; a file
# may declare a tensor of any size, so a cap keeps a zero-stride giant out of memory.
MAX_TENSOR_ELEMENTS = 2**28
# A zip member's size is what its header declares, and a few KB of deflated zeros can
# declare gigabytes: both caps are checked before a byte is read. VGG16's pickle is about
# 10 KB and its storages 553 MB in all (138M float32 parameters).
MAX_PICKLE_BYTES = 4 << 20
MAX_STORAGE_BYTES = 2 << 30  # all of a file's storages together

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


class CorruptCheckpointError(ValueError):
    """The file's structure is not what torch.save writes (the message says where)."""


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
    """A tensor as the pickle describes it; its layout is checked before any byte is read."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def to_numpy(self) -> np.ndarray:
        self._check_layout()
        base = self.storage.array
        count = math.prod(self.size)
        if max(count, *self.size, 0) > MAX_TENSOR_ELEMENTS:  # a side alone can be too large for numpy, even if another is 0
            raise CorruptCheckpointError(f"tensor of shape {self.size} has {count:,} elements, over the cap of {MAX_TENSOR_ELEMENTS:,}")
        if count == 0:
            return np.zeros(self.size, base.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))  # the largest index it reads
        if last >= base.size:
            raise CorruptCheckpointError(
                f"tensor of shape {self.size}, strides {self.stride}, offset {self.offset} reads element {last:,} "
                f"of a storage of {base.size:,}"
            )
        itemsize = base.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(base[self.offset :], shape=self.size, strides=[s * itemsize for s in self.stride])
        return np.array(view)

    def _check_layout(self) -> None:
        """Only plain non-negative integers: anything else could point a view outside its storage."""
        if not isinstance(self.storage, _Storage) or self.storage.array is None:
            raise CorruptCheckpointError("tensor storage missing from the file")
        if not (isinstance(self.size, tuple) and isinstance(self.stride, tuple) and len(self.size) == len(self.stride)):
            raise CorruptCheckpointError(f"size {self.size!r} and stride {self.stride!r} are not tuples of one length")
        for name, values in (("offset", (self.offset,)), ("size", self.size), ("stride", self.stride)):
            if not all(type(value) is int and value >= 0 for value in values):
                shown = self.offset if name == "offset" else values
                raise CorruptCheckpointError(f"{name} {shown!r} must be made of non-negative integers")


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
        if len(pid) < 5:
            raise CorruptCheckpointError(f"storage reference {pid!r} is too short")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise UnsafeCheckpointError(f"unexpected storage type {storage_type!r}")
        if type(numel) is not int or numel < 0:
            raise CorruptCheckpointError(f"storage of {numel!r} elements")
        key = key.decode() if isinstance(key, bytes) else str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, numel)
        return self.storages[key]


def _to_numpy(state) -> dict[str, np.ndarray]:
    if not isinstance(state, dict):
        raise UnsafeCheckpointError(f"expected a state dict, found {type(state).__name__}")
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    arrays = {}
    for key, value in state.items():
        if isinstance(value, _LazyTensor):
            try:
                arrays[str(key)] = value.to_numpy()
            except CorruptCheckpointError as exc:
                raise CorruptCheckpointError(f"{key}: {exc}") from None
    return arrays


def _storage_array(storage: _Storage, raw: bytes, key: str) -> np.ndarray:
    """A storage's elements from its bytes, which must hold as many as it declares."""
    if storage.numel * storage.dtype.itemsize > len(raw):
        raise CorruptCheckpointError(f"storage {key} declares {storage.numel:,} elements but holds {len(raw):,} bytes")
    return np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"), count=storage.numel)


def _unpickle(file, storages: dict[str, _Storage]):
    """One pickle, restricted; a malformed one is a CorruptCheckpointError."""
    try:
        return _RestrictedUnpickler(file, storages).load()
    except (pickle.UnpicklingError, EOFError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise CorruptCheckpointError(f"malformed pickle: {type(exc).__name__}: {exc}") from None


def _load_zip(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pickles:
            raise ValueError(f"{path} is a zip file without data.pkl: not a torch.save checkpoint")
        prefix = pickles[0][: -len("data.pkl")]
        pickle_size = archive.getinfo(pickles[0]).file_size
        if pickle_size > MAX_PICKLE_BYTES:
            raise CorruptCheckpointError(f"{pickles[0]} unpacks to {pickle_size:,} bytes, over the cap of "
                                         f"{MAX_PICKLE_BYTES:,} for a state dict's pickle")
        storages: dict[str, _Storage] = {}
        state = _unpickle(io.BytesIO(archive.read(pickles[0])), storages)
        for key, storage in storages.items():
            if f"{prefix}data/{key}" not in names:
                raise CorruptCheckpointError(f"storage {key} is missing from the archive")
        _check_storage_sizes({key: archive.getinfo(f"{prefix}data/{key}").file_size for key in storages}, storages)
        for key, storage in storages.items():
            with archive.open(f"{prefix}data/{key}") as member:  # no more than the storage declares
                storage.array = _storage_array(storage, member.read(storage.numel * storage.dtype.itemsize), key)
    return _to_numpy(state)


def _check_storage_sizes(member_sizes: dict[str, int], storages: dict[str, _Storage]) -> None:
    """Before any storage is read: each fits in its member's unpacked size, and all fit
    in MAX_STORAGE_BYTES together."""
    total = 0
    for key, storage in storages.items():
        size = storage.numel * storage.dtype.itemsize
        if size > member_sizes[key]:
            raise CorruptCheckpointError(f"storage {key} declares {storage.numel:,} elements but holds {member_sizes[key]:,} bytes")
        total += size
    if total > MAX_STORAGE_BYTES:
        raise CorruptCheckpointError(f"the storages declare {total:,} bytes in all, over the cap of {MAX_STORAGE_BYTES:,}")


def _load_legacy(path: Path) -> dict[str, np.ndarray]:
    with open(path, "rb") as file:
        # The three leading pickles hold plain numbers and a dict; nothing may be resolved.
        for expected in ("magic number", "protocol version", "system info"):
            value = _unpickle(file, {})
            if expected == "magic number" and value != LEGACY_MAGIC_NUMBER:
                raise ValueError(f"{path} is not a PyTorch checkpoint (bad magic number)")
            if expected == "protocol version" and value != LEGACY_PROTOCOL_VERSION:
                raise ValueError(f"{path}: unsupported PyTorch protocol version {value}")
        storages: dict[str, _Storage] = {}
        state = _unpickle(file, storages)
        keys = _unpickle(file, {})
        file_size = os.fstat(file.fileno()).st_size
        for key in keys if isinstance(keys, list) else ():
            storage = storages.get(str(key))
            header = file.read(8)
            if storage is None or len(header) != 8:
                raise CorruptCheckpointError(f"storage {key} is not in the file")
            (numel,) = struct.unpack("<q", header)
            size = numel * storage.dtype.itemsize
            if numel < 0 or size > file_size - file.tell():  # read only what the file can hold
                raise CorruptCheckpointError(f"storage {key} declares {numel:,} elements: {path} is truncated or damaged")
            storage.numel = numel
            storage.array = _storage_array(storage, file.read(size), str(key))
    return _to_numpy(state)


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Parameter name -> numpy array from a torch.save'd state dict (either format)."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    return _load_legacy(path)


def read_torchvision_pth(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Convolution weights by Keras layer name from a torchvision VGG16 state dict
    (`features.{0,2,5,...,28}.weight`, OIHW), kernels turned to HWIO. A layer the file
    lacks is left out (loading names it); one with a weight but no bias, or the reverse,
    is an error."""
    try:
        state = load_state_dict(path)
    except UnsafeCheckpointError as exc:
        raise UserError(f"{path}: {exc}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise UserError(f"{path} is not a readable PyTorch checkpoint: {exc}") from None
    layers = {}
    for name, torch_name in TORCHVISION_LAYER_NAMES.items():
        weight, bias = state.get(f"{torch_name}.weight"), state.get(f"{torch_name}.bias")
        if weight is None and bias is None:
            continue
        if weight is None or bias is None:
            lacking = f"{torch_name}.weight" if weight is None else f"{torch_name}.bias"
            raise UserError(f"{path} holds half of layer {torch_name}: {lacking} is missing")
        layers[name] = (np.transpose(weight, (2, 3, 1, 0)).astype(np.float32), bias.astype(np.float32))
    return layers
