"""Training end to end: learning, the run folder, resuming, several devices, the threshold
chosen once, settings declared once, and one-line errors for bad arguments."""

from __future__ import annotations

import csv
import dataclasses
import json

import jax
import numpy as np
import optax
import pytest

from cataract_cli.main import build_parser, main
from cataract_contract import CATARACT
from tests.helpers import epoch_lines, run_cli, tiny_config, train_command, validation_scores
from train_jax.errors import UserError
from train_jax.evaluation.evaluate import evaluate
from train_jax.settings import from_arguments
from train_jax.training.config import TrainConfig, resolve_compute_dtype
from train_jax.training.run_folder import read_predictions
from train_jax.training.threshold import OperatingPoint, choose_threshold
from train_jax.training.trainer import (
    EarlyStopping, Epoch, Phase, Progress, learning_rate_schedule, make_optimizer, train, warmup_steps,
)


def test_run_folder_holds_config_metrics_checkpoints_and_predictions(synthetic_photos, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(synthetic_photos, run, epochs=2))
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["head_epochs"] == 2 and config["model"]["image_size"] == 32
    photos_on_disk = len(list((synthetic_photos / "train" / "cataract").iterdir()))
    assert config["data"]["train"]["cataract"] + config["data"]["validation"]["cataract"] == photos_on_disk
    split = json.loads((run / "split.json").read_text())
    assert not set(split["train"]) & set(split["validation"])
    lines = epoch_lines(run)
    assert [line["epoch"] for line in lines] == [1, 2, 3, 4]
    assert [line["phase"] for line in lines] == ["head", "head", "finetune", "finetune"]
    steps = sorted(int(p.name) for p in (run / "checkpoints").iterdir() if p.name.isdigit())
    best = min(lines, key=lambda line: line["val_loss"])["epoch"]
    assert steps == sorted({best, 3, 4}), "keeps exactly the best and the two latest checkpoints"
    assert sorted(int(p.stem) for p in (run / "checksums").glob("*.json")) == steps
    assert len(validation_scores(run)) == len(split["validation"])

    # Evaluation takes a dataset root and uses its test/ split.
    assert main(["evaluate", "--run", str(run), "--data", str(synthetic_photos)]) == 0
    report = json.loads((run / "metrics.json").read_text())
    assert report["test_counts"] == {
        name: len(list((synthetic_photos / "test" / name).iterdir())) for name in ("cataract", "normal")
    }
    assert report["threshold_rule"].startswith("sensitivity=0.90:")  # the default operating point
    _, labels, scores = read_predictions(run / "val_predictions.csv")
    assert report["threshold"] == choose_threshold(np.array(labels) == CATARACT, np.array(scores),
                                                   OperatingPoint.parse("sensitivity=0.90"))


def test_early_stopping_is_a_pure_update():
    start = EarlyStopping(patience=2)
    first = start.update(1.0, epoch=1)
    assert start == EarlyStopping(patience=2, best_loss=float("inf"), best_epoch=0, epochs_without_improvement=0)
    assert first == EarlyStopping(patience=2, best_loss=1.0, best_epoch=1, epochs_without_improvement=0)
    barely = first.update(1.0 - 1e-7, epoch=2)  # a fall under 1e-6 is no improvement
    assert barely == EarlyStopping(patience=2, best_loss=1.0, best_epoch=1, epochs_without_improvement=1)
    assert not barely.should_stop
    assert barely.update(0.5, epoch=3) == EarlyStopping(patience=2, best_loss=0.5, best_epoch=3, epochs_without_improvement=0)
    stopped = barely.update(2.0, epoch=3)
    assert stopped.epochs_without_improvement == 2 and stopped.should_stop
    with pytest.raises(dataclasses.FrozenInstanceError):
        start.best_loss = 0.0


HEAD, FINETUNE = Phase("head", 3, 1e-3, 5), Phase("finetune", 4, 1e-4, 4)


