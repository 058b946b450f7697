"""The `cataract` command line: every command answers --help, every flag comes from a
settings dataclass, `--json` means one thing, and a value out of its limits is a one-line
error naming the flag."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from cataract_cli.main import build_parser, main
from cataract_cli.options import DashboardSettings, PredictSettings, RollbackSettings, TritonSettings
from cataract_cli.training import TRAIN_SETTINGS
from tests.helpers import fake_screener, run_cli
from train_jax.recipes import RECIPES, recipe_settings
from train_jax.settings import from_arguments, option_strings, to_arguments
from train_jax.training.config import TrainConfig


def subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command words, parser) for the parser and every subcommand below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from subcommands(child, (*path, name))


COMMANDS = [path for path, _ in subcommands(build_parser())]


def test_the_commands_are_the_product_s_steps_and_the_benchmarks():
    assert {path for path in COMMANDS if len(path) == 1} == {
        ("audit",), ("synth",), ("train",), ("evaluate",), ("export",), ("rollback",), ("serve",), ("predict",),
        ("dashboard",), ("gateway",), ("users",), ("bench",), ("operating-point",)}
    assert {path[1] for path in COMMANDS if len(path) == 2 and path[0] == "bench"} == {
        "train", "input", "infer", "serve", "soak", "audit", "overload", "recipe", "gradability"}
    assert {path[1] for path in COMMANDS if len(path) == 2 and path[0] == "users"} == {"add", "remove", "list", "convert"}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda path: " ".join(path) or "cataract")
def test_every_command_answers_help(command, capsys):
    with pytest.raises(SystemExit) as exit:
        main([*command, "--help"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {' '.join(('cataract', *command))} ")


def test_the_entry_point_runs_as_a_module():
    result = run_cli("--help")
    assert result.returncode == 0 and "COMMAND" in result.stdout, result.stderr


def test_no_command_declares_a_flag_by_hand():
    """Each flag of each parser is one field of the settings classes that parser was declared
    from, with that field's names and help; and each such field is a flag."""
    for path, parser in subcommands(build_parser()):
        fields = {field.name: field for settings in parser.get_default("settings_classes") or ()
                  for field in dataclasses.fields(settings)}
        seen = set()
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.dest in fields, f"{' '.join(path)}: {action.option_strings or action.dest} is declared by hand"
            field, seen = fields[action.dest], seen | {action.dest}
            if action.help == argparse.SUPPRESS:  # the old name of a flag
                assert action.option_strings == [field.metadata["deprecated_alias"]]
            else:
                assert action.option_strings == option_strings(field)
                assert action.help.startswith(field.metadata["help"])
        assert seen == {name for name, field in fields.items() if field.metadata["flag"]}, path
        if not any(isinstance(action, argparse._SubParsersAction) for action in parser._actions):
            assert callable(parser.get_default("handler")), path


def test_settings_with_positional_repeated_and_alternative_flags_round_trip():
    parser = build_parser()
    for command, settings in [("predict", PredictSettings(images=("a.jpg", "photos"), json=True, timeout=5.0)),
                              ("dashboard", DashboardSettings(allow_websocket_origin=("a:1", "b:2"), show=True)),
                              ("rollback", RollbackSettings(to=3)), ("rollback", RollbackSettings(latest=True))]:
        assert from_arguments(type(settings), parser.parse_args([command, *to_arguments(settings)])) == settings
    # The flag `cataract predict` always had, and the one the doors always had, name one setting.
    for flag in ("--url", "--triton-url"):
        args = parser.parse_args(["predict", "a.jpg", flag, "triton:8001"])
        assert from_arguments(TritonSettings, args).url == "triton:8001"
    assert from_arguments(TritonSettings, parser.parse_args(["gateway", "--protocol", "http"])).url == "127.0.0.1:8000"
    with pytest.raises(SystemExit):  # --to N or --latest, exactly one
        parser.parse_args(["rollback", "--to", "2", "--latest"])


def test_json_means_print_json_and_files_are_json_out():
    """Wherever `--json` is a live flag it is a switch that prints JSON; a file is --json-out."""
    for path, parser in subcommands(build_parser()):
        for action in parser._actions:
            if "--json" in action.option_strings and action.help != argparse.SUPPRESS:
                assert action.nargs == 0, f"{' '.join(path)} --json takes a value"
            if "--json-out" in action.option_strings:
                assert action.metavar == "FILE"
    assert build_parser().parse_args(["predict", "a.jpg", "--json"]).json is True


