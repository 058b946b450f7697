"""`cataract evaluate`: honest numbers on photos the model never trained or tuned on.

The decision threshold is chosen on the run's validation predictions (never on the
test photos), then applied unchanged to the held-out set.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np

from train_jax import dataset as datasets
from train_jax.config import write_json
from train_jax.dataset import CLASS_NAMES
from train_jax.errors import UserError
from train_jax.inference import predict_records
from train_jax.metrics import THRESHOLD_RULE, BinaryMetrics, binary_metrics, choose_threshold, roc_curve
from train_jax.runs import load_run, read_predictions, write_predictions

log = logging.getLogger(__name__)

CATARACT = CLASS_NAMES.index("cataract")


def evaluate(run_dir: str | Path, data: str | Path, batch_size: int = 16) -> dict[str, Any]:
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    run = load_run(run_dir)
    records = datasets.records_of_split_folder(data)
    scanned, unreadable = datasets.scan(records, "reading test photos")
    records = [image.record for image in scanned]
    datasets.require_both_classes(records, str(data))

    _, validation_labels, validation_scores = read_predictions(run.paths.validation_predictions)
    validation_positive = np.array(validation_labels) == CATARACT
    threshold = choose_threshold(validation_positive, np.array(validation_scores))

    probabilities = predict_records(run.model, records, batch_size, "predicting test photos")
    test_scores = probabilities[:, CATARACT]
    test_positive = np.array([r.label for r in records]) == CATARACT
    test_predictions = run.paths.root / "test_predictions.csv"
    write_predictions(test_predictions, [r.path for r in records], [r.label for r in records], test_scores)

    report = {
        "run": str(run.paths.root),
        "best_epoch": run.best_epoch,
        "test_data": str(data),
        "test_counts": datasets.class_counts(records),
        "test_unreadable": [dataclasses.asdict(bad) for bad in unreadable],
        "threshold": threshold,
        "threshold_rule": THRESHOLD_RULE,
        "validation_at_threshold": dataclasses.asdict(binary_metrics(validation_positive, validation_scores, threshold)),
        "test_at_threshold": dataclasses.asdict(binary_metrics(test_positive, test_scores, threshold)),
        "test_at_0.5": dataclasses.asdict(binary_metrics(test_positive, test_scores, 0.5)),
    }
    report["plots"] = {
        "roc": str(plot_roc(run.paths.root / "roc_curve.png", test_positive, test_scores, validation_positive, validation_scores, threshold)),
        "confusion": str(plot_confusion(run.paths.root / "confusion_matrix.png", binary_metrics(test_positive, test_scores, threshold))),
    }
    write_json(run.paths.evaluation, report)
    return report


def summary_lines(report: dict[str, Any]) -> list[str]:
    test, validation = report["test_at_threshold"], report["validation_at_threshold"]
    confusion = test["confusion"]
    return [
        f"threshold {report['threshold']:.3f} (chosen on validation by Youden's J; "
        f"validation accuracy {validation['accuracy']:.3f}, AUC {validation['roc_auc']:.3f})",
        f"test photos: {test['count']} ({report['test_counts']['cataract']} cataract, {report['test_counts']['normal']} normal)",
        f"accuracy {test['accuracy']:.3f}  precision {test['precision']:.3f}  recall/sensitivity {test['recall']:.3f}  "
        f"specificity {test['specificity']:.3f}  F1 {test['f1']:.3f}  ROC AUC {test['roc_auc']:.3f}",
        f"confusion: TP {confusion['true_positive']}  FN {confusion['false_negative']}  "
        f"FP {confusion['false_positive']}  TN {confusion['true_negative']}",
        f"written: {report['run']}/metrics.json, {report['plots']['roc']}, {report['plots']['confusion']}",
    ]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_roc(path: Path, test_positive, test_scores, validation_positive, validation_scores, threshold: float) -> Path:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(5, 5))
    for name, positive, scores in (("test", test_positive, test_scores), ("validation", validation_positive, validation_scores)):
        fpr, tpr, _ = roc_curve(positive, scores)
        chosen = binary_metrics(positive, scores, threshold)
        axes.plot(fpr, tpr, label=f"{name} (AUC {chosen.roc_auc:.3f})", drawstyle="steps-post")
        axes.plot(1 - chosen.specificity, chosen.recall, "o", color=axes.lines[-1].get_color())
    axes.plot([0, 1], [0, 1], ":", color="grey")
    axes.set(xlabel="1 - specificity (false positive rate)", ylabel="sensitivity (true positive rate)",
             title=f"ROC, cataract positive; dots: threshold {threshold:.2f}")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_confusion(path: Path, metrics: BinaryMetrics) -> Path:
    plt = _pyplot()
    c = metrics.confusion
    matrix = np.array([[c["true_positive"], c["false_negative"]], [c["false_positive"], c["true_negative"]]])
    figure, axes = plt.subplots(figsize=(4, 4))
    axes.imshow(matrix, cmap="Blues")
    for (row, column), value in np.ndenumerate(matrix):
        axes.text(column, row, str(value), ha="center", va="center",
                  color="white" if value > matrix.max() / 2 else "black", fontsize=14)
    axes.set_xticks([0, 1], ["cataract", "normal"])
    axes.set_yticks([0, 1], ["cataract", "normal"])
    axes.set(xlabel="predicted", ylabel="true", title=f"test, threshold {metrics.threshold:.2f}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
