"""Shared fixtures: synthetic photo sets (made once per session) and the real photos."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from cataract_contract import CACHE_ENVIRONMENT
from serving.runtime import ServerError, runtime_location
from tests.helpers import REAL_PHOTOS, start_server, tiny_config
from train_jax.data.feature_store import DEPRECATED_CACHE_ENVIRONMENT


def session_cache_root() -> str:
    """The test session's own cache root: its photo feature cache starts empty and the
    user's is untouched (the commands the tests start inherit it). Its Triton runtime is a
    link to the user's (~600 MB, provisioned once per machine, not once per session)."""
    folder = Path(tempfile.mkdtemp(prefix="cataract-test-cache-"))
    with contextlib.suppress(ServerError):  # no system Python: the server tests will say so
        _, runtime = runtime_location()  # the user's, before the variable changes
        (folder / runtime.root.name).symlink_to(runtime.root)
    return str(folder)


os.environ.pop(DEPRECATED_CACHE_ENVIRONMENT, None)  # it would override the session's feature cache
os.environ[CACHE_ENVIRONMENT] = session_cache_root()
atexit.register(shutil.rmtree, os.environ[CACHE_ENVIRONMENT], ignore_errors=True)


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
    export(tiny_run, repository, cpu_precision="float32", allow_unproven=True)
    return repository


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
    from tests.slow_model import write_slow_repository

    server = start_server(write_slow_repository(tmp_path_factory.mktemp("slow"), instances=3))
    yield server
    server.stop()


# Tiers: `pytest -m "not server and not slow"` is the fast tier. A test that needs a real
# tritonserver (through these fixtures, or by starting one itself, marked by hand) is
# `server`; one that drives Chromium is `browser`, and a browser test needs a server too.
SERVER_FIXTURES = {"triton", "slow_triton", "far", "polled_repository", "stack", "test_model_stack", "gateway"}
BROWSER_FIXTURES = {"page"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.server)
        if fixtures & SERVER_FIXTURES:
            item.add_marker(pytest.mark.server)