def test_the_old_json_file_form_still_writes_the_file_and_warns(tmp_path, capsys):
    photos = tmp_path / "photos"
    assert main(["synth", str(photos), "--n", "8", "--height", "64"]) == 0
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    assert main(["audit", str(photos), "--workers", "0", "--json-out", str(new)]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert main(["audit", str(photos), "--workers", "0", "--json", str(old)]) == 0
    output = capsys.readouterr()
    assert "cataract audit: warning: --json FILE is deprecated: use --json-out FILE" in output.err
    assert f"written: {old}" in output.out
    assert json.loads(old.read_text()) == json.loads(new.read_text())


def test_an_output_file_that_is_a_photo_or_lies_under_a_file_is_refused_and_left_alone(tmp_path, capsys):
    """A report written over a photo of the audited folder would lose it; an earlier report
    of the same kind is written over, and a new report's folders are made."""
    photos = tmp_path / "photos"
    assert main(["synth", str(photos), "--n", "8", "--height", "64"]) == 0
    photo = next(photos.rglob("*.jpg"))
    before = photo.read_bytes()
    for flag in ("--html", "--json-out"):
        assert main(["audit", str(photos), "--workers", "0", flag, str(photo)]) == 2
        assert f"{flag} {photo} already exists and is not a" in capsys.readouterr().err
        assert main(["audit", str(photos), "--workers", "0", flag, str(photo / "report")]) == 2
        assert f"{photo} is a file, not a folder" in capsys.readouterr().err
    assert photo.read_bytes() == before
    report = tmp_path / "new" / "folder" / "report.html"
    for _ in range(2):  # the second run writes over the first one's report
        assert main(["audit", str(photos), "--workers", "0", "--html", str(report)]) == 0
    assert report.read_text().startswith("<!doctype html>")
    # Without a suffix: an earlier output of the same kind is written over, any other file is kept.
    earlier, notes = tmp_path / "results", tmp_path / "NOTES"
    notes.write_text("mine")
    for _ in range(2):
        assert main(["audit", str(photos), "--workers", "0", "--json-out", str(earlier)]) == 0
    assert main(["audit", str(photos), "--workers", "0", "--json-out", str(notes)]) == 2
    assert f"--json-out {notes} already exists and is not a .json file" in capsys.readouterr().err
    assert notes.read_text() == "mine" and json.loads(earlier.read_text())


def test_a_file_given_as_a_folder_is_named_as_a_file(tmp_path, capsys):
    a_file = tmp_path / "notes"
    a_file.write_text("mine")
    for command, message in ((["synth", str(a_file)], f"{a_file} is a file, not a folder"),
                             (["synth", str(a_file / "photos")], f"{a_file} is a file, not a folder"),
                             (["audit", str(a_file)], f"data folder {a_file} is a file")):
        assert main(command) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert message in line, command
    assert a_file.read_text() == "mine"


@pytest.mark.parametrize("command, message", [
    (["bench", "soak", "--photos", "p", "--seconds", "0"], "--seconds must be > 0, got 0.0"),
    (["bench", "soak", "--photos", "p", "--concurrency", "0"], "--concurrency must be >= 1, got 0"),
    (["bench", "overload", "--photos", "p", "--busy-pause", "-1"], "--busy-pause must be >= 0, got -1.0"),
    (["bench", "serve", "--photos", "p", "--concurrency", "1,0"], "--concurrency takes comma-separated integers >= 1"),
    (["bench", "infer", "--batch-sizes", "8,abc"], "--batch-sizes takes comma-separated integers >= 1, got '8,abc'"),
    (["bench", "train", "--batch-sizes", "0"], "--batch-sizes takes comma-separated integers >= 1, got '0'"),
    (["bench", "input", "--data", "d", "--workers", "x"], "--workers takes comma-separated integers >= 0, got 'x'"),
    (["synth", "out", "--height", "0"], "--height must be >= 32, got 0"),
    (["synth", "out", "--seed", "-1"], "--seed must be >= 0, got -1"),
    (["synth", "/proc/none", "--n", "8"], "cannot create /proc/none: No such file or directory"),
    (["predict", "a.jpg", "--url", "127.0.0.1:99999"],
     "--triton-url/--url: Triton address '127.0.0.1:99999' is not HOST:PORT with a port from 1 to 65535"),
    (["predict", "a.jpg", "--url", "host:port"], "--triton-url/--url: Triton address 'host:port' is not HOST:PORT"),
    (["operating-point", "/proc/none"], "/proc/none is not a training run (no config.json)"),
    (["audit", "photos", "--html", "/"], "--html / is a folder: give the file to write"),
    (["audit", "photos", "--json-out", "/"], "--json-out / is a folder: give the file to write"),
    (["bench", "audit", "--copy-share", "0.5"], "--copy-share must be >= 0 and < 0.5, got 0.5"),
    (["audit", "photos", "--workers", "-1"], "--workers must be >= 0, got -1"),
    (["serve", "--poll-seconds", "-1"], "--poll-seconds must be >= 0, got -1"),
    (["serve", "--poll-seconds", "5", "--allow-model-control"], "--poll-seconds cannot go with --allow-model-control"),
    (["predict", "a.jpg", "--timeout", "0"], "--timeout must be > 0, got 0.0"),
])
def test_values_out_of_their_limits_are_one_line_errors_naming_the_flag(command, message, capsys):
    assert main(command) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"cataract {command[0]}: error: {message}")


