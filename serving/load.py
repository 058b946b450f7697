"""Load generation for the serving benchmarks: a closed loop of requests at a fixed
concurrency, the photos it sends, and the memory of the processes it measures."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import time
from pathlib import Path

import numpy as np

from cataract_contract import IMAGE_SUFFIXES, INPUT_IMAGE_BYTES


@dataclasses.dataclass
class LoadResult:
    concurrency: int
    seconds: float
    answered: int
    errors: int
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.answered / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


def group_rss_mib(pid: int) -> float:
    """Resident memory of a process and every process in its process group, in MiB."""
    result = subprocess.run(["ps", "-o", "rss=", "-g", str(os.getpgid(pid))], capture_output=True, text=True)
    return sum(int(value) for value in result.stdout.split()) / 1024


def process_rss_mib(pid: int) -> float:
    result = subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True)
    return sum(int(value) for value in result.stdout.split()) / 1024


async def drive(send, photos: list[bytes], concurrency: int, seconds: float) -> LoadResult:
    """Keep `concurrency` requests in flight for `seconds`; `send(photo)` does one."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            photo = photos[next(counter) % len(photos)]
            started = time.perf_counter()
            try:
                await send(photo)
                latencies.append(1000 * (time.perf_counter() - started))
            except Exception:  # counted, not raised: the benchmark reports errors
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(concurrency, time.perf_counter() - started, len(latencies), errors, latencies)


def photo_input(photo: bytes):
    """The `cataract` ensemble's input: one encoded photo as a [1, N] uint8 tensor."""
    import tritonclient.grpc as grpcclient

    array = np.frombuffer(photo, np.uint8)[None, :]
    tensor = grpcclient.InferInput(INPUT_IMAGE_BYTES, list(array.shape), "UINT8")
    tensor.set_data_from_numpy(array)
    return tensor


def load_photos(folder: Path, limit: int = 64) -> list[bytes]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not files:
        raise SystemExit(f"cataract bench: no photos under {folder}")
    return [p.read_bytes() for p in files]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
