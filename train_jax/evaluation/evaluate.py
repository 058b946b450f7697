"""`cataract evaluate`: honest numbers on photos the model never trained or tuned on.

The decision threshold is the one training chose on its validation predictions (never
on the test photos, RUN/threshold.json), applied unchanged to the held-out set. Test photos that are copies of the
run's training or validation photos are found and reported; the scores are given with
and without them. Training's verdict on the run (whether it learned) stays in
RUN/metrics.json beside these figures, and heads the report.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np

from cataract_contract import CATARACT, reason_text
from train_jax.data import scan as photos
from train_jax.data.checks import find_copy_groups, leaked_test_paths
from train_jax.data.scan import ImageRecord, ScannedImage
from train_jax.errors import UserError
from train_jax.evaluation.metrics import binary_metrics, bootstrap_intervals, reliability
from train_jax.evaluation.report import GRADABILITY_KEY, write_report
from train_jax.gradability.fit import checks_text, refusal_counts, refused_by_check
from train_jax.gradability.measures import decide, measure_records
from train_jax.gradability.spec import FIT_GATE_HINT, GateSpec
from train_jax.training.config import read_json, write_json
from train_jax.training.predict import predict_records
from train_jax.training.run_folder import RunPaths, TrainedRun, load_run, read_predictions, read_threshold, write_predictions
from train_jax.training.verdict import NOT_STORED, VERDICT_KEY, Verdict, stored_verdict

log = logging.getLogger(__name__)


def leaked_photos(paths: RunPaths, test: list[ScannedImage]) -> list[str] | None:
    """Test photos that are copies of the run's training or validation photos; None
    when those photos are no longer where the run found them."""
    split = read_json(paths.split)
    seen = [ImageRecord(path, 0) for path in split["train"] + split["validation"]]
    if not all(Path(record.path).is_file() for record in seen):
        log.warning("the run's training photos moved: test leakage cannot be checked")
        return None
    seen_scanned, _ = photos.scan(seen, "reading the run's training photos")
    groups = find_copy_groups([("train", image) for image in seen_scanned] + [("test", image) for image in test])
    return leaked_test_paths(groups)


def scores_at(is_positive: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    return dataclasses.asdict(binary_metrics(is_positive, scores, threshold))


def load_gate(run: TrainedRun) -> GateSpec | None:
    """The run's gradability gate; None, with a warning, for a run without one."""
    if not GateSpec.exists(run.paths.root):
        log.warning("%s has no gradability gate: the test photos are not checked (%s)", run.paths.root, FIT_GATE_HINT)
        return None
    return GateSpec.load(run.paths.root)


def gate_report(run: TrainedRun, spec: GateSpec | None, test: list[ScannedImage], positive: np.ndarray,
                scores: np.ndarray, threshold: float) -> dict[str, Any] | None:
    """The run's gradability gate on the test photos: how many it refuses and why, which,
    and the figures on the photos it grades beside those on all; None for a run without
    a gate."""
    if spec is None:
        return None
    measured = measure_records(run.model, spec.feature_blocks, [image.record for image in test])
    photo_size = np.array([(image.height, image.width) for image in test], np.int32).reshape(-1, 2)
    decision = decide(spec, measured, photo_size)
    graded = decision["gradable"]
    refused = [{"file": image.record.path, "reason": reason_text(code)}
               for image, code in zip(test, decision["reason"]) if code]
    counts = refusal_counts(decision["reason"], refused_by_check(spec.limits, decision, photo_size))
    report = {"test": counts, "validation": spec.validation,
              "limits": dataclasses.asdict(spec.limits), "feature_blocks": list(spec.feature_blocks),
              "method": spec.method, "blind_spots": list(spec.blind_spots), "refused_test_photos": refused}
    if len(set(positive[graded])) == 2:  # figures need both classes among the graded photos
        report["graded_test_at_threshold"] = scores_at(positive[graded], scores[graded], threshold)
    return report


