"""The exported model repository, served by a real tritonserver over HTTP and gRPC.

Expected answers come from the SavedModel run in-process by TensorFlow; the server must
reproduce them for every input, through the classifier and through the ensemble.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpc_aio
import tritonclient.http as httpclient
from PIL import Image
from tritonclient.utils import InferenceServerException

from cataract_contract import model_input
from tests.helpers import REPOSITORY, free_ports, model_statistics, settled_count, start_server
import cataract_contract as contract
from train_jax.export import repository as repo
from savedmodel_runner import SavedModelClassifier
from train_jax.export import savedmodel
from train_jax.errors import UserError
from train_jax.export.export import cpu_supports_bfloat16, export

SIZE = 32  # the tiny model's input side


def newest_savedmodel(repository: Path) -> Path:
    version = contract.version_numbers(repository / contract.CLASSIFIER)[-1]
    return repository / contract.CLASSIFIER / str(version) / contract.SAVEDMODEL_DIR


def served_parameters(config) -> contract.ServedParameters:
    """The served parameters of a parsed classifier config, typed."""
    return contract.ServedParameters.from_config({key: value.string_value for key, value in config.parameters.items()})


def in_process(repository: Path, images: np.ndarray) -> dict[str, np.ndarray]:
    return SavedModelClassifier(newest_savedmodel(repository)).run_batches(images)


def photos(synthetic_photos: Path, count: int) -> list[Path]:
    return sorted((synthetic_photos / "test").rglob("*.jpg"))[:count]


def infer(protocol, server, model, name, array, outputs=("probabilities", "heatmap"), class_count=0):
    api = grpcclient if protocol == "grpc" else httpclient
    url = server.grpc_url if protocol == "grpc" else server.http_url
    client = api.InferenceServerClient(url)
    try:
        tensor = api.InferInput(name, list(array.shape), "UINT8" if array.dtype == np.uint8 else "FP32")
        tensor.set_data_from_numpy(array)
        requested = [api.InferRequestedOutput(o, class_count=class_count) for o in outputs]
        result = client.infer(model, [tensor], outputs=requested)
        return {o: result.as_numpy(o) for o in outputs}
    finally:
        client.close()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("batch", [1, 5])
def test_classifier_answers_equal_the_savedmodel(triton, tiny_repository, synthetic_photos, protocol, batch):
    images = np.stack([model_input(p, SIZE) for p in photos(synthetic_photos, batch)])
    served = infer(protocol, triton, contract.CLASSIFIER, "image", images)
    expected = in_process(tiny_repository, images)
    assert served["probabilities"].shape == (batch, 2) and served["heatmap"].shape == (batch, 1, 1)
    np.testing.assert_allclose(served["probabilities"], expected["probabilities"], atol=1e-4)
    np.testing.assert_allclose(served["heatmap"], expected["heatmap"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("format", ["JPEG", "PNG"])
def test_ensemble_decodes_photos_on_the_server(triton, tiny_repository, synthetic_photos, protocol, format):
    path = photos(synthetic_photos, 3)[2]
    buffer = io.BytesIO()
    Image.open(path).save(buffer, format=format)
    encoded = np.frombuffer(buffer.getvalue(), np.uint8)[None, :]
    served = infer(protocol, triton, contract.ENSEMBLE, "image_bytes", encoded)
    expected = in_process(tiny_repository, model_input(buffer.getvalue(), SIZE)[None])
    np.testing.assert_allclose(served["probabilities"], expected["probabilities"], atol=1e-3)
    np.testing.assert_allclose(served["heatmap"], expected["heatmap"], rtol=1e-3, atol=1e-3)


def test_distinct_photos_get_distinct_correct_answers(triton, tiny_repository):
    """Guards against the numpy-2 failure mode in which every input got one answer."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (8, SIZE, SIZE, 3), dtype=np.uint8)
    images[:4] //= 4  # half of them dark, so the scores spread
    served = infer("grpc", triton, contract.CLASSIFIER, "image", images)["probabilities"]
    expected = in_process(tiny_repository, images)["probabilities"]
    np.testing.assert_allclose(served, expected, atol=1e-4)
    assert len({round(float(p), 6) for p in served[:, 0]}) == 8