def test_early_stopping_judges_each_phase_against_its_own_best_and_the_final_model_takes_the_best_of_all():
    progress = Progress(EarlyStopping(patience=2))
    for in_phase, loss in enumerate([0.5, 0.6, 0.7], start=1):
        progress = progress.after_epoch(Epoch(HEAD, in_phase, in_phase), loss)
    assert progress.stopping.should_stop and progress.phase_finished
    assert (progress.best_epoch, progress.best_loss, progress.global_epoch) == (1, 0.5, 3)

    # Fine-tuning starts worse than the head's best: a weak head phase does not end it.
    progress = progress.start_phase(1, patience=2)
    assert progress == Progress(EarlyStopping(patience=2), phase=1, global_epoch=3, best_epoch=1, best_loss=0.5)
    progress = progress.after_epoch(Epoch(FINETUNE, 1, 4), 0.9)
    progress = progress.after_epoch(Epoch(FINETUNE, 2, 5), 0.8)
    assert progress.stopping == EarlyStopping(patience=2, best_loss=0.8, best_epoch=5, epochs_without_improvement=0)
    assert not progress.phase_finished and progress.best_epoch == 1, "the best of all phases is still the head's"
    progress = progress.after_epoch(Epoch(FINETUNE, 3, 6), 0.4)
    assert (progress.best_epoch, progress.best_loss, progress.stopping.best_epoch) == (6, 0.4, 6)
    progress = progress.after_epoch(Epoch(FINETUNE, 4, 7), 0.45)
    assert progress.phase_finished and not progress.stopping.should_stop  # the phase's last epoch

    # Checkpoints keep the record flat, under the keys runs have always stored (the best of
    # all phases), with the phase's own best beside them, and resume from it exactly.
    assert progress.to_checkpoint() == {
        "phase": 1, "epoch_in_phase": 4, "phase_finished": True, "global_epoch": 7,
        "best_epoch": 6, "best_val_loss": 0.4, "phase_best_epoch": 6, "phase_best_val_loss": 0.4,
        "epochs_without_improvement": 1,
    }
    assert Progress.from_checkpoint(progress.to_checkpoint(), patience=2) == progress
    assert progress.has_finished(1) and progress.has_finished(0) and not progress.has_finished(2)
    # A run checkpointed before phases kept their own best judged the phase against the best of all.
    old = {key: value for key, value in progress.to_checkpoint().items() if not key.startswith("phase_best")}
    assert Progress.from_checkpoint({**old, "best_epoch": 3, "best_val_loss": 0.3}, patience=2).stopping == EarlyStopping(
        patience=2, best_loss=0.3, best_epoch=3, epochs_without_improvement=1)


def test_the_learning_rate_warms_up_then_decays_by_a_cosine_over_each_phase(tmp_path):
    config = tiny_config(tmp_path, tmp_path / "run", warmup_epochs=2.0, decay="cosine", final_learning_rate_fraction=0.01)
    steps = 5  # per epoch
    finetune = Phase("finetune", 10, 1e-3, 4)
    assert warmup_steps(config, finetune, steps) == 10
    schedule = learning_rate_schedule(config, finetune, steps)
    assert float(schedule(0)) == 0.0
    assert float(schedule(5)) == pytest.approx(5e-4)  # halfway up
    assert float(schedule(10)) == pytest.approx(1e-3)  # the peak, at the warm-up's end
    assert float(schedule(30)) == pytest.approx(1e-5 + (1e-3 - 1e-5) / 2)  # halfway down the cosine
    assert float(schedule(50)) == pytest.approx(1e-5)  # 1% of the peak at the phase's end
    rates = [float(schedule(step)) for step in range(51)]
    assert rates[:11] == sorted(rates[:11]) and rates[10:] == sorted(rates[10:], reverse=True)

    # The warm-up takes at most half a phase, and at least a step when asked for.
    assert warmup_steps(config, Phase("head", 1, 1e-3, 5), steps) == 2
    assert warmup_steps(dataclasses.replace(config, warmup_epochs=0.01), finetune, steps) == 1
    # No warm-up and a constant rate: the peak throughout.
    constant = dataclasses.replace(config, warmup_epochs=0.0, decay="constant", clip_norm=0.0)
    assert {float(learning_rate_schedule(constant, finetune, steps)(step)) for step in (0, 25, 50)} == {
        float(np.float32(1e-3))}

    # The optimizer follows the schedule: its first step, at rate 0, moves nothing.
    optimizer, params = make_optimizer(config, finetune, steps), {"w": np.zeros(2, np.float32)}
    updates, _ = optimizer.update({"w": np.ones(2, np.float32)}, optimizer.init(params), params)
    np.testing.assert_array_equal(updates["w"], 0.0)


