"""The restricted `.pth` reader against hostile files: tensors whose offset, size or
strides reach outside their storage must be refused with a clear error, never read; so
must a zip bomb (a pickle or storages declaring more than the caps, or than the archive
holds), before its bytes are unpacked.

The files are valid torch.save zip archives written here opcode by opcode, because
torch itself refuses to write negative strides or tensors larger than their storage.
"""

from __future__ import annotations

import collections
import math
import pickle
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from train_jax.errors import UserError
from train_jax.model import pretrained, torch_pth
from train_jax.model.torch_pth import MAX_PICKLE_BYTES, MAX_TENSOR_ELEMENTS, load_state_dict

Layout = tuple[int, tuple[int, ...], tuple[int, ...]]  # offset, size, stride


def _int(value: int) -> bytes:
    encoded = pickle.encode_long(value)
    return b"\x8a" + bytes([len(encoded)]) + encoded  # LONG1: any size, either sign


def _text(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def _tuple(items) -> bytes:
    return b"(" + b"".join(items) + b"t"  # MARK ... TUPLE


ORDERED_DICT = b"ccollections\nOrderedDict\n)R"  # collections.OrderedDict()


def state_dict_pickle(tensors: dict[str, Layout], storage_elements: int) -> bytes:
    """What torch.save writes for a state dict of float tensors sharing storage "0"."""
    storage = _tuple([_text("storage"), b"ctorch\nFloatStorage\n", _text("0"), _text("cpu"), _int(storage_elements)]) + b"Q"
    items = b"".join(
        _text(name) + b"ctorch._utils\n_rebuild_tensor_v2\n"
        + _tuple([storage, _int(offset), _tuple(map(_int, size)), _tuple(map(_int, stride)), b"\x89", ORDERED_DICT]) + b"R"
        for name, (offset, size, stride) in tensors.items()
    )
    return b"\x80\x02" + ORDERED_DICT + b"(" + items + b"u."


def write_pth(path: Path, storage: np.ndarray, tensors: dict[str, Layout]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", state_dict_pickle(tensors, len(storage)))
        archive.writestr("archive/data/0", storage.astype("<f4").tobytes())
        archive.writestr("archive/version", "3\n")
    return path


def expected_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple) -> np.ndarray | None:
    """The tensor by plain index arithmetic, or None where it reaches outside the storage
    (or breaks the reader's rules: negative offsets or strides, too many elements)."""
    if offset < 0 or any(s < 0 for s in stride) or max(math.prod(size), *size, 0) > MAX_TENSOR_ELEMENTS:
        return None
    if math.prod(size) == 0:
        return np.zeros(size, np.float32)
    indices = offset + sum(np.indices(size)[axis] * stride[axis] for axis in range(len(size))) if size else np.array(offset)
    if indices.max() >= len(storage):
        return None
    return storage[indices]


def test_a_valid_strided_tensor_reads_exactly_its_elements(tmp_path):
    storage = np.arange(24, dtype=np.float32)
    path = write_pth(tmp_path / "ok.pth", storage, {"transposed": (2, (3, 4), (1, 3)), "empty": (0, (0, 5), (5, 1))})
    state = load_state_dict(path)
    np.testing.assert_array_equal(state["transposed"], np.arange(2, 14, dtype=np.float32).reshape(4, 3).T)
    assert state["empty"].shape == (0, 5)


@pytest.mark.parametrize(
    "layout,problem",
    [
        ((0, (2, 2), (-(2**40), 1)), "stride .* must be made of non-negative integers"),  # segfaulted
        ((-(2**22), (2,), (1,)), "offset -4194304 must be made of non-negative integers"),  # segfaulted
        ((-1, (4,), (1,)), "offset -1 must be made of non-negative integers"),  # returned heap bytes
        ((0, (2**38,), (0,)), "has 274,877,906,944 elements, over the cap"),  # MemoryError traceback
        ((10, (4, 4), (4, 1)), "reads element 25 of a storage of 16"),
    ],
    ids=["negative-stride", "negative-offset", "offset-minus-one", "zero-stride-giant", "past-the-end"],
)
def test_tensors_reaching_outside_their_storage_are_refused(tmp_path, layout, problem):
    path = write_pth(tmp_path / "hostile.pth", np.arange(16, dtype=np.float32), {"features.0.weight": layout})
    with pytest.raises(ValueError, match=f"features.0.weight: .*{problem}"):
        load_state_dict(path)
    with pytest.raises(UserError) as error:  # the command line's one-line error
        pretrained.read_weight_file(path)
    assert "not a readable PyTorch checkpoint" in str(error.value) and "\n" not in str(error.value)


def test_storages_shorter_than_declared_are_refused(tmp_path):
    path = tmp_path / "short.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", state_dict_pickle({"w": (0, (4,), (1,))}, 1000))
        archive.writestr("archive/data/0", np.zeros(4, "<f4").tobytes())
    with pytest.raises(ValueError, match="storage 0 declares 1,000 elements but holds 16 bytes"):
        load_state_dict(path)