def test_predict_reports_a_photo_it_cannot_use_by_the_reason_and_exits_1(tmp_path, monkeypatch, capsys):
    from client import triton_client
    from client.errors import InvalidImageError

    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"not a photo")

    # answers as the client does for a file that is no image
    not_images = fake_screener(lambda sources: [InvalidImageError(str(source), "not an image") for source in sources])
    monkeypatch.setattr(triton_client, "CataractClient", not_images)
    assert main(["predict", str(photo), "--json"]) == 1
    output = capsys.readouterr()
    assert json.loads(output.out) == {"file": str(photo), "error": "not an image"}
    assert main(["predict", str(photo)]) == 1
    assert capsys.readouterr().out.splitlines()[1].split() == [str(photo), "error:", "not", "an", "image"]


def test_predict_of_photos_that_do_not_exist_says_so_before_asking_a_server(tmp_path, capsys):
    gone = tmp_path / "gone.jpg"
    # Port 9 on the loopback: no Triton there, so a connection attempt would say so instead.
    assert main(["predict", str(gone), str(tmp_path / "gone"), "--url", "127.0.0.1:9"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f"cataract predict: error: no such file or folder: {gone} {tmp_path / 'gone'}"


def test_train_help_lists_the_recipes(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = capsys.readouterr().out
    recipes = help_text[help_text.index("recipes:"):].splitlines()[1:]
    assert [line.split()[0] for line in recipes] == ["demo", "photos-cpu", "imagenet", "photos-gpu"] == list(RECIPES)
    assert "a flag given overrides that one setting" in help_text


def test_a_recipe_s_settings_are_overridden_by_the_flags_given_only():
    parser = build_parser()
    args = parser.parse_args(["train", "--data", "D", "--out", "R", "--recipe", "demo", "--image-size", "32"])
    recipe = recipe_settings("demo")
    expected = TrainConfig(data="D", out="R", **{**recipe, "recipe": "demo", "image_size": 32})
    assert TRAIN_SETTINGS.build(args) == expected
    assert expected.image_size == 32 != recipe["image_size"] and expected.width == recipe["width"] != 1.0
    # A flag given at its default value still overrides the recipe; one not given does not.
    args = parser.parse_args(["train", "--data", "D", "--out", "R", "--recipe", "demo", "--image-size", "224"])
    assert TRAIN_SETTINGS.build(args).image_size == 224
    # Without a recipe the defaults hold, and the parsed flags are every field, as for any class.
    args = parser.parse_args(["train", "--data", "D", "--out", "R", "--epochs", "2"])
    assert TRAIN_SETTINGS.build(args) == from_arguments(TrainConfig, args) == TrainConfig(data="D", out="R", epochs=2)
    # The recipe's epochs yield to the shorthand given.
    args = parser.parse_args(["train", "--data", "D", "--out", "R", "--recipe", "photos-gpu", "--epochs", "3"])
    assert (TRAIN_SETTINGS.build(args).head_epochs, TRAIN_SETTINGS.build(args).finetune_epochs) == (3, 3)


def test_an_unknown_recipe_exits_2_naming_the_known_ones(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["train", "--data", "D", "--out", "R", "--recipe", "fast"])
    assert exit.value.code == 2
    error = capsys.readouterr().err
    assert "fast" in error and all(name in error for name in RECIPES)


def test_export_takes_allow_unproven_and_passes_it_on(monkeypatch, capsys):
    from train_jax.errors import UserError
    from train_jax.export import export as export_module

    calls = []

    def refuse(run, repository, **options):  # as export does with a run that did not learn
        calls.append(options)
        raise UserError("R did not learn")

    monkeypatch.setattr(export_module, "export", refuse)
    assert main(["export", "--run", "R", "--allow-unproven"]) == 2
    assert main(["export", "--run", "R"]) == 2
    assert [options["allow_unproven"] for options in calls] == [True, False]


def test_the_recipe_benchmark_exits_1_when_a_seed_misses_the_goal(monkeypatch):
    from benchmarks import recipe

    for reached in (True, False):
        monkeypatch.setattr(recipe, "run_recipe_benchmark", lambda config, reached=reached: {"all_reached": reached})
        assert main(["bench", "recipe", "demo", "--seeds", "0-1"]) == (0 if reached else 1)
