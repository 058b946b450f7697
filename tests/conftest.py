"""Shared fixtures: synthetic photo sets (made once per session) and the real photos."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
REAL_PHOTOS = REPOSITORY.parent / "shared" / "datasets" / "cataract_eyes"

# The photo feature cache of this test session, apart from the user's (the commands the
# tests start inherit it).
os.environ["CATARACT_CACHE_DIR"] = tempfile.mkdtemp(prefix="cataract-test-cache-")
atexit.register(shutil.rmtree, os.environ["CATARACT_CACHE_DIR"], ignore_errors=True)

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


@pytest.fixture(scope="session")
def synthetic_photos(tmp_path_factory) -> Path:
    """96 synthetic photos (train 76 / test 20), 96 px high."""
    from train_jax.data.synth import generate

    root = tmp_path_factory.mktemp("synthetic") / "photos"
    generate(root, 96, seed=11, height=96)
    return root


@pytest.fixture(scope="session")
def real_photos() -> Path:
    if not (REAL_PHOTOS / "train").is_dir():
        pytest.skip(f"real photos not present at {REAL_PHOTOS} (they live beside the repository in ../shared)")
    return REAL_PHOTOS


def run_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `cataract ...` in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "train_jax.cli", *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPOSITORY,
        env={**os.environ, **(env or {})},
    )


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on right now (the OS picks them)."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="session")
def tiny_run(synthetic_photos, tmp_path_factory) -> Path:
    """A narrow 32x32 VGG16 trained for one epoch per phase: quick to export and serve."""
    from train_jax.training.trainer import train

    return train(tiny_config(synthetic_photos, tmp_path_factory.mktemp("tiny") / "run", epochs=1)).root


@pytest.fixture(scope="session")
def tiny_repository(tiny_run, tmp_path_factory) -> Path:
    from train_jax.export.export import export

    repository = tmp_path_factory.mktemp("repository") / "model_repository"
    # float32 on every CPU, so served answers can be held to 1e-4 of the in-process
    # SavedModel; the bfloat16 path (chosen by "auto" on AVX512_BF16 CPUs) has its own test.
    export(tiny_run, repository, cpu_precision="float32")
    return repository


def start_server(repository: Path, **options):
    """A real tritonserver on free ports; `options`: more ServerOptions fields."""
    from serving.embedded import LocalTritonServer, ServerOptions

    http, grpc, metrics = free_ports(3)
    return LocalTritonServer(ServerOptions(repository, http_port=http, grpc_port=grpc, metrics_port=metrics, **options)).start()


@pytest.fixture(scope="session")
def triton(tiny_repository):
    """A real tritonserver serving the tiny model, shared by the session's tests."""
    server = start_server(tiny_repository)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def slow_triton(tmp_path_factory):
    """A real tritonserver serving the slow test classifier (tests/slow_model.py): three
    instances and no batching, so each request runs alone as soon as one is free."""
    from slow_model import write_slow_repository

    server = start_server(write_slow_repository(tmp_path_factory.mktemp("slow"), instances=3))
    yield server
    server.stop()