def test_concurrent_requests_are_batched(triton):
    images = np.random.default_rng(4).integers(0, 256, (24, 1, SIZE, SIZE, 3), dtype=np.uint8)
    settled_count(lambda: int(model_statistics(triton, contract.CLASSIFIER).get("inference_count", 0)), quiet=1.0)
    before = model_statistics(triton, contract.CLASSIFIER)  # once earlier tests' requests are all counted

    async def fire():
        client = grpc_aio.InferenceServerClient(triton.grpc_url)
        try:
            async def one(image):
                tensor = grpcclient.InferInput("image", list(image.shape), "UINT8")
                tensor.set_data_from_numpy(image)
                return await client.infer(contract.CLASSIFIER, [tensor])

            await asyncio.gather(*(one(image) for image in images))
        finally:
            await client.close()

    asyncio.run(fire())
    counted = lambda name: int(model_statistics(triton, contract.CLASSIFIER).get(name, 0)) - int(before.get(name, 0))
    inferences = settled_count(lambda: counted("inference_count"), 24)
    executions = counted("execution_count")
    assert inferences == 24
    assert executions < inferences, f"{executions} executions for {inferences} inferences: nothing was batched"


def test_classification_extension_returns_labelled_scores(triton):
    image = np.random.default_rng(5).integers(0, 256, (1, SIZE, SIZE, 3), dtype=np.uint8)
    probabilities = infer("grpc", triton, contract.CLASSIFIER, "image", image, outputs=("probabilities",))["probabilities"][0]
    labelled = infer("http", triton, contract.CLASSIFIER, "image", image, outputs=("probabilities",), class_count=2)["probabilities"][0]
    entries = [entry.decode().split(":") for entry in labelled]
    assert {label for _, _, label in entries} == {"cataract", "normal"}
    for score, index, label in entries:
        assert ["cataract", "normal"][int(index)] == label
        assert float(score) == pytest.approx(probabilities[int(index)], abs=1e-5)


