"""The GPU flavours, checked on this CPU (no GPU, no Docker here): the ONNX twin answers
what the SavedModel answers (onnxruntime), Triton's TensorFlow backend would hand TF-TRT
every convolution (its session load and rewrite, reproduced), and the launch script picks
the flavour of each Triton release. What only a GPU server shows (TensorRT engines, their
speed) is in README, "Production on GPUs"."""

from __future__ import annotations

import hashlib
import subprocess

import numpy as np
import onnx
import pytest
from flax import nnx

import cataract_contract as contract
from tests.helpers import REPOSITORY
from savedmodel_runner import SavedModelClassifier
from train_jax.export import onnx_twin, savedmodel, tf_backend
from train_jax.export.export import export
from train_jax.model.vgg16 import VGG16, ModelConfig
from train_jax.training.predict import reference_outputs

SIZE = 64


@pytest.fixture(scope="module")
def narrow_model():
    model = VGG16(ModelConfig(image_size=SIZE, width=0.25), rngs=nnx.Rngs(3))
    model.eval()
    return model


def photos(count: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, SIZE, SIZE, 3), dtype=np.uint8)


def test_tf_trt_sees_every_convolution_of_the_frozen_savedmodel_and_none_of_a_plain_one(narrow_model, tmp_path):
    import tensorflow as tf

    frozen = tmp_path / "frozen"
    savedmodel.save(narrow_model, frozen)
    answers, executed = tf_backend.run_as_the_backend(frozen, photos(3))
    assert tf_backend.convolutions_visible(executed) == 13
    assert "Conv2D" in savedmodel.graph_op_types(frozen, top_level_only=True)
    expected = SavedModelClassifier(frozen).run_batches(photos(3))
    np.testing.assert_allclose(answers[contract.OUTPUT_PROBABILITIES], expected[contract.OUTPUT_PROBABILITIES], atol=1e-6)

    # What the export did before: tf.saved_model.save hides the convolutions in a function,
    # and under the backend's TF-TRT rewrite the session runs nothing but the call.
    module = savedmodel.build_module(narrow_model)
    plain = tmp_path / "plain"
    tf.saved_model.save(module, str(plain), signatures={contract.SAVEDMODEL_SIGNATURE: module.serve})
    _, executed = tf_backend.run_as_the_backend(plain, photos(3))
    assert tf_backend.convolutions_visible(executed) == 0 and executed["StatefulPartitionedCall"] >= 1
    assert "Conv2D" not in savedmodel.graph_op_types(plain, top_level_only=True)


def test_the_onnx_twin_answers_what_the_savedmodel_and_flax_answer(narrow_model, tmp_path):
    saved = tmp_path / "model.savedmodel"
    savedmodel.save(narrow_model, saved)
    twin = tmp_path / onnx_twin.ONNX_FILE
    onnx_twin.convert(saved, twin)
    images = photos(5)
    served = SavedModelClassifier(saved).run_batches(images)
    answered = onnx_twin.run(twin, images, batch_size=2)  # another batch than the SavedModel's: dynamic batch
    flax_probabilities, flax_heatmaps = reference_outputs(narrow_model, images)
    for output, reference in ((contract.OUTPUT_PROBABILITIES, flax_probabilities), (contract.OUTPUT_HEATMAP, flax_heatmaps)):
        scale = max(float(np.abs(reference).max()), 1.0)
        np.testing.assert_allclose(answered[output], served[output], atol=1e-4 * scale)
        np.testing.assert_allclose(answered[output], reference, atol=1e-4 * scale)
    graph = onnx.load(str(twin)).graph
    (image,) = graph.input
    assert image.name == contract.INPUT_IMAGE and image.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [dim.dim_value for dim in image.type.tensor_type.shape.dim][1:] == [SIZE, SIZE, 3]
    assert image.type.tensor_type.shape.dim[0].dim_param, "the batch dimension stays dynamic"
    assert [output.name for output in graph.output] == [contract.OUTPUT_PROBABILITIES, contract.OUTPUT_HEATMAP]


def test_export_writes_the_twin_and_records_its_checks(tiny_run, tmp_path):
    exported = export(tiny_run, tmp_path / "repository", cpu_precision="float32", allow_unproven=True)
    assert (exported.version_dir / onnx_twin.ONNX_FILE).stat().st_size > 1000
    card = contract.ModelCard.read(exported.version_dir)
    assert card == exported.card
    assert card.onnx_opset == onnx_twin.OPSET and card.onnx_parity_max_probability_gap < 1e-4
    assert card.tf_trt_visible_convolutions == 13


def dry_run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "scripts/serve_gpu.sh", "--dry-run", *arguments], capture_output=True, text=True,
                          cwd=REPOSITORY)


def test_launch_script_serves_a_current_release_with_the_onnx_flavour_by_default(tmp_path):
    result = dry_run("--repository", str(tmp_path))
    assert result.returncode == 0, result.stderr
    build, run = result.stdout.strip().splitlines()
    dockerfile = (REPOSITORY / "scripts" / "triton-gpu.Dockerfile").read_bytes()
    tag = f"cataract-triton:26.07-{hashlib.sha256(dockerfile).hexdigest()[:12]}"  # rebuilt when the file changes
    assert f"docker build -t {tag} --build-arg BASE=nvcr.io/nvidia/tritonserver:26.07-py3" in build
    assert "docker run" in run and "--gpus all" in run and tag in run
    for port in ("8000:8000", "8001:8001", "8002:8002"):
        assert f"-p 127.0.0.1:{port}" in run  # loopback unless --bind says otherwise
    assert f"{tmp_path}:/models:ro" in run and ":/trt_cache" in run
    assert "--model-repository=/models" in run and "--model-config-name=gpu_onnx" in run
    assert "--model-control-mode=none" in run


def test_launch_script_keeps_the_tensorflow_flavour_for_releases_that_have_it(tmp_path):
    result = dry_run("--repository", str(tmp_path), "--release", "25.02")
    assert result.returncode == 0, result.stderr
    assert "tritonserver:25.02-py3" in result.stdout and "--model-config-name=gpu_tensorflow" in result.stdout
    onnx_on_old = dry_run("--repository", str(tmp_path), "--release", "25.02", "--flavour", "onnx")
    assert "--model-config-name=gpu_onnx" in onnx_on_old.stdout
    refused = dry_run("--repository", str(tmp_path), "--release", "26.07", "--flavour", "tensorflow")
    assert refused.returncode == 2 and "has no TensorFlow backend" in refused.stderr
    assert dry_run("--release", "latest").returncode == 2
