"""Checkpoints written while training goes on, and the validation pass: an asynchronous
save keeps the state it was given though the next step donates it, its checksums appear
only once it is complete, SIGTERM during a save waits for it and a kill during one
resumes from the checkpoint before, and validation in one jitted pass over the devices
matches batch-by-batch prediction."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tests.helpers import REPOSITORY, epoch_lines, run_cli, tiny_config, train_command, validation_scores
from train_jax.model.vgg16 import VGG16, ModelConfig
from train_jax.training import preemption
from train_jax.training.parallel import DataParallel
from train_jax.training.predict import make_predict, make_predict_chunks, pad_batch, put_chunks
from train_jax.training.run_folder import (
    HOLD_CHECKPOINT_ENVIRONMENT, AsyncCheckpoints, RunPaths, checkpoint_problem, restore_states,
)
from train_jax.training.trainer import train

SETTINGS = dict(head_epochs=2, finetune_epochs=2, patience=10)


def saved_state() -> dict:
    return {"kernel": jnp.arange(4096, dtype=jnp.float32).reshape(64, 64), "bias": jnp.ones(64, jnp.float32)}


def test_an_async_save_keeps_the_state_it_was_given_though_the_next_step_donates_it(tmp_path):
    paths = RunPaths(tmp_path)
    checkpoints = AsyncCheckpoints(paths, writer=True)
    state = saved_state()
    expected = jax.tree.map(np.array, state)
    checkpoints.save(1, state, {"count": jnp.zeros((), jnp.int32)}, {"global_epoch": 1}, val_loss=0.5)

    @functools.partial(jax.jit, donate_argnums=0)
    def overwrite(state):
        return jax.tree.map(lambda leaf: leaf * 0 - 7, state)

    for _ in range(3):  # as the next epoch's steps would, while the save is in flight
        state = overwrite(state)
    restored, _ = restore_states(checkpoints, 1, saved_state())
    checkpoints.close()
    jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.asarray, restored), expected)


def test_a_checkpoint_has_its_checksums_only_once_its_save_is_complete(tmp_path, monkeypatch):
    monkeypatch.setenv(HOLD_CHECKPOINT_ENVIRONMENT, "2:1")
    paths = RunPaths(tmp_path)
    checkpoints = AsyncCheckpoints(paths, writer=True)
    for step in (1, 2):
        checkpoints.save(step, saved_state(), {"count": jnp.zeros((), jnp.int32)}, {"global_epoch": step}, val_loss=1.0 / step)
    assert (paths.checksums / "1.json").is_file()  # the save of 2 waited for 1 to complete
    assert not (paths.checksums / "2.json").exists() and not (paths.checkpoints / "2").exists()  # held in flight
    assert checkpoint_problem(paths, 2) == "it was never completely recorded (no checksum file)"
    assert checkpoints.wait() == 2
    assert checkpoint_problem(paths, 2) is None
    checkpoints.close()


def test_sigterm_in_a_held_section_takes_effect_where_it_ends_after_waiting_for_the_save():
    events = []

    def wait_for_save():
        events.append("waited for the save")
        return 3

    with pytest.raises(SystemExit) as exit_info:
        with preemption.exit_on_sigterm(wait_for_save):
            with preemption.held():
                os.kill(os.getpid(), signal.SIGTERM)
                events.append("the held section ran to its end")
            events.append("unreachable")
    assert exit_info.value.code == preemption.TERMINATED_EXIT_CODE == 143
    assert events == ["the held section ran to its end", "waited for the save"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler before it is back


def test_validation_in_one_jitted_pass_matches_batch_by_batch_prediction():
    model = VGG16(ModelConfig(image_size=32, width=0.125), rngs=nnx.Rngs(0))
    model.eval()
    graphdef, state = nnx.split(model, nnx.Param)
    images = np.random.default_rng(0).integers(0, 256, (11, 32, 32, 3), dtype=np.uint8)
    parallel = DataParallel.local_mesh(4)

    chunks = put_chunks(images, parallel)
    assert chunks.shape == (3, 4, 32, 32, 3)
    in_one_pass = np.asarray(make_predict_chunks(graphdef)(state, chunks)).reshape(-1, 2)[: len(images)]
    predict = make_predict(graphdef)
    batch_by_batch = np.concatenate([np.asarray(predict(state, pad_batch(images[i : i + 4], 4)))[: len(images[i : i + 4])]
                                     for i in range(0, len(images), 4)])
    np.testing.assert_allclose(in_one_pass, batch_by_batch, atol=1e-6)


def start_with_a_held_save(config, epoch: int, seconds: float, *extra: str) -> subprocess.Popen:
    """`cataract train` in its own process, returned once the save of `epoch` is in flight
    (held there for `seconds`)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cataract_cli", *train_command(config), *extra], cwd=REPOSITORY,
        env={**os.environ, HOLD_CHECKPOINT_ENVIRONMENT: f"{epoch}:{seconds}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    for line in process.stderr:
        if f"holding the checkpoint of epoch {epoch} in flight" in line:
            return process
    raise AssertionError(f"training ended ({process.wait()}) before the save of epoch {epoch}")


@pytest.mark.slow
def test_a_run_stopped_during_saves_resumes_from_its_last_complete_checkpoint_and_matches_an_unbroken_one(
        synthetic_photos, tmp_path):
    unbroken = train(tiny_config(synthetic_photos, tmp_path / "unbroken", **SETTINGS)).root
    config = tiny_config(synthetic_photos, tmp_path / "run", **SETTINGS)
    run = Path(config.out)

    # SIGTERM while the head phase's last save is in flight (the next phase starts by
    # restoring the best weights, which waits for it): the run completes it, then exits.
    process = start_with_a_held_save(config, 2, seconds=5)
    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=120)
    assert process.returncode == preemption.TERMINATED_EXIT_CODE, log
    assert "terminated (SIGTERM): the checkpoint of epoch 2 is complete" in log
    assert json.loads((run / "checksums" / "2.json").read_text())
    assert [line["epoch"] for line in epoch_lines(run)] == [1, 2]

    # kill -9 while the fine-tuning phase's first save is in flight: that checkpoint never completes.
    process = start_with_a_held_save(config, 3, 600, "--resume")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert not (run / "checkpoints" / "3").exists() and not (run / "checksums" / "3.json").exists()

    refused = run_cli(*train_command(config))  # a run folder with checkpoints is never trained over
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = run_cli(*train_command(config), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch 2 " in resumed.stderr
    assert [line["epoch"] for line in epoch_lines(run)] == [1, 2, 3, 4]
    assert not list((run / "checkpoints").glob("*tmp*"))  # what the killed save left is cleaned up
    np.testing.assert_allclose(validation_scores(run), validation_scores(unbroken), atol=1e-5)


def test_with_an_interval_only_the_best_and_each_phase_s_last_epoch_are_saved(synthetic_photos, tmp_path):
    # A rate too small to move the validation loss by MIN_IMPROVEMENT: epoch 1 stays the
    # best, so epochs 2 and 3 are neither the best nor a phase's last, and within the hour.
    run = tmp_path / "run"
    config = tiny_config(synthetic_photos, run, head_epochs=4, finetune_epochs=0, learning_rate=1e-12, patience=10,
                         checkpoint_every_seconds=3600)
    trained = run_cli(*train_command(config))
    assert trained.returncode == 0, trained.stderr
    lines = epoch_lines(run)
    assert [line["epoch"] for line in lines] == [1, 2, 3, 4] and [line["best"] for line in lines] == [True, False, False, False]
    assert sorted(int(step.name) for step in (run / "checkpoints").iterdir() if step.name.isdigit()) == [1, 4]
    assert sorted(record.stem for record in (run / "checksums").glob("*.json")) == ["1", "4"]