def test_bad_inputs_get_errors_and_the_server_keeps_serving(triton, tiny_repository, synthetic_photos):
    good_jpeg = photos(synthetic_photos, 1)[0].read_bytes()
    stubs_before = set(triton.stub_pids())
    bad_requests = {
        "wrong dtype": (contract.CLASSIFIER, "image", np.zeros((1, SIZE, SIZE, 3), np.float32), "FP32"),
        "wrong shape": (contract.CLASSIFIER, "image", np.zeros((1, SIZE + 1, SIZE, 3), np.uint8), "unexpected shape"),
        "wrong rank": (contract.CLASSIFIER, "image", np.zeros((1, SIZE, SIZE), np.uint8), "unexpected shape"),
        "batch too large": (contract.CLASSIFIER, "image", np.zeros((repo.cpu_max_batch(SIZE) + 1, SIZE, SIZE, 3), np.uint8), "batch"),
        "text bytes": (contract.ENSEMBLE, "image_bytes", np.frombuffer(b"this is not a photo", np.uint8)[None], "not an image"),
        "truncated jpeg": (contract.ENSEMBLE, "image_bytes", np.frombuffer(good_jpeg[: len(good_jpeg) // 2], np.uint8)[None], "truncated"),
    }
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    try:
        for what, (model, name, array, message) in bad_requests.items():
            datatype = "FP32" if array.dtype == np.float32 else "UINT8"
            tensor = grpcclient.InferInput(name, list(array.shape), datatype)
            tensor.set_data_from_numpy(array)
            with pytest.raises(InferenceServerException, match=message) as error:
                client.infer(model, [tensor])
            assert error.value.message(), what
            assert client.is_server_live() and client.is_server_ready(), f"server unhealthy after {what}"
        for model in (contract.CLASSIFIER, contract.PREPROCESS, contract.ENSEMBLE):
            assert client.is_model_ready(model)
    finally:
        client.close()
    image = model_input(good_jpeg, SIZE)[None]
    served = infer("grpc", triton, contract.CLASSIFIER, "image", image)
    np.testing.assert_allclose(served["probabilities"], in_process(tiny_repository, image)["probabilities"], atol=1e-4)
    assert set(triton.stub_pids()) == stubs_before, "a backend stub died or was restarted"


def test_every_config_parses_into_triton_model_config(tiny_repository):
    classifier = repo.parse_config((tiny_repository / contract.CLASSIFIER / "config.pbtxt").read_text())
    gpu_tensorflow = repo.parse_config((tiny_repository / contract.CLASSIFIER / "configs" / "gpu_tensorflow.pbtxt").read_text())
    gpu_onnx = repo.parse_config((tiny_repository / contract.CLASSIFIER / "configs" / "gpu_onnx.pbtxt").read_text())
    preprocess = repo.parse_config((tiny_repository / contract.PREPROCESS / "config.pbtxt").read_text())
    ensemble = repo.parse_config((tiny_repository / contract.ENSEMBLE / "config.pbtxt").read_text())

    assert classifier.backend == "python" and gpu_tensorflow.platform == "tensorflow_savedmodel"
    assert gpu_onnx.platform == "onnxruntime_onnx" and gpu_onnx.default_model_filename == "model.onnx"
    for config in (classifier, gpu_tensorflow, gpu_onnx):
        assert config.name == contract.CLASSIFIER
        assert list(config.input[0].dims) == [SIZE, SIZE, 3] and config.input[0].data_type == 2  # TYPE_UINT8
        assert config.input[0].format == 1  # FORMAT_NHWC
        assert [o.name for o in config.output] == ["probabilities", "heatmap", "gradable", "ungradable_reason"]
        assert config.output[0].label_filename == "labels.txt"
        assert config.HasField("dynamic_batching") and len(config.model_warmup) >= 1
        assert served_parameters(config) == contract.ModelCard.read(tiny_repository / contract.CLASSIFIER / "1").to_parameters()
        assert list(config.version_policy.specific.versions) == [1]
    assert classifier.instance_group[0].kind == 2  # KIND_CPU
    for gpu in (gpu_tensorflow, gpu_onnx):  # batching by the book: one instance per GPU, no preferred sizes
        assert [(group.kind, group.count) for group in gpu.instance_group] == [(1, 1)]  # KIND_GPU
        assert not gpu.dynamic_batching.preferred_batch_size
        accelerator = gpu.optimization.execution_accelerators.gpu_execution_accelerator[0]
        assert accelerator.name == "tensorrt" and accelerator.parameters["precision_mode"] == "FP16"
        assert {warmup.batch_size for warmup in gpu.model_warmup} == {1, gpu.max_batch_size}
    profile = gpu_onnx.optimization.execution_accelerators.gpu_execution_accelerator[0].parameters
    batch = gpu_onnx.max_batch_size
    assert profile["trt_profile_max_shapes"] == f"image:{batch}x{SIZE}x{SIZE}x3,photo_size:{batch}x2"
    assert list(preprocess.output[0].dims) == [SIZE, SIZE, 3] and preprocess.input[0].allow_ragged_batch
    # Bounded queues: under overload a request is refused at once (tests/test_slow_server.py shows it).
    for config, bound, timeout in ((classifier, repo.CPU_MAX_QUEUE, repo.CPU_QUEUE_TIMEOUT_SECONDS),
                                   (preprocess, repo.PREPROCESS_MAX_QUEUE, repo.PREPROCESS_QUEUE_TIMEOUT_SECONDS),
                                   (gpu, repo.GPU_MAX_QUEUE, repo.GPU_QUEUE_TIMEOUT_SECONDS)):
        policy = config.dynamic_batching.default_queue_policy
        assert policy.max_queue_size == bound > 0 and policy.timeout_action == 0  # REJECT
        assert policy.default_timeout_microseconds == round(timeout * 1_000_000)
        assert policy.allow_timeout_override  # a client's shorter deadline counts
    assert ensemble.max_batch_size == 1  # a valid request at the byte door holds one photo
    steps = ensemble.ensemble_scheduling.step
    assert [s.model_name for s in steps] == [contract.PREPROCESS, contract.CLASSIFIER]
    assert (tiny_repository / contract.CLASSIFIER / "labels.txt").read_text().split() == ["cataract", "normal"]


@pytest.mark.slow
def test_export_is_standard_ops_equal_to_flax_and_versions_accumulate(tiny_run, tmp_path):
    repository = tmp_path / "repository"
    first = export(tiny_run, repository, allow_unproven=True)
    second = export(tiny_run, repository, allow_unproven=True)
    assert (first.version, second.version) == (1, 2)
    assert (repository / contract.CLASSIFIER / "1" / contract.SAVEDMODEL_DIR).is_dir()
    ops = savedmodel.graph_op_types(second.version_dir / contract.SAVEDMODEL_DIR)
    assert {"Conv2D", "MaxPool", "MatMul", "Relu", "Softmax"} <= ops
    assert not ops & {"XlaCallModule", "PyFunc", "EagerPyFunc"}
    assert second.card.parity_max_probability_gap < 1e-4
    card = contract.ModelCard.read(second.version_dir)
    assert card == second.card and card.version == 2 and card.training_data_fingerprint
    config = repo.parse_config((repository / contract.CLASSIFIER / "config.pbtxt").read_text())
    assert served_parameters(config) == card.to_parameters() and served_parameters(config).model_version == "2"

    server = start_server(repository)
    try:
        client = httpclient.InferenceServerClient(server.http_url)
        assert client.get_model_metadata(contract.CLASSIFIER)["versions"] == ["2"]
        client.close()
    finally:
        server.stop()


def test_a_version_below_the_served_one_is_refused(tiny_run, tmp_path):
    """The configs are shared by every version and describe the newest, the one Triton
    serves: writing an older version would make them describe another model."""
    repository = tmp_path / "repository"
    export(tiny_run, repository, version=3, allow_unproven=True)
    configs = {path: path.read_text() for path in repository.rglob("*.pbtxt")}
    with pytest.raises(UserError, match="--version 1 is below version 3, which Triton serves"):
        export(tiny_run, repository, version=1, allow_unproven=True)
    assert contract.version_numbers(repository / contract.CLASSIFIER) == [3]
    assert {path: path.read_text() for path in repository.rglob("*.pbtxt")} == configs
    assert export(tiny_run, repository, version=5, allow_unproven=True).version == 5  # above the newest is fine


def test_configs_are_replaced_never_rewritten_in_place(tiny_run, tmp_path):
    """A reader that opened a config before an export (a server loading the model, say)
    reads the whole old file, never a truncated or half-written one."""
    repository = tmp_path / "repository"
    export(tiny_run, repository, allow_unproven=True)
    names = ["cataract_vgg16/config.pbtxt", "cataract_vgg16/configs/gpu_onnx.pbtxt", "cataract_vgg16/configs/gpu_tensorflow.pbtxt",
             "preprocess/config.pbtxt",
             "cataract/config.pbtxt", "cataract_vgg16/labels.txt"]
    opened = {name: open(repository / name) for name in names}
    try:
        before = {name: file.read() for name, file in opened.items()}
        export(tiny_run, repository, allow_unproven=True)
        for name, file in opened.items():
            file.seek(0)
            assert file.read() == before[name], f"{name} was rewritten in place"
    finally:
        for file in opened.values():
            file.close()
    classifier = repo.parse_config((repository / contract.CLASSIFIER / "config.pbtxt").read_text())
    assert served_parameters(classifier).model_version == "2"
    assert not [path.name for path in repository.rglob(".*") if path.name != ".export.lock"], "temporary files left behind"


@pytest.mark.slow
def test_two_exports_at_once_take_turns(tiny_run, tmp_path):
    """Two `cataract export` processes on one repository: the lock makes them take turns,
    so each gets its own version and staging folder, and the configs describe the newest."""
    repository = tmp_path / "repository"
    command = [sys.executable, "-m", "cataract_cli", "export", "--run", str(tiny_run), "--repository", str(repository),
               "--cpu-precision", "float32", "--allow-unproven"]
    exports = [subprocess.Popen(command, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    results = [process.communicate(timeout=600) for process in exports]
    for process, (out, errors) in zip(exports, results):
        assert process.returncode == 0, errors
    assert sorted(line.split()[2] for out, _ in results for line in out.splitlines() if line.startswith("exported version")) == ["1", "2"]
    assert contract.version_numbers(repository / contract.CLASSIFIER) == [1, 2]
    assert not (repository.parent / f".{repository.name}.staging").exists(), "the staging folder was left behind"
    classifier = repo.parse_config((repository / contract.CLASSIFIER / "config.pbtxt").read_text())
    assert served_parameters(classifier).model_version == "2"


@pytest.mark.server
def test_cpu_precision_can_be_chosen_at_export_and_is_recorded(tiny_run, synthetic_photos, tmp_path):
    repository = tmp_path / "repository"
    forced = export(tiny_run, repository, cpu_precision="bfloat16", allow_unproven=True)
    # The agreement with float32 is measured and recorded even when the choice is forced.
    assert forced.card.cpu_precision == "bfloat16"
    assert 0.0 <= forced.card.cpu_bfloat16_decision_agreement <= 1.0
    config = repo.parse_config((repository / contract.CLASSIFIER / "config.pbtxt").read_text())
    assert served_parameters(config).cpu_precision == "bfloat16"
    # bfloat16 rounds each probability to 8 bits; the server still answers distributions.
    server = start_server(repository)
    try:
        images = np.stack([model_input(path, SIZE) for path in photos(synthetic_photos, 8)])
        probabilities = infer("grpc", server, contract.CLASSIFIER, "image", images, outputs=("probabilities",))["probabilities"]
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
        expected = in_process(repository, images)["probabilities"]
        np.testing.assert_allclose(probabilities, expected, atol=2e-2)  # float32 in-process vs bfloat16 served
        if cpu_supports_bfloat16():  # bfloat16 really runs, at every batch size, not only the warm-up's
            assert np.abs(probabilities - expected).max() > 1e-5
            assert forced.card.cpu_bfloat16_max_probability_gap > 1e-5
    finally:
        server.stop()
    assert export(tiny_run, repository, cpu_precision="float32", allow_unproven=True).card.cpu_precision == "float32"
    with pytest.raises(UserError, match="--cpu-precision must be one of auto, float32, bfloat16"):
        export(tiny_run, repository, cpu_precision="fast", allow_unproven=True)
    assert contract.version_numbers(repository / contract.CLASSIFIER) == [1, 2]


@pytest.mark.server
def test_an_operator_can_override_the_exported_precision(tiny_repository, monkeypatch):
    """$CATARACT_CPU_PRECISION overrides, for one server, the precision export chose; the
    classifier logs that it does, and refuses to load with a value that is no precision."""
    monkeypatch.setenv(contract.CPU_PRECISION_OVERRIDE, "bfloat16")
    server = start_server(tiny_repository)
    try:
        assert server.failed_models == []
        log = server.log_text()
        assert f"{contract.CPU_PRECISION_OVERRIDE}=bfloat16 overrides the precision export chose (float32)" in log
        assert "precision bfloat16" in log
    finally:
        server.stop()
    monkeypatch.setenv(contract.CPU_PRECISION_OVERRIDE, "fast")
    server = start_server(tiny_repository)
    try:
        reasons = {model["name"]: model.get("reason", "") for model in server.failed_models}
        assert f"{contract.CPU_PRECISION_OVERRIDE}='fast': it must be one of float32, bfloat16" in reasons[contract.CLASSIFIER]
    finally:
        server.stop()


@pytest.mark.slow
def test_the_real_224_vgg16_exports_to_a_savedmodel_and_onnx_twin_equal_to_flax(tmp_path):
    """The production network (full width, 224x224, 7x7 heatmap), not the tiny one: the
    graphs the GPU containers get (the frozen SavedModel for TF-TRT, its ONNX twin for
    onnxruntime with TensorRT) must compute what Flax computes."""
    from flax import nnx

    from train_jax.export import onnx_twin, tf_backend
    from train_jax.model.vgg16 import VGG16, ModelConfig
    from train_jax.training.predict import reference_outputs

    model = VGG16(ModelConfig(image_size=224), rngs=nnx.Rngs(0))
    model.eval()
    path = tmp_path / contract.SAVEDMODEL_DIR
    savedmodel.save(model, path)
    images = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    expected_probabilities, expected_heatmap = reference_outputs(model, images)
    served = SavedModelClassifier(path).run_batches(images)
    assert served["heatmap"].shape == (2, 7, 7)
    np.testing.assert_allclose(served["probabilities"], expected_probabilities, atol=1e-4)
    np.testing.assert_allclose(served["heatmap"], expected_heatmap, rtol=1e-3, atol=1e-3 * np.abs(expected_heatmap).max())
    assert "XlaCallModule" not in savedmodel.graph_op_types(path)
    assert tf_backend.convolutions_visible(tf_backend.run_as_the_backend(path, images[:1])[1]) == 13

    twin = tmp_path / onnx_twin.ONNX_FILE
    onnx_twin.convert(path, twin)
    answered = onnx_twin.run(twin, images)
    np.testing.assert_allclose(answered["probabilities"], served["probabilities"], atol=1e-4)
    np.testing.assert_allclose(answered["heatmap"], served["heatmap"], atol=1e-4 * np.abs(served["heatmap"]).max())


@pytest.mark.server
def test_cataract_serve_stops_triton_and_its_stubs_on_sigterm(tiny_repository):
    http, grpc, metrics = free_ports(3)
    process = subprocess.Popen(
        [sys.executable, "-m", "cataract_cli", "serve", "--repository", str(tiny_repository),
         "--http-port", str(http), "--grpc-port", str(grpc), "--metrics-port", str(metrics)],
        cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        check_serve_stops_cleanly(process, http, grpc)
    finally:
        if process.poll() is None:  # never leave a server behind, whatever failed
            process.terminate()  # `cataract serve` stops its tritonserver on SIGTERM
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def check_serve_stops_cleanly(process: subprocess.Popen, http: int, grpc: int) -> None:
    lines = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "Triton ready" in line or not line:
            break
    assert "Triton ready" in lines[-1], "".join(lines) + process.stderr.read()
    assert f"127.0.0.1:{http}" in lines[-1] and f"127.0.0.1:{grpc}" in lines[-1]
    children = subprocess.run(["pgrep", "-f", "--", f"--http-port={http}"], capture_output=True, text=True).stdout.split()
    assert children, "tritonserver is not running"
    server_pid = int(children[0])
    group = os.getpgid(server_pid)
    assert len(subprocess.run(["pgrep", "-g", str(group)], capture_output=True, text=True).stdout.split()) >= 4

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    leftovers = subprocess.run(["pgrep", "-g", str(group)], capture_output=True, text=True).stdout.split()
    assert leftovers == [], f"processes left behind: {leftovers}"


@pytest.mark.server
def test_a_bfloat16_run_exports_and_serves(synthetic_photos, tmp_path):
    """Export checks parity against the Flax model in float32 at the highest matmul
    precision, whatever the run trained in, so a bfloat16 run exports like any other."""
    from tests.helpers import tiny_config
    from train_jax.training.trainer import train

    run = train(tiny_config(synthetic_photos, tmp_path / "run", epochs=1, compute_dtype="bfloat16")).root
    assert json.loads((run / "config.json").read_text())["model"]["compute_dtype"] == "bfloat16"
    exported = export(run, tmp_path / "repository", cpu_precision="float32", allow_unproven=True)
    assert exported.card.training_precision == "bfloat16"
    assert exported.card.parity_max_probability_gap < 1e-4
    config = repo.parse_config((tmp_path / "repository" / contract.CLASSIFIER / "config.pbtxt").read_text())
    assert served_parameters(config).training_precision == "bfloat16"

    server = start_server(tmp_path / "repository")
    try:
        images = np.stack([model_input(path, SIZE) for path in photos(synthetic_photos, 6)])
        served = infer("grpc", server, contract.CLASSIFIER, "image", images)
        expected = in_process(tmp_path / "repository", images)
        np.testing.assert_allclose(served["probabilities"], expected["probabilities"], atol=1e-4)
        assert len({round(float(p), 6) for p in served["probabilities"][:, 0]}) == 6
    finally:
        server.stop()
