"""What tests share besides fixtures: paths, the tiny training settings, ports, and the
product's processes started for real (the command line, Triton, a door)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from serving.embedded import free_ports

REPOSITORY = Path(__file__).resolve().parent.parent
REAL_PHOTOS = REPOSITORY.parent / "shared" / "datasets" / "cataract_eyes"

# Small and quick: the settings most training tests use (a narrow VGG16 at 32x32).
TINY_SETTINGS = dict(weights="none", image_size=32, width=0.125, batch_size=8, unfreeze_blocks=1, augmented_views=2)


def tiny_config(data: Path, out: Path, **overrides):
    """A TrainConfig for the tiny network; tests build configs, not flag lists."""
    from train_jax.training.config import TrainConfig

    return TrainConfig(data=str(data), out=str(out), **{**TINY_SETTINGS, **overrides})


def train_command(config) -> list[str]:
    """`cataract train` with the flags that rebuild `config`, for tests that run the
    command line in another process, as a user would."""
    from train_jax.settings import to_arguments

    return ["train", *to_arguments(config)]


def epoch_lines(run: Path) -> list[dict]:
    """A run's metrics.jsonl, one dict per epoch."""
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def validation_scores(run: Path):
    """A run's validation scores (val_predictions.csv), in order, as a numpy array."""
    import numpy as np

    with open(run / "val_predictions.csv") as file:
        return np.array([float(row["p_cataract"]) for row in csv.DictReader(file)])


def colours(png: Path, size: tuple[int, int]) -> set[tuple[int, int, int]]:
    """The colours of a plot written as a PNG of `size` pixels (5 x 5 inches at 100 dpi: 500 x 500)."""
    from PIL import Image

    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == size
        return {colour[:3] for _, colour in image.convert("RGB").getcolors(maxcolors=size[0] * size[1])}


def split_photos(photos: Path, count: int | None = None) -> list[Path]:
    """The first `count` JPEGs of a synthetic set's test split, in a stable order."""
    return sorted((photos / "test").rglob("*.jpg"))[:count]


def run_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `cataract ...` in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "cataract_cli", *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPOSITORY,
        env={**os.environ, **(env or {})},
    )


def start_server(repository: Path, **options):
    """A real tritonserver on free ports; `options`: more ServerOptions fields."""
    from serving.embedded import LocalTritonServer, ServerOptions

    http, grpc, metrics = free_ports(3)
    return LocalTritonServer(ServerOptions(repository, http_port=http, grpc_port=grpc, metrics_port=metrics, **options)).start()


def model_statistics(server, model: str) -> dict:
    """Triton's statistics for `model` (its first version listed), read over HTTP."""
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(server.http_url)
    try:
        return client.get_inference_statistics(model)["model_stats"][0]
    finally:
        client.close()


def settled_count(read, expected: int = 0, seconds: float = 10.0, quiet: float = 0.3) -> int:
    """read() `quiet` seconds after it reached `expected` (or after `seconds` if it never
    did): what lands in that pause (a resent request) is in the count returned. Triton
    counts a request when it releases it, a moment after the client has its answer or
    refusal: read at once on a loaded machine, a count comes up short.
    A count taken before a test's requests (its baseline) waits `quiet` too, so that what
    earlier requests left to count lands before it, not inside the test's difference."""
    deadline = time.monotonic() + seconds
    while read() < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(quiet)  # anything beyond `expected` (a resent request) lands too
    return read()


def start_door(command: list[str], url: str, ready_path: str = "/health") -> subprocess.Popen:
    """`cataract gateway ...` or `cataract dashboard ...` in its own process, once it answers."""
    process = subprocess.Popen([sys.executable, "-m", "cataract_cli", *command], cwd=REPOSITORY,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            requests.get(url + ready_path, timeout=5, allow_redirects=False)
            return process
        except requests.ConnectionError:
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.3)
    process.kill()
    raise AssertionError(f"{command[0]} did not start")


def stop_door(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def start_polled_server(run: Path, folder: Path, poll_seconds: float):
    """Version 1 of `run` exported into folder/model_repository and served by a real
    tritonserver polling it every `poll_seconds`: (server, repository)."""
    from train_jax.export.export import export

    repository = folder / "model_repository"
    # A tiny run does not learn by the verdict's rule; these tests are about serving it.
    export(run, repository, cpu_precision="float32", allow_unproven=True)
    return start_server(repository, model_control="poll", poll_seconds=poll_seconds), repository


def fake_screener(answers):
    """A stand-in for client.triton_client.CataractClient whose predict_many returns
    `answers(sources)`: for CLI tests that pin formatting and exit codes only (the real
    client against a real Triton is tested in tests/client and tests/test_gradability_doors.py)."""

    class Screener:
        def __init__(self, *args, **options):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            return None

        def predict_many(self, sources):
            return answers(sources)

    return Screener

