"""Shared fixtures: synthetic photo sets (made once per session) and the real photos."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
REAL_PHOTOS = REPOSITORY.parent / "shared" / "datasets" / "cataract_eyes"

# Small and quick: the settings most training tests use (a narrow VGG16 at 32x32).
TINY_TRAIN_ARGS = [
    "--weights", "none", "--image-size", "32", "--width", "0.125", "--batch-size", "8",
    "--unfreeze-blocks", "1", "--augmented-views", "2",
]


@pytest.fixture(scope="session")
def synthetic_photos(tmp_path_factory) -> Path:
    """96 synthetic photos (train 76 / test 20), 96 px high."""
    from train_jax.synth import generate

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