def write_zeros(archive: zipfile.ZipFile, name: str, size: int) -> None:
    """A deflated member of `size` zero bytes, written in chunks: a few KB on disk."""
    chunk, info = bytes(1 << 20), zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as member:
        for start in range(0, size, len(chunk)):
            member.write(chunk[: size - start])


def deflated(path: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)


def test_a_pickle_over_the_cap_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "pickle-bomb.pth"
    with deflated(path) as archive:
        write_zeros(archive, "archive/data.pkl", MAX_PICKLE_BYTES + 1)
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda *_: pytest.fail("the pickle was read"))
    with pytest.raises(UserError) as error:
        pretrained.read_weight_file(path)
    assert f"archive/data.pkl unpacks to {MAX_PICKLE_BYTES + 1:,} bytes, over the cap" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_zip_bomb_storage_is_refused_before_it_is_unpacked(tmp_path, monkeypatch):
    """64 MiB of deflated zeros (64 KB on disk) behind a storage declaring all of them,
    under a cap of 16 MiB: refused, and the reader's memory never nears the member's size."""
    elements = 16 << 20  # float32: 64 MiB
    monkeypatch.setattr(torch_pth, "MAX_STORAGE_BYTES", 16 << 20)
    path = tmp_path / "storage-bomb.pth"
    with deflated(path) as archive:
        archive.writestr("archive/data.pkl", state_dict_pickle({"w": (0, (elements,), (1,))}, elements))
        write_zeros(archive, "archive/data/0", 4 * elements)
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=f"the storages declare {4 * elements:,} bytes in all, over the cap of "
                                             f"{16 << 20:,}"):
            load_state_dict(path)
        assert tracemalloc.get_traced_memory()[1] < 4 << 20, "the storage was unpacked"
    finally:
        tracemalloc.stop()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**40), st.integers(0, 64))
def test_storages_are_read_only_within_their_member(tmp_path, declared, held):
    """A storage is read only when the elements it declares fit in the bytes its member
    unpacks to; otherwise it is refused before it is read, whatever it declares."""
    path = tmp_path / "declared.pth"
    with deflated(path) as archive:
        archive.writestr("archive/data.pkl", state_dict_pickle({"w": (0, (0,), (1,))}, declared))
        archive.writestr("archive/data/0", bytes(held))
    fits = 4 * declared <= held
    try:
        load_state_dict(path)
    except ValueError as error:
        assert not fits, f"a storage that fits was refused: {error}"
        assert f"storage 0 declares {declared:,} elements but holds {held:,} bytes" in str(error)
        return
    assert fits, "a storage declaring more than its member holds was read"


def test_malformed_pickles_are_errors_not_tracebacks(tmp_path):
    path = tmp_path / "garbled.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02(\x8a\xff")
    with pytest.raises(UserError, match="malformed pickle"):
        pretrained.read_weight_file(path)


sizes = st.one_of(st.integers(0, 5), st.just(2**38))
strides = st.one_of(st.integers(0, 8), st.integers(-8, -1), st.sampled_from([-(2**40), 2**40]))
offsets = st.one_of(st.integers(0, 70), st.integers(-5, -1), st.just(-(2**22)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 64), st.integers(0, 3).flatmap(lambda rank: st.tuples(st.tuples(*[sizes] * rank),
                                                                           st.tuples(*[strides] * rank))), offsets)
def test_fuzzed_layouts_never_crash_nor_read_outside_the_storage(tmp_path, storage_elements, shape, offset):
    size, stride = shape
    storage = np.random.default_rng(storage_elements).standard_normal(storage_elements).astype(np.float32)
    path = write_pth(tmp_path / "fuzzed.pth", storage, {"tensor": (offset, size, stride)})
    expected = expected_tensor(storage, offset, size, stride)
    try:
        state = load_state_dict(path)
    except ValueError as error:
        assert expected is None, f"a valid layout was refused: {error}"
        assert "\n" not in str(error)
        return
    assert expected is not None, "a layout reaching outside its storage was read"
    np.testing.assert_array_equal(state["tensor"], expected)


def test_the_helper_writes_what_torch_reads(tmp_path):
    """The hand-written archives are real torch.save files: torch loads the valid ones."""
    torch = pytest.importorskip("torch")
    path = write_pth(tmp_path / "ok.pth", np.arange(24, dtype=np.float32), {"t": (2, (3, 4), (1, 3))})
    loaded = torch.load(path, weights_only=True)
    assert isinstance(loaded, collections.OrderedDict)
    np.testing.assert_array_equal(loaded["t"].numpy(), load_state_dict(path)["t"])
