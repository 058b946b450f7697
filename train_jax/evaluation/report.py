"""The evaluation report: PNG plots and one self-contained HTML page beside metrics.json.

Training's verdict at the top (learned, or did not learn), then the operating point chosen
on validation (what it achieved there, and a warning where its target is out of reach),
ROC and precision-recall curves, the confusion matrix, a reliability diagram, a threshold
table, bootstrap confidence intervals, the gradability gate's refusals, the learning
curves, and the misclassified photos with their scores.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from cataract_contract import CLASS_NAMES, load_rgb
from train_jax.data.scan import ImageRecord
from train_jax.evaluation.metrics import binary_metrics, precision_recall_curve
from train_jax.gradability.fit import checks_text
from train_jax.training.curves import plot_learning_curves
from train_jax.training.run_folder import RunPaths, read_threshold
from train_jax.training.threshold import SENSITIVITY, SPECIFICITY, Achieved, roc_curve, with_achieved
from train_jax.training.verdict import NOT_STORED, VERDICT_KEY, VERDICT_RULE, Verdict

GRADABILITY_KEY = "gradability"  # metrics.json: the gate's refusals (evaluate.gate_report), None without a gate
TABLE_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MISCLASSIFIED_SHOWN = 48


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    _pyplot().close(figure)
    return path


def plot_roc(path: Path, curves: dict[str, tuple[np.ndarray, np.ndarray]], threshold: float) -> Path:
    figure, axes = _pyplot().subplots(figsize=(5, 5))
    for name, (positive, scores) in curves.items():
        fpr, tpr, _ = roc_curve(positive, scores)
        chosen = binary_metrics(positive, scores, threshold)
        line = axes.plot(fpr, tpr, label=f"{name} (AUC {chosen.roc_auc:.3f})", drawstyle="steps-post")[0]
        axes.plot(1 - chosen.specificity, chosen.recall, "o", color=line.get_color())
    axes.plot([0, 1], [0, 1], ":", color="grey")
    axes.set(xlabel="1 - specificity", ylabel="sensitivity", title=f"ROC (cataract positive); dots: threshold {threshold:.2f}")
    axes.legend(loc="lower right")
    return _save(figure, path)


def plot_precision_recall(path: Path, positive: np.ndarray, scores: np.ndarray) -> Path:
    precision, recall = precision_recall_curve(positive, scores)
    figure, axes = _pyplot().subplots(figsize=(5, 5))
    axes.plot(recall, precision, drawstyle="steps-post")
    axes.axhline(positive.mean(), linestyle=":", color="grey", label=f"prevalence {positive.mean():.2f}")
    axes.set(xlabel="recall (sensitivity)", ylabel="precision", ylim=(0, 1.02), title="precision-recall, test")
    axes.legend(loc="lower left")
    return _save(figure, path)


def plot_confusion(path: Path, confusion: dict[str, int], threshold: float) -> Path:
    matrix = np.array([[confusion["true_positive"], confusion["false_negative"]],
                       [confusion["false_positive"], confusion["true_negative"]]])
    figure, axes = _pyplot().subplots(figsize=(4, 4))
    axes.imshow(matrix, cmap="Blues")
    for (row, column), value in np.ndenumerate(matrix):
        axes.text(column, row, str(value), ha="center", va="center", fontsize=14,
                  color="white" if value > matrix.max() / 2 else "black")
    axes.set_xticks([0, 1], list(CLASS_NAMES))
    axes.set_yticks([0, 1], list(CLASS_NAMES))
    axes.set(xlabel="predicted", ylabel="true", title=f"test, threshold {threshold:.2f}")
    return _save(figure, path)


def plot_reliability(path: Path, bins: list[dict], calibration_error: float) -> Path:
    figure, axes = _pyplot().subplots(figsize=(5, 5))
    axes.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
    axes.plot([b["mean_score"] for b in bins], [b["observed_positive_rate"] for b in bins], "o-", label="test photos")
    for b in bins:
        axes.annotate(str(b["count"]), (b["mean_score"], b["observed_positive_rate"]), fontsize=8,
                      textcoords="offset points", xytext=(4, -10))
    axes.set(xlabel="mean P(cataract) in bin", ylabel="share that are cataract", xlim=(0, 1), ylim=(0, 1),
             title=f"reliability (ECE {calibration_error:.3f}; numbers: photos per bin)")
    axes.legend(loc="upper left")
    return _save(figure, path)


def _img(path: Path) -> str:
    return f"<img src='data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}'>"


def _thumbnail(record_path: str, side: int = 140) -> str:
    image = load_rgb(record_path)
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return f"<img src='data:image/jpeg;base64,{base64.b64encode(buffer.getvalue()).decode()}'>"


def verdict_banner(record: dict[str, Any] | None) -> str:
    """Training's verdict as the page's first line: green for learned, red for did not learn."""
    e = html.escape
    if record is None:
        return f"<p class='verdict' style='background:#eeeeee'><b>No verdict</b>: {e(NOT_STORED)}.</p>"
    verdict = Verdict.from_record(record)
    if verdict.learned:
        style, headline = "background:#e8f5e9;color:#1b5e20", f"<b>Learned</b>: {e(verdict.figures)}."
    else:
        style, headline = "background:#ffebee;color:#b71c1c", (
            f"<b>Did not learn</b>: {e(verdict.figures)} ({e(verdict.reason)}). "
            "<code>cataract export</code> refuses this run unless given --allow-unproven.")
    return f"<p class='verdict' style='{style}'>{headline}<br><small>{e(VERDICT_RULE)}</small></p>"


def operating_point_section(chosen: dict[str, Any]) -> str:
    """The operating point chosen on validation (a RUN/threshold.json record with its
    figures): the rule, the threshold, the sensitivity and specificity achieved there with
    their 95% intervals and lower bounds, and the warning, boxed, when the target is out of reach."""
    e = html.escape
    achieved = chosen["achieved"]
    rows, bounds = "", []
    for measure in (SENSITIVITY, SPECIFICITY):
        low, high = achieved[f"{measure}_95"]
        right, photos = Achieved.from_record(achieved).counts(measure)
        rows += (f"<tr><td>{measure}</td><td>{achieved[measure]:.3f} ({right} of {photos})</td>"
                 f"<td>{low:.3f} - {high:.3f}</td><td>at least {low:.3f}</td></tr>")
        bounds.append(f"{measure} at least {low:.3f}")
    warning = f"<p class='warning'><b>Target not reached</b>: {e(chosen['warning'])}.</p>" if chosen["warning"] else ""
    return f"""<h2>Operating point: {e(chosen['operating_point'])}</h2>{warning}
