"""A run folder that was damaged or hand-edited, and an --out that is not a run: each
command names the file and the problem (exit code 2), never a traceback, and changes
nothing."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from cataract_cli.main import main
from tests.helpers import tiny_config, train_command

TRUNCATED = '{"train": {"data": '


def copy_of(tiny_run: Path, tmp_path: Path, **changes: str | None) -> Path:
    """A copy of the tiny run with each file named in `changes` (dots as underscores)
    rewritten to its text, or removed (None)."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    for name, text in changes.items():
        path = run / name.replace("_", ".")
        path.unlink() if text is None else path.write_text(text)
    return run


def photos_of(run: Path) -> Path:
    return Path(json.loads((run / "config.json").read_text())["train"]["data"])


def error_of(argv: list[str], capsys) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.err


@pytest.mark.parametrize("name,text,expected", [
    ("config.json", TRUNCATED, "config.json cannot be read as JSON"),
    ("config.json", "[]", "config.json holds a JSON list, not the object"),
    ("config.json", '{"train": {}}', "config.json does not hold the settings it was written with (KeyError: 'model')"),
    ("threshold.json", "garbage", "threshold.json cannot be read as JSON"),
    ("threshold.json", json.dumps({"decision_threshold": 1.7, "best_epoch": 1}), "decision_threshold 1.7 is not a probability"),
    ("threshold.json", json.dumps({"decision_threshold": "high", "best_epoch": 1}), "decision_threshold 'high' is not a probability"),
    ("gradability.json", '{"limits": {', "gradability gate (gradability.json, gradability.npz) is damaged"),
])
def test_evaluate_export_and_operating_point_name_a_damaged_run_file(tiny_run, synthetic_photos, tmp_path, capsys, name,
                                                                    text, expected):
    run = copy_of(tiny_run, tmp_path, **{name.replace(".", "_"): text})
    repository = tmp_path / "repository"
    commands = [["evaluate", "--run", str(run), "--data", str(synthetic_photos / "test")],
                ["export", "--run", str(run), "--repository", str(repository), "--allow-unproven"]]
    if name == "threshold.json":
        commands.append(["operating-point", str(run)])
    predictions = run / "test_predictions.csv"
    before = predictions.read_bytes() if predictions.exists() else None
    for argv in commands:
        assert expected in error_of(argv, capsys), argv
    # Refused before evaluate writes anything: no test predictions beside the old figures.
    assert (predictions.read_bytes() if predictions.exists() else None) == before
    assert not (repository / "cataract_classifier").exists()  # an impossible threshold is never served


def test_export_refuses_a_repository_that_is_a_file_lies_under_one_or_inside_the_run(tiny_run, tmp_path, capsys):
    a_file = tmp_path / "model_repository"
    a_file.write_text("mine")
    argv = ["export", "--run", str(tiny_run), "--repository", str(a_file), "--allow-unproven"]
    assert "is a file, not a model repository folder" in error_of(argv, capsys)
    argv = ["export", "--run", str(tiny_run), "--repository", str(a_file / "models"), "--allow-unproven"]
    assert f"{a_file} is a file, not a folder" in error_of(argv, capsys)
    assert a_file.read_text() == "mine"
    before = sorted(path.name for path in tiny_run.iterdir())
    for inside in (tiny_run, tiny_run / "models"):
        argv = ["export", "--run", str(tiny_run), "--repository", str(inside), "--allow-unproven"]
        assert f"is inside the training run {tiny_run}" in error_of(argv, capsys)
    assert sorted(path.name for path in tiny_run.iterdir()) == before
    from train_jax.export.export import check_new_repository_place

    check_new_repository_place(tiny_run / ".." / "model_repository")  # beside the run, as the shell reads ".."
    assert "--version must be >= 1, got 0" in error_of(["export", "--run", str(tiny_run), "--version", "0"], capsys)


@pytest.mark.parametrize("name", ["config.json", "split.json"])
def test_resume_names_the_run_file_that_is_missing(tiny_run, tmp_path, capsys, name):
    # Without metrics.json's verdict the run looks killed before it finished, so it resumes.
    run = copy_of(tiny_run, tmp_path, metrics_json=None, **{name.replace(".", "_"): None})
    config = tiny_config(photos_of(tiny_run), run, epochs=1)
    assert f"{name} is missing" in error_of([*train_command(config), "--resume"], capsys)


def test_resuming_a_finished_run_keeps_the_threshold_chosen_since(tiny_run, tmp_path, caplog):
    run = copy_of(tiny_run, tmp_path)
    assert main(["operating-point", str(run), "--operating-point", "youden"]) == 0
    chosen = {name: (run / name).read_bytes() for name in ("threshold.json", "gradability.json", "metrics.json")}
    config = tiny_config(photos_of(run), run, epochs=1)
    with caplog.at_level(logging.INFO):
        assert main([*train_command(config), "--resume"]) == 0
    assert "finished training already" in caplog.text
    assert {name: (run / name).read_bytes() for name in chosen} == chosen


def test_a_damaged_checksum_record_is_a_damaged_checkpoint_not_an_error(tiny_run, tmp_path):
    from train_jax.training.run_folder import RunPaths, checkpoint_problem

    run = copy_of(tiny_run, tmp_path)
    record = sorted((run / "checksums").glob("*.json"))[-1]
    record.write_text("{")
    assert checkpoint_problem(RunPaths(run), int(record.stem)) == "its checksum record is damaged"


def test_hidden_files_and_lost_and_found_leave_an_out_folder_free_for_a_run(tmp_path):
    from train_jax.training.trainer import foreign_files

    volume = tmp_path / "volume"
    (volume / "lost+found").mkdir(parents=True)
    (volume / ".gitkeep").write_text("")
    assert foreign_files(volume) == []
    (volume / "notes.txt").write_text("mine")
    assert foreign_files(volume) == [volume / "notes.txt"]


def test_train_refuses_an_out_that_holds_other_files_or_is_a_file(synthetic_photos, tmp_path, capsys):
    before = sorted(path.relative_to(synthetic_photos) for path in synthetic_photos.rglob("*"))
    photos_as_out = tiny_config(synthetic_photos, synthetic_photos, epochs=1)
    assert "holds files but no training run" in error_of(train_command(photos_as_out), capsys)
    assert sorted(path.relative_to(synthetic_photos) for path in synthetic_photos.rglob("*")) == before
    missing_data = tiny_config(tmp_path / "no-such-photos", tmp_path / "new-run", epochs=1)
    assert "does not exist" in error_of(train_command(missing_data), capsys)
    assert not (tmp_path / "new-run").exists()  # a mistyped --data leaves no empty run folder
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    assert "is a file, not a folder" in error_of(train_command(tiny_config(synthetic_photos, a_file, epochs=1)), capsys)
    assert a_file.read_text() == "mine"