def evaluate(run_dir: str | Path, data: str | Path, batch_size: int = 16) -> dict[str, Any]:
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    run = load_run(run_dir)
    records = photos.records_of_split_folder(data)
    scanned, unreadable = photos.scan(records, "reading test photos")
    records = [image.record for image in scanned]
    photos.require_both_classes(records, str(data))
    # Checked before anything is written: the figures of an honest evaluation stay.
    leaked = leaked_photos(run.paths, scanned)
    if leaked is not None and len(set(leaked)) == len(records):
        raise UserError(f"every one of the {len(records)} photos in {data} is a copy of the run's training or validation "
                        f"photos: figures on them would say nothing about new photos, and {run.paths.evaluation} keeps "
                        "its figures; evaluate on photos the run never saw (DATA/test)")

    _, validation_labels, validation_scores = read_predictions(run.paths.validation_predictions)
    validation_positive = np.array(validation_labels) == CATARACT
    validation_scores = np.array(validation_scores)
    chosen = read_threshold(run.paths)
    threshold = chosen["decision_threshold"]
    # Every run file read before the first is written: a damaged one leaves the old figures whole.
    # Only training's own verdict is kept: a stored one tells resume the run finished (its gate too).
    gate, verdict = load_gate(run), stored_verdict(run.paths)

    probabilities = predict_records(run.model, records, batch_size, "predicting test photos")
    test_scores = probabilities[:, CATARACT]
    test_positive = np.array([r.label for r in records]) == CATARACT
    write_predictions(run.paths.root / "test_predictions.csv", [r.path for r in records], [r.label for r in records], test_scores)

    gradability = gate_report(run, gate, scanned, test_positive, test_scores, threshold)
    calibration, calibration_error = reliability(test_positive, test_scores)
    report: dict[str, Any] = {
        "run": str(run.paths.root),
        "best_epoch": run.best_epoch,
        "test_data": str(data),
        "test_counts": photos.class_counts(records),
        "test_unreadable": [dataclasses.asdict(bad) for bad in unreadable],
        "threshold": threshold,
        "threshold_rule": chosen["rule"],
        "validation_at_threshold": scores_at(validation_positive, validation_scores, threshold),
        "test_at_threshold": scores_at(test_positive, test_scores, threshold),
        "test_at_0.5": scores_at(test_positive, test_scores, 0.5),
        "test_confidence_intervals_95": bootstrap_intervals(test_positive, test_scores, threshold),
        "test_calibration": {"bins": calibration, "expected_calibration_error": calibration_error},
        "leaked_test_photos": leaked,
        GRADABILITY_KEY: gradability,
    }
    if verdict is not None:
        report[VERDICT_KEY] = verdict.to_record()
    if leaked:
        keep = np.array([r.path not in set(leaked) for r in records])
        if keep.any() and len(set(test_positive[keep])) == 2:
            report["test_without_leaked_at_threshold"] = scores_at(test_positive[keep], test_scores[keep], threshold)
    report["files"] = write_report(run.paths.root, report, records, test_positive, test_scores,
                                   validation_positive, validation_scores, threshold)
    write_json(run.paths.evaluation, report)
    return report


def summary_lines(report: dict[str, Any]) -> list[str]:
    test, validation = report["test_at_threshold"], report["validation_at_threshold"]
    confusion = test["confusion"]
    intervals = report["test_confidence_intervals_95"]

    def with_interval(name: str, value: float) -> str:
        low, high = intervals.get(name, (float("nan"), float("nan")))
        return f"{value:.3f} [{low:.3f}, {high:.3f}]"

    verdict = Verdict.from_record(report[VERDICT_KEY]).text if VERDICT_KEY in report else NOT_STORED
    lines = [
        f"training's verdict: {verdict}",
        f"threshold {report['threshold']:.3f} ({report['threshold_rule'].split(':')[0]}, chosen on validation; "
        f"validation accuracy {validation['accuracy']:.3f}, AUC {validation['roc_auc']:.3f})",
        f"test photos: {test['count']} ({report['test_counts']['cataract']} cataract, {report['test_counts']['normal']} normal)",
        f"accuracy {with_interval('accuracy', test['accuracy'])}  ROC AUC {with_interval('roc_auc', test['roc_auc'])}  (95% bootstrap)",
        f"sensitivity {with_interval('sensitivity', test['recall'])}  specificity {with_interval('specificity', test['specificity'])}",
        f"precision {test['precision']:.3f}  F1 {test['f1']:.3f}  calibration error {report['test_calibration']['expected_calibration_error']:.3f}",
        f"confusion: TP {confusion['true_positive']}  FN {confusion['false_negative']}  "
        f"FP {confusion['false_positive']}  TN {confusion['true_negative']}",
    ]
    leaked = report["leaked_test_photos"]
    if leaked:
        lines.append(f"WARNING: {len(leaked)} test photos are copies of training photos; the scores above include them")
        clean = report.get("test_without_leaked_at_threshold")
        if clean:
            lines.append(f"without them: {clean['count']} photos, accuracy {clean['accuracy']:.3f}, ROC AUC {clean['roc_auc']:.3f}")
    lines += gradability_lines(report.get(GRADABILITY_KEY), test)
    lines.append("written: " + ", ".join(report["files"].values()))
    return lines


def gradability_lines(gradability: dict[str, Any] | None, everything: dict[str, Any]) -> list[str]:
    """The gate's refusals on the test photos, and the figures on the graded ones beside all."""
    if gradability is None:
        return [f"gradability: not checked, the run has no gate ({FIT_GATE_HINT})"]
    test = gradability["test"]
    reasons = ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in test["by_reason"].items() if count)
    checks = checks_text(test)
    lines = [f"gradability: refused {test['refused']} of {test['photos']} test photos ({100 * test['refusal_rate']:.1f}%"
             f"{': ' + reasons if reasons else ''}{'; by check: ' + checks if checks else ''}); "
             f"validation {100 * gradability['validation']['refusal_rate']:.1f}%"]
    graded = gradability.get("graded_test_at_threshold")
    if graded is None:
        lines.append("graded photos: too few of both classes for figures")
    else:
        lines += [f"{name}: accuracy {m['accuracy']:.3f}  ROC AUC {m['roc_auc']:.3f}  sensitivity {m['recall']:.3f}  "
                  f"specificity {m['specificity']:.3f}  ({m['count']} photos)"
                  for name, m in (("graded photos", graded), ("all photos", everything))]
    return lines
