"""Training curves: the TensorBoard events read back with tbparse and TensorBoard's own
loader hold exactly the values and steps written (and a trained run's, those of its
metrics.jsonl); the learning-curve plot is a PNG."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from train_jax.training.curves import (
    EPOCH_CURVES, STEP_CURVES, TENSORBOARD_FOLDER, TrainingCurves, epoch_tag, plot_learning_curves,
)

tbparse = pytest.importorskip("tbparse")


def scalars(folder) -> dict[str, dict[int, float]]:
    """tag -> {step: value}, as tbparse reads the event files under `folder`."""
    frame = tbparse.SummaryReader(str(folder)).scalars
    curves: dict[str, dict[int, float]] = {}
    for tag, step, value in zip(frame["tag"], frame["step"], frame["value"]):
        assert int(step) not in curves.setdefault(tag, {}), f"{tag} has step {step} twice"
        curves[tag][int(step)] = float(value)
    return curves


def as_stored(value: float) -> float:
    return float(np.float32(value))  # TensorBoard keeps scalars as float32


STEPS = {10: (0.69, 0.5, 1e-4), 20: (0.61, 0.625, 5e-4), 40: (0.42, 0.8125, 1e-3)}
EPOCHS = {
    1: {"epoch": 1, "phase": "head", "train_loss": 0.65, "train_accuracy": 0.55, "val_loss": 0.6, "val_accuracy": 0.6,
        "seconds": 3.5, "best": True},
    2: {"epoch": 2, "phase": "finetune", "train_loss": 0.4, "train_accuracy": 0.8, "val_loss": 0.45, "val_accuracy": 0.75,
        "val_auc": 0.875, "seconds": 4.25, "best": True},
}


def test_events_hold_the_values_and_steps_written(tmp_path):
    with TrainingCurves.open(tmp_path, enabled=True) as curves:
        for step, (loss, accuracy, rate) in STEPS.items():
            curves.step(step, loss, accuracy, rate)
        for epoch, metrics in EPOCHS.items():
            curves.epoch(epoch, metrics)

    read = scalars(tmp_path / TENSORBOARD_FOLDER)
    for index, tag in enumerate(STEP_CURVES):
        assert read[tag] == {step: as_stored(values[index]) for step, values in STEPS.items()}
    for name in EPOCH_CURVES:
        assert read[epoch_tag(name)] == {epoch: as_stored(m[name]) for epoch, m in EPOCHS.items() if name in m}
    assert set(read) == {*STEP_CURVES, *map(epoch_tag, EPOCH_CURVES)}, "only the curves: no phase, seconds or best"


def test_tensorboard_finds_the_run_under_the_run_folder(tmp_path):
    """What `tensorboard --logdir RUN` does: every folder below RUN holding events is a run."""
    multiplexer = pytest.importorskip("tensorboard.backend.event_processing.plugin_event_multiplexer")
    from tensorboard.util import tensor_util

    with TrainingCurves.open(tmp_path, enabled=True) as curves:
        curves.epoch(2, EPOCHS[2])
    loader = multiplexer.EventMultiplexer().AddRunsFromDirectory(str(tmp_path))
    loader.Reload()
    assert list(loader.Runs()) == [TENSORBOARD_FOLDER]
    [event] = loader.Tensors(TENSORBOARD_FOLDER, epoch_tag("val_auc"))  # TensorBoard holds scalars as tensors
    assert event.step == 2 and float(tensor_util.make_ndarray(event.tensor_proto)) == as_stored(EPOCHS[2]["val_auc"])


def test_curves_not_enabled_write_nothing(tmp_path):
    with TrainingCurves.open(tmp_path, enabled=False) as curves:  # a process other than 0
        curves.step(10, 0.5, 0.5, 1e-3)
        curves.epoch(1, EPOCHS[1])
    assert list(tmp_path.iterdir()) == []


def test_learning_curves_are_a_png(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("".join(json.dumps({**line, "epoch": epoch}) + "\n" for epoch, line in
                               enumerate([EPOCHS[1], EPOCHS[1], EPOCHS[2], EPOCHS[2]], start=1)))
    png = plot_learning_curves(metrics, tmp_path / "learning_curves.png")
    with Image.open(png) as image:
        image.load()
        assert image.format == "PNG" and image.size == (1000, 400)
        pixels = np.asarray(image.convert("L"))
    assert pixels.min() < 128 < pixels.max(), "curves drawn on the white page"


def test_a_trained_run_s_events_match_its_metrics_jsonl(tiny_run):
    """The trainer's curves: each epoch's values are those of its metrics.jsonl line, and
    the training curves are logged every log_every steps and at each epoch's last step,
    where they hold the epoch's training loss and accuracy."""
    lines = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    config = json.loads((tiny_run / "config.json").read_text())["train"]
    steps_per_epoch = len(json.loads((tiny_run / "split.json").read_text())["train"]) // config["batch_size"]
    read = scalars(tiny_run / TENSORBOARD_FOLDER)
    for name in EPOCH_CURVES:
        assert read.get(epoch_tag(name), {}) == {line["epoch"]: as_stored(line[name]) for line in lines if name in line}, name
    for line in lines:
        last_step = line["epoch"] * steps_per_epoch
        assert read["train/loss"][last_step] == as_stored(line["train_loss"])
        assert read["train/accuracy"][last_step] == as_stored(line["train_accuracy"])
    steps = sorted(read["train/loss"])
    assert all(step % steps_per_epoch == 0 or step % steps_per_epoch % config["log_every"] == 0 for step in steps)
    assert sorted(read["train/accuracy"]) == sorted(read["train/learning_rate"]) == steps