def test_gradients_are_clipped_by_their_global_norm(tmp_path):
    """Adam's first step hides a gradient's scale, its later steps do not: with clipping,
    a huge first gradient moves the second step as a gradient of norm 1 would."""
    config = tiny_config(tmp_path, tmp_path / "run", warmup_epochs=0.0, decay="constant", clip_norm=1.0)
    params = {"w": np.zeros(2, np.float32)}
    gradient = np.array([0.6, 0.8], np.float32)  # norm 1: not clipped

    def second_update(config, first_scale: float) -> np.ndarray:
        optimizer = make_optimizer(config, FINETUNE, 5)
        state = optimizer.init(params)
        _, state = optimizer.update({"w": gradient * first_scale}, state, params)
        updates, _ = optimizer.update({"w": gradient}, state, params)
        return np.asarray(updates["w"])

    np.testing.assert_allclose(second_update(config, 1000.0), second_update(config, 1.0), rtol=1e-6)
    unclipped = dataclasses.replace(config, clip_norm=0.0)
    assert not np.allclose(second_update(unclipped, 1000.0), second_update(unclipped, 1.0), rtol=1e-3)


def test_a_run_recorded_before_the_optimiser_settings_resumes_as_it_trained(tmp_path):
    """Its config.json lacks them: it trained at a constant rate, unclipped, and its
    checkpoints hold plain Adam's state."""
    recorded = tiny_config(tmp_path, tmp_path / "run").to_json()
    for name in ("recipe", "warmup_epochs", "decay", "final_learning_rate_fraction", "clip_norm"):
        del recorded[name]
    old = TrainConfig.from_json(recorded)
    assert (old.warmup_epochs, old.decay, old.clip_norm) == (0.0, "constant", 0.0)
    params = {"w": np.zeros(2, np.float32)}
    assert jax.tree.structure(make_optimizer(old, FINETUNE, 5).init(params)) == jax.tree.structure(
        optax.adam(1e-4).init(params))


@pytest.mark.slow
def test_data_parallel_over_two_devices_matches_one(synthetic_photos, tmp_path):
    def command(out, **overrides):
        return train_command(tiny_config(synthetic_photos, tmp_path / out, epochs=1, **overrides))

    one = run_cli(*command("one"))
    two = run_cli(*command("two"), env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert one.returncode == 0 and two.returncode == 0, two.stderr
    assert len(json.loads((tmp_path / "two" / "config.json").read_text())["devices"]) == 2
    np.testing.assert_allclose(validation_scores(tmp_path / "two"), validation_scores(tmp_path / "one"), atol=1e-4)

    odd = run_cli(*command("odd", batch_size=7), env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert odd.returncode == 2 and "does not split evenly over 2 devices" in odd.stderr


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--image-size", "50"], "multiple of 32"),
        (["--batch-size", "500"], "larger than the"),
        (["--unfreeze-blocks", "9"], "--unfreeze-blocks must be >= 0 and <= 5"),
        (["--weights", "/no/such/file.h5"], "no such file"),
    ],
)
def test_bad_arguments_fail_in_one_line(synthetic_photos, tmp_path, extra, message, capsys):
    args = [*train_command(tiny_config(synthetic_photos, tmp_path / "run")), *extra]
    assert main(args) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("cataract train: error:") and message in error
    assert not (tmp_path / "run").exists(), "a refused setting leaves no run folder behind"


