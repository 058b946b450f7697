"""Faults: damaged checkpoints, a model version that cannot load, long load, exposure."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from client.errors import InferenceError
from client.triton_client import CataractClient, Prediction
from tests.helpers import start_server
from train_jax.export import repository as repo
from train_jax.export.export import export
from train_jax.model.keras_h5 import KERAS_NOTOP_FILE

from serving.embedded import LocalTritonServer, ServerOptions
from tests.helpers import REPOSITORY, free_ports, run_cli, tiny_config
import cataract_contract as contract
from cataract_cli.main import build_parser
from train_jax.training.trainer import train


def epochs_logged(run):
    return [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def damage(folder):
    """Flip bytes in the middle of every array file of a checkpoint, keeping sizes."""
    for file in folder.rglob("*"):
        if file.is_file() and file.parent.name == "d":
            data = bytearray(file.read_bytes())
            for i in range(len(data) // 3, len(data) // 3 + 16):
                data[i] ^= 0xFF
            file.write_bytes(bytes(data))


@pytest.mark.slow
def test_damaged_checkpoints_are_detected_skipped_and_never_loaded(synthetic_photos, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    run = tmp_path / "run"
    config = tiny_config(synthetic_photos, run, head_epochs=2, finetune_epochs=2, patience=10)
    train(config)
    damage(run / "checkpoints" / "4")
    train(config, resume=True)
    assert "checkpoint of epoch 4 is damaged" in caplog.text
    assert "resuming after epoch 3" in caplog.text
    assert epochs_logged(run) == [1, 2, 3, 4]

    # The best checkpoint damaged: evaluation refuses instead of using other weights.
    best = json.loads((run / "checkpoints" / "4" / "progress" / "metadata").read_text())["best_epoch"]
    damage(run / "checkpoints" / str(best))
    result = run_cli("evaluate", "--run", str(run), "--data", str(synthetic_photos / "test"))
    assert result.returncode == 2
    assert f"the best checkpoint of {run} (epoch {best}) is damaged" in result.stderr.strip().splitlines()[-1]


@pytest.mark.server
def test_a_version_that_cannot_load_does_not_take_the_others_down(tiny_repository, tmp_path):
    repository = tmp_path / "repository"
    shutil.copytree(tiny_repository, repository)
    saved = repository / contract.CLASSIFIER / "1" / contract.SAVEDMODEL_DIR / "saved_model.pb"
    saved.write_bytes(b"this is not a SavedModel")
    http, grpc, metrics = free_ports(3)
    process = subprocess.Popen(
        [sys.executable, "-m", "cataract_cli", "serve", "--repository", str(repository), "--ready-timeout", "180",
         "--http-port", str(http), "--grpc-port", str(grpc), "--metrics-port", str(metrics)],
        cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = ""
        deadline = time.monotonic() + 300
        while "Triton ready" not in line and time.monotonic() < deadline and process.poll() is None:
            line = process.stdout.readline()
        assert "Triton ready" in line, process.stderr.read()
        request = urllib.request.Request(f"http://127.0.0.1:{http}/v2/repository/index", data=b"{}", method="POST")
        states = {m["name"]: m.get("state") for m in json.loads(urllib.request.urlopen(request).read())}
        assert states[contract.PREPROCESS] == "READY"
        # `cataract serve` polls the repository, and Triton tries a version that failed
        # again at every poll: between tries it is UNAVAILABLE, during one LOADING.
        assert states[contract.CLASSIFIER] in ("UNAVAILABLE", "LOADING")
        assert states[contract.ENSEMBLE] != "READY"  # it needs the classifier
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=60)
    assert f"model {contract.CLASSIFIER} (version 1) failed to load: Internal: OSError: Cannot parse file" in errors
    assert f"model {contract.ENSEMBLE} failed to load: not loaded: a model it needs failed to load" in errors


@pytest.mark.server
def test_soak_keeps_every_request_and_memory_flat(tiny_repository, synthetic_photos):
    result = run_cli("bench", "soak", "--repository", str(tiny_repository), "--photos", str(synthetic_photos / "test"),
                     "--concurrency", "16", "--seconds", "20", "--max-memory-growth", "0.10", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ", failed 0, lost 0" in result.stdout


@pytest.mark.server
def test_serving_benchmark_measures_every_path_without_errors(tiny_repository, synthetic_photos, tmp_path):
    """The benchmark is a command, not a test; this only proves that it runs end to end."""
    figures = tmp_path / "serving.json"
    result = run_cli("bench", "serve", "--repository", str(tiny_repository), "--photos", str(synthetic_photos / "test"),
                     "--concurrency", "1,4", "--seconds", "2", "--json-out", str(figures), timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(figures.read_text())
    for path in ("triton", "reference"):
        assert [level["concurrency"] for level in report[path]] == [1, 4]
        assert all(level["errors"] == 0 and level["throughput"] > 0 for level in report[path])
    assert set(report["in_process"]) == {"1", "8"} and set(report["client_transports"]) == {"tensor", "bytes"}
    assert "x the reference's throughput" in result.stdout


@pytest.mark.server
def test_servers_bind_to_loopback_and_keep_model_control_off_by_default(tiny_repository):
    server = LocalTritonServer(ServerOptions(tiny_repository))
    command = server.command()
    for flag in ("--http-address=127.0.0.1", "--grpc-address=127.0.0.1", "--metrics-address=127.0.0.1",
                 "--model-control-mode=none"):
        assert flag in command
    assert not any(flag.startswith("--load-model") for flag in command)
    opened = LocalTritonServer(ServerOptions(tiny_repository, model_control="explicit")).command()
    assert "--model-control-mode=explicit" in opened and "--load-model=*" in opened

    parser = build_parser()
    assert parser.parse_args(["serve"]).host == "127.0.0.1"
    assert parser.parse_args(["dashboard"]).address == "127.0.0.1"
    assert parser.parse_args(["serve"]).allow_model_control is False


@pytest.mark.server
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "triton.example.org"])
def test_model_control_is_refused_off_loopback(tiny_repository, host):
    """Model control lets a client load a python model, whose code the backend runs."""
    result = run_cli("serve", "--repository", str(tiny_repository), "--host", host, "--allow-model-control")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"cataract serve: error: model control (--allow-model-control) lets any client that reaches the server run code "
        f"on this machine: refused with --host {host}; use it only with a loopback address"
    ]
    for loopback in ("127.0.0.1", "::1", "localhost"):
        assert ServerOptions(tiny_repository, host=loopback, model_control="explicit").host == loopback
    help_text = run_cli("serve", "--help").stdout
    assert "run any code on this machine" in " ".join(help_text.split())


def test_served_configs_name_no_folder_of_the_training_machine(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    config = json.loads((run / "config.json").read_text())
    config["weights_source"] = f"/home/alice/secret-project/{KERAS_NOTOP_FILE} (md5 6d6bbae143d832006294945121d1f1fc)"
    (run / "config.json").write_text(json.dumps(config))
    repository = tmp_path / "repository"
    export(run, repository, cpu_precision="float32", allow_unproven=True)
    served = repo.parse_config((repository / contract.CLASSIFIER / "config.pbtxt").read_text())
    assert served.parameters["weights_source"].string_value == f"{KERAS_NOTOP_FILE} (md5 6d6bbae143d832006294945121d1f1fc)"
    for path in repository.rglob("*.pbtxt"):
        assert "/home/alice" not in path.read_text() and str(tmp_path) not in path.read_text(), path


# Fault injection (the only way to make TensorFlow or Pillow fail on demand inside a real
# Triton): appended to the copies the served repository runs, they raise, with a
# private path in the message, for images whose first pixel is white.
CLASSIFIER_FAULT = """
_served_call = SavedModelClassifier.__call__
def _failing_call(self, images, *args, **options):
    if images.size and images.flat[0] == 255:
        raise RuntimeError("cannot map /srv/private/weights.bin: injected fault")
    return _served_call(self, images, *args, **options)
