"""`cataract bench serve`: photos in, answers out, measured three ways on one machine.

1. The embedded Triton serving the repository, driven by tritonclient's asyncio gRPC
   client: encoded photos to the `cataract` ensemble (server-side decoding, dynamic
   batching), at each concurrency level for a fixed time.
2. The same SavedModel in this process (TensorFlow), decoding photos and calling the
   model at batch 1 and 8: the ceiling for any server on this machine.
3. The reference server built the way the earlier project served (FastAPI, one float32
   model call per request), driven at the same concurrency levels.

Prints throughput (photos/s), p50/p95/p99 latency, errors, and the servers' resident
memory (the server process and every process it started).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cataract_contract import (
    CLASSIFIER,
    ENSEMBLE,
    OUTPUT_PROBABILITIES,
    SAVEDMODEL_DIR,
    ModelCard,
    ModelCardError,
    decode_image,
    resize_for_model,
    version_numbers,
)
from serving.embedded import LocalTritonServer, ServerOptions, free_ports
from benchmarks.load import LoadResult, drive, group_rss_mib, load_photos, photo_input, process_rss_mib
from savedmodel_runner import SavedModelClassifier


async def triton_load(grpc_url: str, photos: list[bytes], levels: list[int], seconds: float) -> list[LoadResult]:
    import tritonclient.grpc as grpcclient
    import tritonclient.grpc.aio as aio

    client = aio.InferenceServerClient(grpc_url)

    async def send(photo: bytes) -> None:
        result = await client.infer(ENSEMBLE, [photo_input(photo)], outputs=[grpcclient.InferRequestedOutput(OUTPUT_PROBABILITIES)])
        if result.as_numpy(OUTPUT_PROBABILITIES).shape != (1, 2):
            raise RuntimeError("malformed answer")

    try:
        await drive(send, photos, max(levels), min(seconds, 5))  # warm-up, not reported
        return [await drive(send, photos, level, seconds) for level in levels]
    finally:
        await client.close()


async def reference_load(url: str, photos: list[bytes], levels: list[int], seconds: float) -> list[LoadResult]:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max(levels))) as session:

        async def send(photo: bytes) -> None:
            form = aiohttp.FormData()
            form.add_field("file", photo, filename="photo.jpg", content_type="image/jpeg")
            async with session.post(url, data=form) as response:
                answer = await response.json()
                if response.status != 200 or "prediction" not in answer:
                    raise RuntimeError(f"HTTP {response.status}")

        await drive(send, photos, max(levels), min(seconds, 5))
        return [await drive(send, photos, level, seconds) for level in levels]


def in_process_rates(savedmodel_dir: Path, photos: list[bytes], size: int, seconds: float, precision: str) -> dict[int, float]:
    """Photos/s of decode + resize + the SavedModel in this process, at batch 1 and 8, in the
    precision the server runs, loaded as the server loads it."""
    classifier = SavedModelClassifier(savedmodel_dir, precision)

    def step(start: int, batch: int) -> None:
        classifier(np.stack([resize_for_model(decode_image(photos[(start + i) % len(photos)]), size) for i in range(batch)]))

    rates = {}
    for batch in (1, 8):
        step(0, batch)  # warm-up
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            step(done, batch)
            done += batch
        rates[batch] = done / (time.perf_counter() - started)
    return rates


def client_transport_rates(grpc_url: str, photos: list[bytes], rounds: int = 2) -> dict[str, float]:
    """Photos/s of CataractClient.predict_many with each transport: "tensor" decodes and
    resizes here and sends batches of pixels; "bytes" sends the files to the ensemble."""
    from client.triton_client import CataractClient

    rates = {}
    for transport in ("tensor", "bytes"):
        with CataractClient(grpc_url, "grpc", transport=transport, timeout=120) as client:
            client.predict_many(photos[:8])  # warm-up: connection, config
            started = time.perf_counter()
            for _ in range(rounds):
                failed = [r for r in client.predict_many(photos) if isinstance(r, Exception)]
                if failed:
                    raise SystemExit(f"cataract bench serve: the client failed: {failed[0]}")
            rates[transport] = rounds * len(photos) / (time.perf_counter() - started)
    return rates


def print_table(title: str, results: list[LoadResult], rss_start: float, rss_end: float) -> None:
    print(f"\n{title}  (resident memory {rss_start:.0f} -> {rss_end:.0f} MiB)")
    print(f"  {'concurrency':>11s} {'photos/s':>9s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'answered':>9s} {'errors':>7s}")
    for r in results:
        print(f"  {r.concurrency:11d} {r.throughput:9.2f} {r.percentile(50):8.0f} {r.percentile(95):8.0f} "
              f"{r.percentile(99):8.0f} {r.answered:9d} {r.errors:7d}")


def run_serving_benchmark(repository: Path, photo_folder: Path, levels: list[int], seconds: float, skip_reference: bool = False) -> dict:
    model_dir = repository / CLASSIFIER
    versions = version_numbers(model_dir)
    if not versions:
        raise SystemExit(f"cataract bench serve: no exported version in {model_dir}: run `cataract export` first")
    version_dir = model_dir / str(versions[-1])
    try:
        card = ModelCard.read(version_dir)
    except ModelCardError as exc:
        raise SystemExit(f"cataract bench serve: {exc}: re-export with `cataract export`") from None
    photos = load_photos(photo_folder)
    size = card.image_size
    print(f"serving benchmark | {CLASSIFIER} v{versions[-1]}, {size}x{size}, CPU precision {card.cpu_precision} "
          f"| {len(photos)} photos from {photo_folder} | {seconds:.0f} s per level | {os.cpu_count()} CPU cores")
    report: dict = {"model_version": versions[-1], "precision": card.cpu_precision, "image_size": size}

    with LocalTritonServer(ServerOptions.on_free_ports(repository)) as server:
        rss_start = group_rss_mib(server.process.pid)
        triton = asyncio.run(triton_load(server.grpc_url, photos, levels, seconds))
        rss_end = group_rss_mib(server.process.pid)
        transports = client_transport_rates(server.grpc_url, photos)
    print_table("Triton, `cataract` ensemble over gRPC (photos in, answers out)", triton, rss_start, rss_end)
    report["triton"] = [dataclasses.asdict(r) | {"throughput": r.throughput, "p99": r.percentile(99)} for r in triton]
    print(f"\nclient library, predict_many of {len(photos)} photos over gRPC: "
          + ", ".join(f"transport={name} {rate:.2f} photos/s" for name, rate in transports.items()))
    report["client_transports"] = transports

    rates = in_process_rates(version_dir / SAVEDMODEL_DIR, photos, size, seconds, card.cpu_precision)
    print(f"\nin-process SavedModel (decode + resize + TF, {card.cpu_precision}): "
          f"batch 1 {rates[1]:.2f} photos/s, batch 8 {rates[8]:.2f} photos/s")
    report["in_process"] = rates

    if not skip_reference:
        (port,) = free_ports(1)
        reference = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.reference_server", str(version_dir / SAVEDMODEL_DIR), "--port", str(port)],
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/docs", reference)
            rss_start = process_rss_mib(reference.pid)
            results = asyncio.run(reference_load(f"http://127.0.0.1:{port}/predict/", photos, levels, seconds))
            rss_end = process_rss_mib(reference.pid)
        finally:
            reference.terminate()
            reference.wait()
        print_table("reference: FastAPI POST /predict/, one float32 call per request", results, rss_start, rss_end)
        report["reference"] = [dataclasses.asdict(r) | {"throughput": r.throughput, "p99": r.percentile(99)} for r in results]
        summarise(triton, results, rates)
    for entry in report.get("triton", []) + report.get("reference", []):
        entry.pop("latencies_ms")
    return report


def summarise(triton: list[LoadResult], reference: list[LoadResult], in_process: dict[int, float]) -> None:
    print("\nTriton against the others, per concurrency:")
    ceiling = max(in_process.values())
    for ours, theirs in zip(triton, reference):
        ratio = ours.throughput / theirs.throughput if theirs.throughput else float("inf")
        print(f"  concurrency {ours.concurrency:2d}: {ours.throughput / ceiling:5.0%} of in-process, "
              f"{ratio:4.2f}x the reference's throughput, "
              f"p99 {ours.percentile(99):.0f} vs {theirs.percentile(99):.0f} ms")


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"cataract bench serve: the reference server exited with code {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise SystemExit("cataract bench serve: the reference server did not start")
