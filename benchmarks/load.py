"""Load generation for the serving benchmarks: a closed loop of requests at a fixed
concurrency, the photos it sends, a tally of what became of every request, and the
memory of the processes it measures."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import subprocess
import time
from pathlib import Path

import numpy as np

from cataract_contract import ENSEMBLE, INPUT_IMAGE_BYTES, OUTPUT_PROBABILITIES, image_files
from client.errors import is_busy

# Generous: a request of the closed loop may wait behind a full queue, never this long.
REQUEST_TIMEOUT_SECONDS = 60


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


@dataclasses.dataclass
class Tally:
    """What became of every request sent: answered with a well-formed result, refused at
    once as busy (the server's queue was full), or failed (with the reasons)."""

    sent: int = 0
    answered: int = 0
    busy: int = 0
    failed: int = 0
    reasons: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    @property
    def lost(self) -> int:
        """Requests with no outcome at all: must be zero."""
        return self.sent - self.answered - self.busy - self.failed

    def reset(self) -> None:
        self.sent = self.answered = self.busy = self.failed = 0
        self.reasons.clear()


def ensemble_sender(client, tally: Tally, busy_pause: float = 0.0):
    """send(photo) for drive(): one photo to the `cataract` ensemble over tritonclient's
    asyncio gRPC client, its outcome tallied. A busy refusal waits `busy_pause` seconds
    before the worker goes on, as a client backing off would. Failures and refusals are
    raised after tallying, so drive() keeps latencies of answered requests only."""

    async def send(photo: bytes) -> None:
        tally.sent += 1
        try:
            result = await client.infer(ENSEMBLE, [photo_input(photo)], client_timeout=REQUEST_TIMEOUT_SECONDS)
            probabilities = result.as_numpy(OUTPUT_PROBABILITIES)
            if probabilities.shape != (1, 2) or not np.isclose(probabilities.sum(), 1.0, atol=1e-3):
                raise RuntimeError("malformed answer")
        except Exception as exc:
            if is_busy(exc):
                tally.busy += 1
                await asyncio.sleep(busy_pause)
            else:
                tally.failed += 1
                tally.reasons[f"{type(exc).__name__}: {str(exc)[:160]}"] += 1
            raise
        tally.answered += 1

    return send


def photo_input(photo: bytes):
    """The `cataract` ensemble's input: one encoded photo as a [1, N] uint8 tensor."""
    import tritonclient.grpc as grpcclient

    array = np.frombuffer(photo, np.uint8)[None, :]
    tensor = grpcclient.InferInput(INPUT_IMAGE_BYTES, list(array.shape), "UINT8")
    tensor.set_data_from_numpy(array)
    return tensor


def load_photos(folder: Path, limit: int = 64) -> list[bytes]:
    files = image_files(folder)[:limit]
    if not files:
        raise SystemExit(f"cataract bench: no photos under {folder}")
    return [p.read_bytes() for p in files]
