"""`cataract operating-point RUN`: the decision threshold chosen again from the stored
validation scores, without training; evaluate then reads the new one, and the report shows
the operating point (with its warning when the target is out of reach) and the learning
curves. The gradability gate is refitted (or fitted) by the same command. Bad values are
refused in one line, exit 2."""

from __future__ import annotations

import base64
import json
import logging
import shutil

import numpy as np
import pytest

from cataract_cli.main import main
from cataract_contract import CATARACT
from tests.helpers import run_cli
from train_jax.evaluation.evaluate import evaluate
from train_jax.gradability.spec import GateSpec
from train_jax.training.run_folder import read_predictions, write_predictions
from train_jax.training.threshold import YOUDEN_RULE, OperatingPoint, threshold_record

NORMAL = 1 - CATARACT
REFUSAL = ("--operating-point must be youden, sensitivity=S or specificity=S with 0 < S <= 1, got "
           "'sensitivity=1.5'")


@pytest.fixture
def run(tiny_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    return copy


def stored(run) -> dict:
    return json.loads((run / "threshold.json").read_text())


def test_the_rewrite_changes_threshold_json_evaluate_reads_it_and_the_report_shows_it_with_the_curves(
        run, synthetic_photos, capsys):
    trained = stored(run)
    assert trained["operating_point"] == "sensitivity=0.90"  # training's default
    assert main(["operating-point", str(run), "--operating-point", "specificity=0.9", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    written = stored(run)
    assert result["threshold_rewritten"] and result["threshold"] == {"before": trained, "after": written}
    _, labels, scores = read_predictions(run / "val_predictions.csv")
    assert written == threshold_record(OperatingPoint.parse("specificity=0.90"), np.array(labels) == CATARACT,
                                       np.array(scores), trained["best_epoch"])

    report = evaluate(run, synthetic_photos / "test")
    assert (report["threshold"], report["threshold_rule"]) == (written["decision_threshold"], written["rule"])
    page = (run / "report.html").read_text()
    assert "<h2>Operating point: specificity=0.90</h2>" in page and "Target not reached" not in page
    low, high = written["achieved"]["specificity_95"]
    assert f"<td>{low:.3f} - {high:.3f}</td><td>at least {low:.3f}</td>" in page
    curves = (run / "learning_curves.png").read_bytes()
    assert "<h2>Learning curves</h2><img src='data:image/png;base64," + base64.b64encode(curves).decode() in page


def test_a_target_out_of_reach_is_printed_and_boxed_in_the_report(run, synthetic_photos, capsys):
    # Stored scores whose highest is a normal photo's: no threshold reaches specificity 0.99.
    files, labels, _ = read_predictions(run / "val_predictions.csv")
    scores = [0.8 if label == CATARACT else 0.2 for label in labels]
    scores[labels.index(NORMAL)] = 0.99
    write_predictions(run / "val_predictions.csv", files, labels, scores)
    assert main(["operating-point", str(run), "--operating-point", "specificity=0.99"]) == 0
    out = capsys.readouterr().out
    normal = labels.count(NORMAL)
    warning = (f"the validation photos do not reach specificity 0.99: the best threshold reaches "
               f"{(normal - 1) / normal:.3f} ({normal - 1} of {normal} normal photos)")
    assert stored(run)["warning"] == warning and stored(run)["decision_threshold"] == 0.8
    assert f"{run / 'threshold.json'} rewritten" in out and "  before: threshold " in out
    assert "  after:  threshold 0.800 (specificity=0.99): validation sensitivity 1.000" in out
    assert out.splitlines()[-1] == f"WARNING: {warning}"
    evaluate(run, synthetic_photos / "test")
    assert f"<p class='warning'><b>Target not reached</b>: {warning}.</p>" in (run / "report.html").read_text()


@pytest.mark.parametrize("damage", ["out of range", "missing"])
def test_a_damaged_or_missing_threshold_file_is_chosen_again_from_the_validation_scores(run, damage, capsys, caplog):
    trained = stored(run)
    if damage == "missing":
        (run / "threshold.json").unlink()
    else:
        (run / "threshold.json").write_text(json.dumps({**trained, "decision_threshold": 7}))
    assert main(["operating-point", str(run)]) == 2  # shown without a rewrite: the file is refused
    assert "threshold.json" in capsys.readouterr().err
    with caplog.at_level(logging.WARNING):
        assert main(["operating-point", str(run), "--operating-point", trained["operating_point"]]) == 0
    assert "choosing the threshold again from the validation scores" in caplog.text
    assert "before: damaged or missing" in capsys.readouterr().out
    assert stored(run) == trained  # the same rule on the same scores, the best epoch from the checkpoints


def first_photo_changed(text: str, label: str | None = None, score: str | None = None) -> str:
    header, first, *rest = text.splitlines()
    file, old_label, old_score = first.rsplit(",", 2)
    return "\n".join([header, f"{file},{label or old_label},{score or old_score}", *rest]) + "\n"


@pytest.mark.parametrize("damage, message", [
    (lambda text: first_photo_changed(text, score="x.5"), "(line 2): p_cataract 'x.5' is not a probability"),
    (lambda text: first_photo_changed(text, score="1.5"), "(line 2): p_cataract '1.5' is not a probability"),
    (lambda text: text[: len(text) // 2].rsplit(",", 1)[0], "is not a probability between 0 and 1"),
    (lambda text: first_photo_changed(text, label="cat"), "(line 2): label 'cat' is not one of"),
    (lambda text: "name,score\n", "its header is ['name', 'score']"),
    (lambda text: text.splitlines()[0] + "\n", "it holds no photo"),
])
def test_damaged_validation_scores_are_one_line_errors_and_threshold_json_is_kept(run, damage, message, capsys):
    scores = run / "val_predictions.csv"
    scores.write_text(damage(scores.read_text()))
    trained = stored(run)
    assert main(["operating-point", str(run), "--operating-point", "youden"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{scores} is damaged" in line and message in line and line.endswith("train the run again")
    assert stored(run) == trained


def test_validation_scores_of_one_class_choose_no_threshold(run, capsys):
    files, labels, scores = read_predictions(run / "val_predictions.csv")
    keep = [index for index, label in enumerate(labels) if label == CATARACT]
    write_predictions(run / "val_predictions.csv", [files[i] for i in keep], [CATARACT] * len(keep),
                      [scores[i] for i in keep])
    trained = stored(run)
    assert main(["operating-point", str(run), "--operating-point", "youden"]) == 2
    assert "holds photos of one class only" in capsys.readouterr().err
    assert stored(run) == trained


def test_without_flags_it_shows_the_threshold_and_reads_a_file_from_before_operating_points(run, capsys):
    old = {"decision_threshold": 0.5, "rule": YOUDEN_RULE, "best_epoch": 1, "validation_photos": 15}
    (run / "threshold.json").write_text(json.dumps(old))
    assert main(["operating-point", str(run)]) == 0
    assert capsys.readouterr().out.startswith(f"{run / 'threshold.json'}: threshold 0.500 (youden): validation sensitivity ")
    assert stored(run) == old  # shown, not rewritten


def test_the_gate_is_refitted_stricter_or_fitted_for_a_run_without_one(run, capsys):
    before = GateSpec.load(run).limits
    assert main(["operating-point", str(run), "--gate-quantile", "0.05", "--json"]) == 0
    gate = json.loads(capsys.readouterr().out)["gate"]
    after = GateSpec.load(run).limits
    assert gate["before"]["quantile"] == before.quantile and gate["after"]["quantile"] == after.quantile == 0.05
    assert after.min_brightness >= before.min_brightness and after.max_feature_distance <= before.max_feature_distance
    # Fitted again (new weights, say), the gate keeps the quantile the clinic chose.
    assert main(["operating-point", str(run), "--fit-gate", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gate"]["after"]["quantile"] == 0.05

    (run / "gradability.json").unlink()
    (run / "gradability.npz").unlink()
    assert main(["operating-point", str(run), "--fit-gate"]) == 0
    out = capsys.readouterr().out
    assert GateSpec.exists(run) and "gradability gate limits (RUN/gradability.json):" in out
    assert "  quantile: none -> " in out


def test_a_gate_that_refuses_many_clean_photos_is_warned_about(run, capsys, caplog):
    with caplog.at_level(logging.INFO):
        assert main(["operating-point", str(run), "--gate-quantile", "0.45"]) == 0
    refused = GateSpec.load(run).validation["refusal_rate"]
    assert refused > 0.05  # almost half of each measure's range is refused
    assert "more than 5% of clean eye photos would be sent back to be retaken" in caplog.text


@pytest.mark.parametrize("command", [["operating-point", "RUN", "--operating-point", "sensitivity=1.5"],
                                     ["train", "--data", "DATA", "--out", "RUN", "--operating-point", "sensitivity=1.5"]],
                         ids=["operating-point", "train"])
def test_bad_values_are_refused_in_one_line_with_exit_2(command):
    result = run_cli(*command)
    assert result.returncode == 2 and result.stderr == f"cataract {command[0]}: error: {REFUSAL}\n", result.stderr


def test_a_gate_quantile_out_of_its_limits_is_refused(run, capsys):
    assert main(["operating-point", str(run), "--gate-quantile", "0.5"]) == 2
    assert capsys.readouterr().err == "cataract operating-point: error: --gate-quantile must be > 0 and < 0.5, got 0.5\n"
