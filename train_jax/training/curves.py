"""Training curves where ML engineers look for them: TensorBoard event files in
RUN/tensorboard/ (`tensorboard --logdir RUN` finds them), and the learning curves drawn
as a PNG from RUN/metrics.jsonl for the report.

The events are written with tensorboardX, which needs neither TensorFlow nor TensorBoard:
TensorBoard's own writer imports TensorFlow (seconds and ~600 MB in the training process).
Two series of scalars, each at its own step:

    train/loss, train/accuracy, train/learning_rate   every log interval and at each epoch's
        last step, at the global optimizer step: the epoch's running mean loss and accuracy
        so far (at the last step, the epoch's own), and the learning rate
    epoch/<name>                                      every epoch, at the epoch number:
        the EPOCH_CURVES of its metrics.jsonl line (the same values, as float32)

Only process 0 writes (TrainingCurves.open(..., enabled=is_writer())); the others hold
curves that write nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

TENSORBOARD_FOLDER = "tensorboard"
# The metrics.jsonl fields drawn per epoch (val_auc when the line carries it).
EPOCH_CURVES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_auc")
STEP_CURVES = ("train/loss", "train/accuracy", "train/learning_rate")


def epoch_tag(name: str) -> str:
    return f"epoch/{name}"


class TrainingCurves:
    """A run's TensorBoard scalars; every method does nothing where writing is not enabled."""

    def __init__(self, writer: Any | None):
        self._writer = writer  # a tensorboardX SummaryWriter, or None on processes that do not write

    @classmethod
    def open(cls, run_root: str | Path, enabled: bool) -> "TrainingCurves":
        if not enabled:
            return cls(None)
        from tensorboardX import SummaryWriter  # only the writing process needs it

        return cls(SummaryWriter(str(Path(run_root) / TENSORBOARD_FOLDER)))

    def step(self, step: int, loss: float, accuracy: float, learning_rate: float) -> None:
        """One log interval, at the global optimizer step `step`."""
        for tag, value in zip(STEP_CURVES, (loss, accuracy, learning_rate)):
            self._scalar(tag, value, step)

    def epoch(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        """One epoch's metrics (its metrics.jsonl line: the EPOCH_CURVES in it are drawn),
        flushed so that a TensorBoard watching the run sees each epoch as it ends."""
        for name in EPOCH_CURVES:
            if name in metrics:
                self._scalar(epoch_tag(name), metrics[name], epoch)
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> "TrainingCurves":
        return self

    def __exit__(self, *_exception) -> None:
        self.close()

    def _scalar(self, tag: str, value: float, step: int) -> None:
        if self._writer is not None:
            self._writer.add_scalar(tag, float(value), int(step))


def read_metrics_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """metrics.jsonl's epochs, one dict per line."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_learning_curves(metrics_jsonl_path: str | Path, png_path: str | Path) -> Path:
    """Training and validation loss and accuracy per epoch, from RUN/metrics.jsonl, as a
    PNG; dotted lines mark where a phase (head, finetune) begins."""
    from matplotlib.figure import Figure  # no pyplot: no backend to choose, no global figure state
    from matplotlib.ticker import MaxNLocator

    epochs = read_metrics_jsonl(metrics_jsonl_path)
    numbers = [line["epoch"] for line in epochs]
    figure = Figure(figsize=(10, 4))
    for axes, measure in zip(figure.subplots(1, 2), ("loss", "accuracy")):
        for split, label, style in (("train", "training", "-"), ("val", "validation", "--")):
            axes.plot(numbers, [line[f"{split}_{measure}"] for line in epochs], style, marker="o", markersize=3, label=label)
        for before, line in zip(epochs, epochs[1:]):
            if line["phase"] != before["phase"]:
                axes.axvline(line["epoch"] - 0.5, linestyle=":", color="grey")
                axes.annotate(line["phase"], (line["epoch"] - 0.5, 1), xycoords=("data", "axes fraction"),
                              xytext=(3, -12), textcoords="offset points", color="grey")
        axes.set(xlabel="epoch", ylabel=measure, title=f"{measure} per epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend()
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    return Path(png_path)