<p>Threshold <b>{chosen['decision_threshold']:.3f}</b>, chosen on the {chosen['validation_photos']} validation photos:
{e(chosen['rule'])}. <code>cataract operating-point RUN --operating-point RULE</code> chooses it again without training.</p>
<table><tr><th>on validation</th><th>achieved</th><th>{e(achieved['interval'])}</th><th>lower bound</th></tr>
{rows}</table><p>Lower bounds: with 95% confidence, photos like the validation photos get {' and '.join(bounds)}.</p>"""


def gradability_section(gate: dict[str, Any] | None, everything: dict[str, Any]) -> str:
    """The gradability gate: how many validation and test photos it refused and why, the
    figures on the graded photos beside all, its limits, method and known blind spots."""
    e = html.escape
    if gate is None:
        return "<h2>Gradability</h2><p>Not checked: the run has no gradability gate (<code>cataract operating-point RUN --fit-gate</code> fits one).</p>"
    rows = ""
    for name, counts in (("validation", gate["validation"]), ("test", gate["test"])):
        reasons = ", ".join(f"{reason.replace('_', ' ')} {count}" for reason, count in counts["by_reason"].items() if count)
        checks = checks_text(counts)
        if checks:
            reasons += f" (by check: {checks})"
        rows += (f"<tr><td>{name}</td><td>{counts['refused']} of {counts['photos']}</td>"
                 f"<td>{100 * counts['refusal_rate']:.1f}%</td><td>{e(reasons or 'none')}</td></tr>")
    graded = gate.get("graded_test_at_threshold")
    figures = "<p>Too few graded test photos of both classes for figures.</p>" if graded is None else (
        "<table><tr><th>test photos</th><th>count</th><th>accuracy</th><th>ROC AUC</th><th>sensitivity</th><th>specificity</th></tr>"
        + "".join(f"<tr><td>{name}</td><td>{m['count']}</td><td>{m['accuracy']:.3f}</td><td>{m['roc_auc']:.3f}</td>"
                  f"<td>{m['recall']:.3f}</td><td>{m['specificity']:.3f}</td></tr>"
                  for name, m in (("graded", graded), ("all", everything))) + "</table>")
    # A limit of None: the gate was fitted before that check existed, and skips it.
    limits = "".join(f"<tr><td>{e(name)}</td><td>{'not checked' if value is None else f'{value:.4g}'}</td></tr>"
                     for name, value in gate["limits"].items())
    refused = "".join(f"<figure>{_thumbnail(photo['file'])}<figcaption>{e(Path(photo['file']).name)}<br>{e(photo['reason'])}"
                      "</figcaption></figure>" for photo in gate["refused_test_photos"][:MISCLASSIFIED_SHOWN])
    blind_spots = "".join(f"<li>{e(spot)}</li>" for spot in gate["blind_spots"])
    return f"""<h2>Gradability</h2><p>The served model refuses a photo it cannot judge ("Ungradable", with the reason)