def test_missing_data_fails_in_one_line_without_traceback(tmp_path):
    result = run_cli("train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"cataract train: error: data folder {tmp_path / 'missing'} does not exist"


def test_grain_pipeline_is_deterministic_and_worker_independent(synthetic_photos, tmp_path):
    from train_jax.data.augment import AugmentConfig
    from train_jax.data.decoded import DecodedPhotos
    from train_jax.data.scan import discover
    from train_jax.data.pipeline import epoch_batches

    records = discover(synthetic_photos)["train"][:12]

    def first_batch(workers: int, epoch: int = 1):
        options = dict(image_size=32, batch_size=6, seed=7, epochs=(epoch,), shuffle=True,
                       augment_config=AugmentConfig(), drop_remainder=True, workers=workers)
        return next(epoch_batches(records, **options))

    in_process, with_workers = first_batch(0), first_batch(2)
    np.testing.assert_array_equal(in_process["image"], with_workers["image"])
    np.testing.assert_array_equal(in_process["label"], with_workers["label"])
    assert in_process["image"].shape == (6, 32, 32, 3)
    assert not np.array_equal(first_batch(0, epoch=2)["image"], in_process["image"])

    # Consecutive epochs from one pipeline (its workers start once) are the epochs one by one.
    stream = list(epoch_batches(records, image_size=32, batch_size=6, seed=7, epochs=(1, 2), shuffle=True,
                                augment_config=AugmentConfig(), drop_remainder=True, workers=2))
    one_by_one = [batch for epoch in (1, 2) for batch in epoch_batches(
        records, image_size=32, batch_size=6, seed=7, epochs=(epoch,), shuffle=True, augment_config=AugmentConfig(),
        drop_remainder=True)]
    assert len(stream) == len(one_by_one) == 4
    for streamed, single in zip(stream, one_by_one):
        np.testing.assert_array_equal(streamed["image"], single["image"])

    # Photos decoded once give the batches that decoding every epoch gives.
    decoded = DecodedPhotos.build(records, 32, tmp_path / "decoded.npy", epoch_batches(records, image_size=32, batch_size=5))
    from_decoded = list(epoch_batches(records, image_size=32, batch_size=6, seed=7, epochs=(1, 2), shuffle=True,
                                      augment_config=AugmentConfig(), drop_remainder=True, workers=2, decoded=decoded))
    for batch, expected in zip(from_decoded, stream, strict=True):
        np.testing.assert_array_equal(batch["image"], expected["image"])
        np.testing.assert_array_equal(batch["label"], expected["label"])

    plain = next(epoch_batches(records, image_size=32, batch_size=12))
    again = next(epoch_batches(records, image_size=32, batch_size=12))
    np.testing.assert_array_equal(plain["image"], again["image"])  # no augmentation outside training


def test_settings_are_declared_once_and_the_command_line_is_built_from_them(tmp_path):
    parser = build_parser()
    train_parser = parser._subparsers._group_actions[0].choices["train"]
    flags = {action.dest: action for action in train_parser._actions}
    for field in dataclasses.fields(TrainConfig):
        if field.name in ("data", "out"):
            assert flags[field.name].required
        assert field.metadata["help"] and flags[field.name].help.startswith(field.metadata["help"])
    assert flags["compute_dtype"].choices == ("auto", "float32", "bfloat16")

    # Flags and config round-trip, and the shorthand resolves into what the run records.
    config = tiny_config(tmp_path, tmp_path / "run", epochs=3, allow_leakage=True)
    assert (config.head_epochs, config.finetune_epochs, config.epochs) == (3, 3, None)
    parsed = parser.parse_args(train_command(config))
    assert from_arguments(TrainConfig, parsed) == config

    # Each limit is checked by the config itself, naming the flag.
    for field, value, message in [("dropout", 1.0, "--dropout must be >= 0 and < 1, got 1.0"),
                                  ("compute_dtype", "float16", "--compute-dtype must be one of auto, float32, bfloat16"),
                                  ("image_size", 50, "multiple of 32"),
                                  ("head_epochs", -1, "--head-epochs must be >= 0")]:
        with pytest.raises(UserError, match=message):
            tiny_config(tmp_path, tmp_path / "run", **{field: value})
    with pytest.raises(UserError, match="must not both be 0"):
        tiny_config(tmp_path, tmp_path / "run", epochs=0)


def test_one_rule_decides_the_compute_precision_for_training_and_the_benchmarks():
    assert [resolve_compute_dtype("auto", platform) for platform in ("cpu", "gpu", "tpu")] == [
        "float32", "bfloat16", "bfloat16"]
    assert resolve_compute_dtype("float32", "gpu") == "float32" and resolve_compute_dtype("bfloat16", "cpu") == "bfloat16"


def test_the_threshold_is_chosen_once_when_training_finishes_and_read_by_evaluate_and_export(tiny_run, synthetic_photos, tmp_path):
    import shutil

    from cataract_contract import CLASSIFIER
    from train_jax.export.export import export
    from train_jax.export.repository import parse_config
    from train_jax.training.threshold import OperatingPoint, choose_threshold

    chosen = json.loads((tiny_run / "threshold.json").read_text())
    with open(tiny_run / "val_predictions.csv") as file:
        rows = list(csv.DictReader(file))
    labels = np.array([row["label"] == "cataract" for row in rows])
    assert chosen["decision_threshold"] == choose_threshold(labels, validation_scores(tiny_run),
                                                            OperatingPoint.parse("sensitivity=0.90"))
    assert chosen["rule"].startswith("sensitivity=0.90:")

    # Evaluate and export take the stored threshold; they never choose their own.
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "threshold.json").write_text(json.dumps({**chosen, "decision_threshold": 0.8125}))
    assert evaluate(run, synthetic_photos / "test")["threshold"] == 0.8125
    exported = export(run, tmp_path / "repository", cpu_precision="float32", allow_unproven=True)
    assert exported.card.decision_threshold == 0.8125
    config = parse_config((tmp_path / "repository" / CLASSIFIER / "config.pbtxt").read_text())
    assert config.parameters["decision_threshold"].string_value == "0.812500"