SavedModelClassifier.__call__ = _failing_call
"""
PREPROCESS_FAULT = """
_served_resize = resize_for_model
def resize_for_model(image, size):
    if image.getpixel((0, 0)) == (255, 255, 255):
        raise RuntimeError("cannot map /srv/private/decoder.bin: injected fault")
    return _served_resize(image, size)
"""


@pytest.mark.server
def test_internal_failures_reach_clients_as_short_messages_with_details_in_the_log(tiny_repository, tmp_path):
    repository = tmp_path / "repository"
    shutil.copytree(tiny_repository, repository)
    with open(repository / contract.CLASSIFIER / "1" / "savedmodel_runner" / "__init__.py", "a") as runner:
        runner.write(CLASSIFIER_FAULT)
    with open(repository / contract.PREPROCESS / "1" / "cataract_contract" / "__init__.py", "a") as shared:
        shared.write(PREPROCESS_FAULT)
    white = np.full((32, 32, 3), 255, np.uint8)
    server = start_server(repository)
    try:
        for transport, model in (("tensor", "classifier"), ("bytes", "preprocess")):
            with CataractClient(server.grpc_url, transport=transport) as screener:
                with pytest.raises(InferenceError, match=f"{model} failed on the server \\(details in the server log\\)") as error:
                    screener.predict(white)
                assert "/srv/private" not in str(error.value) and "injected" not in str(error.value)
                assert isinstance(screener.predict(white // 2), Prediction)  # the model still serves
        log = server.log_text()
        assert "cannot map /srv/private/weights.bin: injected fault" in log
        assert "cannot map /srv/private/decoder.bin: injected fault" in log
    finally:
        server.stop()
