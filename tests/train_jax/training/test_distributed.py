"""Training on several processes as one: JAX's distributed runtime on this CPU (gloo
collectives), two processes against one, and a resume across two processes."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from tests.helpers import REPOSITORY, free_ports, tiny_config, train_command
from train_jax.data.augment import AugmentConfig
from train_jax.data.pipeline import epoch_batches
from train_jax.data.scan import discover
from train_jax.training.config import TrainConfig
from train_jax.training.run_folder import load_run
from train_jax.training.trainer import train

# Fresh augmentation every step (the GPU path; the feature cache is one process's), dropout on.
SETTINGS = dict(augmented_views=0, batch_size=8, head_epochs=2, finetune_epochs=2, patience=10, dropout=0.5)


def epochs_logged(run: Path) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def validation_scores(run: Path) -> np.ndarray:
    with open(run / "val_predictions.csv") as file:
        return np.array([float(row["p_cataract"]) for row in csv.DictReader(file)])


def start_processes(config: TrainConfig, count: int, *extra: str) -> list[subprocess.Popen]:
    """`count` processes of one `cataract train` job on this machine, one CPU device each."""
    (port,) = free_ports(1)
    environment = {**os.environ, "JAX_PLATFORMS": "cpu"}
    environment.pop("XLA_FLAGS", None)
    return [
        subprocess.Popen(
            [sys.executable, "-m", "cataract_cli", *train_command(config), *extra,
             "--coordinator", f"127.0.0.1:{port}", "--num-processes", str(count), "--process-id", str(rank)],
            cwd=REPOSITORY, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for rank in range(count)
    ]


def wait_all(processes: list[subprocess.Popen], timeout: float = 600) -> None:
    for process in processes:
        output, _ = process.communicate(timeout=timeout)
        assert process.returncode == 0, output[-3000:]


def test_each_process_reads_its_rows_of_the_one_process_batch(synthetic_photos):
    records = discover(synthetic_photos)["train"][:32]
    options = dict(image_size=32, batch_size=8, seed=3, epochs=(2,), shuffle=True, augment_config=AugmentConfig(),
                   drop_remainder=True)
    whole = list(epoch_batches(records, **options))
    halves = [list(epoch_batches(records, **options, shard=(rank, 2))) for rank in range(2)]
    assert len(whole) == len(halves[0]) == len(halves[1]) == 4
    for step, batch in enumerate(whole):
        for key in ("image", "label"):
            np.testing.assert_array_equal(np.concatenate([halves[0][step][key], halves[1][step][key]]), batch[key])


@pytest.mark.slow
def test_two_processes_train_like_one_and_resume_together(synthetic_photos, tmp_path):
    one = train(tiny_config(synthetic_photos, tmp_path / "one", **SETTINGS)).root

    two = tmp_path / "two"
    config = tiny_config(synthetic_photos, two, **SETTINGS)
    processes = start_processes(config, 2)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and all(p.poll() is None for p in processes):
        if (two / "metrics.jsonl").is_file() and len(epochs_logged(two)) >= 2:
            break
        time.sleep(0.05)
    assert all(p.poll() is None for p in processes), "training ended before it could be interrupted: " + "".join(
        p.communicate()[0][-2000:] for p in processes)
    for process in processes:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert len(epochs_logged(two)) < 4

    wait_all(start_processes(config, 2, "--resume"))
    assert epochs_logged(two) == [1, 2, 3, 4]
    info = json.loads((two / "config.json").read_text())
    assert info["processes"] == 2 and len(info["devices"]) == 2

    # The same global batches and seed: the same parameters, whatever the process count.
    first, second = load_run(one), load_run(two)
    assert first.best_epoch == second.best_epoch
    ones = jax.tree.leaves(nnx.state(first.model, nnx.Param))
    twos = jax.tree.leaves(nnx.state(second.model, nnx.Param))
    for a, b in zip(ones, twos):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-5)
    np.testing.assert_allclose(validation_scores(two), validation_scores(one), atol=1e-5)
    losses = [[json.loads(line)["train_loss"] for line in (run / "metrics.jsonl").read_text().splitlines()] for run in (one, two)]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)


@pytest.mark.slow
def test_the_feature_cache_refuses_several_processes_in_one_line(synthetic_photos, tmp_path):
    config = tiny_config(synthetic_photos, tmp_path / "run", augmented_views=2, epochs=1)
    processes = start_processes(config, 2)
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert all(process.returncode == 2 for process in processes), outputs
    assert "pass --augmented-views 0 to train on several" in outputs[0].strip().splitlines()[-1]


@pytest.mark.parametrize("platform,devices,processes,expected,cpus", [
    ("cpu", 1, 1, dict(batch_size=16, augmented_views=4, workers=0, compute_dtype="float32"), 32),
    ("cpu", 2, 2, dict(batch_size=16, augmented_views=0, workers=0, compute_dtype="float32"), 32),
    ("gpu", 1, 1, dict(batch_size=128, augmented_views=0, workers=8, compute_dtype="bfloat16"), 32),
    ("gpu", 8, 2, dict(batch_size=1024, augmented_views=0, workers=16, compute_dtype="bfloat16"), 128),
    ("gpu", 1, 1, dict(workers=4), 16),
])
def test_auto_settings_follow_the_devices(tmp_path, platform, devices, processes, expected, cpus):
    config = TrainConfig(data=str(tmp_path), out=str(tmp_path / "run")).resolved(platform, devices, processes, cpus, 10_000)
    assert {key: getattr(config, key) for key in expected} == expected
    small = TrainConfig(data=str(tmp_path), out=str(tmp_path / "run")).resolved("gpu", 1, 1, 32, 380)
    assert small.batch_size == 47, "at most an eighth of the training photos, so an epoch has steps to learn from"
    assert small.learning_rates()[0] == pytest.approx(1e-4 * (47 / 16) ** 0.5)
