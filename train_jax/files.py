"""Files written so that a reader never sees half of one: the one atomic write of training
and export (run folders, checkpoints' checksums, downloaded weights, the model repository,
the feature cache's shards)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> bool:
    """Write a temporary file beside `path`, flush it to disk, then rename it over `path`
    (atomic on POSIX) and flush the folder, so that after a crash or power loss `path` holds
    the old bytes or the new ones, never an empty or partial file. A file that already
    holds `data` is left alone (a polling Triton reloads every model whose files change).
    Returns whether the file was written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)  # mkstemp's 0600 would hide it from a server running as another user
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)
    return True


def sync_folder(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename into it) to disk."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def sync_tree(root: Path) -> None:
    """Flush every file and folder under `root` to disk (what TensorFlow and the converters
    write is not), so that a folder renamed into place is never empty after a power loss."""
    for folder, _, files in os.walk(root):
        for name in files:
            descriptor = os.open(Path(folder) / name, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        sync_folder(folder)


def file_in_the_way(path: str | os.PathLike) -> Path | None:
    """The nearest existing path above `path` when it is a file, not a folder (so `path`
    can never be made); else None."""
    above = next((parent for parent in Path(path).parents if parent.exists()), None)
    return above if above is not None and not above.is_dir() else None