instead of labelling it. Every photo here is a clean eye photo, so every refusal is a false one.</p>
<table><tr><th>photos</th><th>refused</th><th>rate</th><th>reasons</th></tr>{rows}</table>{figures}
<p>{e(gate['method'])}</p><table><tr><th>limit</th><th>value</th></tr>{limits}</table>
<p>Known blind spots:</p><ul>{blind_spots}</ul>{refused}"""


def write_report(run_dir: Path, report: dict[str, Any], records: list[ImageRecord], positive: np.ndarray, scores: np.ndarray,
                 validation_positive: np.ndarray, validation_scores: np.ndarray, threshold: float) -> dict[str, str]:
    test = report["test_at_threshold"]
    files = {
        "roc": plot_roc(run_dir / "roc_curve.png", {"test": (positive, scores), "validation": (validation_positive, validation_scores)}, threshold),
        "precision_recall": plot_precision_recall(run_dir / "precision_recall.png", positive, scores),
        "confusion": plot_confusion(run_dir / "confusion_matrix.png", test["confusion"], threshold),
        "reliability": plot_reliability(run_dir / "reliability.png", report["test_calibration"]["bins"],
                                        report["test_calibration"]["expected_calibration_error"]),
        "learning_curves": plot_learning_curves(RunPaths(run_dir).epoch_metrics, run_dir / "learning_curves.png"),
    }
    chosen = with_achieved(read_threshold(RunPaths(run_dir)), validation_positive, validation_scores)
    e = html.escape
    rows = []
    for t in sorted({*TABLE_THRESHOLDS, round(threshold, 4)}):
        m = binary_metrics(positive, scores, t)
        mark = " <b>(chosen on validation)</b>" if abs(t - threshold) < 1e-4 else ""
        rows.append(f"<tr><td>{t:.3f}{mark}</td><td>{m.recall:.3f}</td><td>{m.specificity:.3f}</td>"
                    f"<td>{m.precision:.3f}</td><td>{m.accuracy:.3f}</td><td>{m.f1:.3f}</td></tr>")
    intervals = report["test_confidence_intervals_95"]
    interval_rows = ""
    for name, metric, interval in (("accuracy", "accuracy", "accuracy"), ("ROC AUC", "roc_auc", "roc_auc"),
                                   ("sensitivity", "recall", "sensitivity"), ("specificity", "specificity", "specificity")):
        low, high = intervals.get(interval, (float("nan"), float("nan")))
        interval_rows += f"<tr><td>{name}</td><td>{test[metric]:.3f}</td><td>{low:.3f} - {high:.3f}</td></tr>"
    wrong = [i for i in np.argsort(-np.abs(scores - threshold)) if (scores[i] >= threshold) != positive[i]]
    misclassified = "".join(
        f"<figure>{_thumbnail(records[i].path)}<figcaption>{e(Path(records[i].path).name)}<br>true {CLASS_NAMES[records[i].label]}, "
        f"P(cataract) {scores[i]:.3f}</figcaption></figure>" for i in wrong[:MISCLASSIFIED_SHOWN]
    )
    leaked = report.get("leaked_test_photos")
    leak_note = (f"<p style='color:#b71c1c'><b>{len(leaked)} test photos are copies of training photos.</b> "
                 f"Scores above include them; without them: {e(str(report.get('test_without_leaked_at_threshold')))}</p>"
                 if leaked else "<p>No test photo is a copy of a training or validation photo.</p>" if leaked is not None
                 else "<p>Leakage not checked: the run's training photos moved.</p>")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Evaluation: {e(report['run'])}</title>
<style>body{{font-family:sans-serif;margin:24px;max-width:1200px}}table{{border-collapse:collapse;margin:8px 0}}
td,th{{border:1px solid #ccc;padding:4px 8px}}figure{{display:inline-block;margin:4px;vertical-align:top}}
figcaption{{font-size:11px;max-width:140px}}.verdict{{padding:12px 16px;font-size:18px;border-radius:4px}}
.warning{{background:#fff3e0;color:#e65100;border:2px solid #fb8c00;padding:12px 16px;border-radius:4px}}</style></head><body>
{verdict_banner(report.get(VERDICT_KEY))}
<h1>Evaluation</h1><p>run <code>{e(report['run'])}</code> (best epoch {report['best_epoch']}), test photos <code>{e(report['test_data'])}</code>:
{test['count']} ({report['test_counts']['cataract']} cataract, {report['test_counts']['normal']} normal).
Screening aid, not a diagnosis.</p>
<p>Decision threshold <b>{threshold:.3f}</b>: {e(report['threshold_rule'])}.</p>{leak_note}
<p>Scores here are the model's own P(cataract). <code>cataract export</code> folds the threshold into the served
model (its cataract logit shifted by -logit({threshold:.3f})), so the served P(cataract) is 50% exactly where the
score is {threshold:.3f}: every door (client, dashboard, Triton's classification extension) answers the class of
highest served probability, and the <b>confidence</b> it gives is that probability, always at least 50%. The score
stays available as the answers' <code>model_score</code>.</p>
{operating_point_section(chosen)}
<h2>At the chosen threshold, with 95% bootstrap intervals</h2>
<table><tr><th>metric</th><th>test</th><th>95% interval</th></tr>{interval_rows}
<tr><td>precision</td><td>{test['precision']:.3f}</td><td></td></tr><tr><td>F1</td><td>{test['f1']:.3f}</td><td></td></tr></table>
{_img(files['confusion'])}{_img(files['roc'])}{_img(files['precision_recall'])}{_img(files['reliability'])}
<h2>Thresholds</h2><table><tr><th>threshold</th><th>sensitivity</th><th>specificity</th><th>precision</th><th>accuracy</th><th>F1</th></tr>
{''.join(rows)}</table>
{gradability_section(report.get(GRADABILITY_KEY), test)}
<h2>Learning curves</h2>{_img(files['learning_curves'])}
<h2>Misclassified test photos ({len(wrong)}; most confident first)</h2>{misclassified}
</body></html>"""
    html_path = run_dir / "report.html"
    html_path.write_text(page)
    return {name: str(path) for name, path in {**files, "html": html_path}.items()}
