"""The served configs, held to golden copies: every config export writes for a small model
(32x32) is compared, as text, with the one checked in under golden/, so a reviewer sees any
change to a served config as a diff of golden/.

Only the parameter values that come from the model card and differ from run to run (export
time, data fingerprint, validation figures, the precision chosen on this CPU, ...) are
replaced by VARIES before the comparison; every key, and the rest of each config, is
compared exactly. A version exported before the gradability gate is served with configs of
its own interface (no photo_size, two outputs): those are pinned in golden/ungated/. After
an intended change, regenerate the goldens and review their diff:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/train_jax/export/test_configs.py -p no:cacheprovider
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import cataract_contract as contract
from train_jax.export import repository as repo

GOLDEN = Path(__file__).parent / "golden"
SIZE = 32
CONFIGS = (
    f"{contract.CLASSIFIER}/config.pbtxt",
    f"{contract.CLASSIFIER}/configs/{repo.GPU_ONNX_CONFIG}.pbtxt",
    f"{contract.CLASSIFIER}/configs/{repo.GPU_TENSORFLOW_CONFIG}.pbtxt",
    f"{contract.PREPROCESS}/config.pbtxt",
    f"{contract.ENSEMBLE}/config.pbtxt",
)
VARIES = "<varies from run to run>"
# Config parameters whose values a model card brings and a new training run changes.
VARYING = {
    "decision_threshold", "threshold_rule", "model_version", "exported_at", "training_data_fingerprint",
    "weights_source", "validation_accuracy", "validation_sensitivity", "validation_specificity",
    "validation_roc_auc", "validation_count", "cpu_precision", "training_precision",
    "cpu_bfloat16_decision_agreement", "gate_quantile", "gate_min_brightness", "gate_max_brightness",
    "gate_min_sharpness", "gate_max_feature_distance", "gate_min_colourfulness", "gate_max_colour_distance",
}
# A model card's config parameters, as export writes them for the 32x32 test model, as a
# version exported before the gradability gate had them.
UNGATED_PARAMETERS = {
    "decision_threshold": "0.431207",
    "threshold_rule": "Youden's J on the validation split",
    "decision_rule": contract.DECISION_RULE,
    "probabilities": "at the operating point: the cataract logit is shifted by -logit(decision_threshold), so the top "
                     "class is the decision and its probability (the confidence) is at least 0.5; the model's own score "
                     "is P(cataract) = sigmoid(log(p_cataract / p_normal) + logit(decision_threshold))",
    "positive_class": "cataract",
    "classes": "cataract,normal",
    "model_version": "1",
    "image_size": str(SIZE),
    "exported_at": "2025-01-01T00:00:00+00:00",
    "training_data_fingerprint": "0123456789abcdef",
    "weights_source": "none (random initialisation)",
    "validation_accuracy": "0.7500",
    "validation_sensitivity": "0.8000",
    "validation_specificity": "0.7000",
    "validation_roc_auc": "0.8100",
    "validation_count": "20",
    "cpu_precision": "float32",
    "training_precision": "float32",
    "cpu_bfloat16_decision_agreement": "n/a",
    "heatmap": "class-activation map: per-position evidence for cataract over normal; positive pushes to cataract",
}
GATE_LIMITS = contract.GateLimits(0.02, 31.5, 230.25, -1.75, 412.5, min_colourfulness=15.25, max_colour_distance=96.5)
GATE_PARAMETERS = dataclasses.replace(  # those of a version exported with the gate
    contract.ServedParameters.from_config(UNGATED_PARAMETERS), **contract.gate_parameters(GATE_LIMITS)).to_strings()
# A parameter as text format writes it; the value is a quoted string with escapes.
PARAMETER = re.compile(r'(key: "(?P<key>[^"]*)"\n  value \{\n    string_value: )"(?:[^"\\]|\\.)*"')


def normalised(text: str) -> str:
    return PARAMETER.sub(lambda match: match[1] + f'"{VARIES}"' if match["key"] in VARYING else match[0], text)


def check_against_golden(repository: Path, golden_root: Path = GOLDEN) -> None:
    """Each config of `repository`, normalised, equals its golden copy (UPDATE_GOLDEN=1:
    becomes it)."""
    for name in CONFIGS:
        text = normalised((repository / name).read_text())
        golden = golden_root / name
        if os.environ.get("UPDATE_GOLDEN") == "1":
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
        assert golden.is_file(), f"{golden} is missing: regenerate the goldens (see this module's docstring)"
        assert text == golden.read_text(), f"{name} differs from {golden}: if intended, regenerate the goldens"


def test_written_configs_equal_the_goldens(tmp_path):
    repo.write_configs(tmp_path, SIZE, GATE_PARAMETERS, version=1)
    check_against_golden(tmp_path)


def test_a_version_exported_before_the_gate_gets_configs_of_its_own_interface(tmp_path):
    repo.write_configs(tmp_path, SIZE, UNGATED_PARAMETERS, version=1)
    check_against_golden(tmp_path, GOLDEN / "ungated")
    classifier, ensemble = (repo.parse_config((tmp_path / name).read_text()) for name in (CONFIGS[0], CONFIGS[4]))
    for config in (classifier, ensemble):
        assert [output.name for output in config.output] == list(contract.UNGATED_OUTPUTS)
    assert [tensor.name for tensor in classifier.input] == [contract.INPUT_IMAGE]
    assert all(contract.INPUT_PHOTO_SIZE not in step.input_map for step in ensemble.ensemble_scheduling.step)


def test_the_gated_configs_take_photo_size_and_give_the_four_outputs(tmp_path):
    repo.write_configs(tmp_path, SIZE, GATE_PARAMETERS, version=1)
    embedded, onnx, tensorflow, preprocess, ensemble = (repo.parse_config((tmp_path / name).read_text()) for name in CONFIGS)
    types = {output.name: output.data_type for output in embedded.output}
    assert list(types) == list(contract.CLASSIFIER_OUTPUTS)
    assert types[contract.OUTPUT_GRADABLE] == repo.mc.TYPE_BOOL and types[contract.OUTPUT_UNGRADABLE_REASON] == repo.mc.TYPE_INT32
    for config, optional in ((embedded, True), (onnx, False), (tensorflow, False)):
        (size,) = [tensor for tensor in config.input if tensor.name == contract.INPUT_PHOTO_SIZE]
        assert size.data_type == repo.mc.TYPE_INT32 and list(size.dims) == [2] and size.optional == optional
        assert all(contract.INPUT_PHOTO_SIZE in warm.inputs for warm in config.model_warmup)
    assert "photo_size:1x2" in onnx.optimization.execution_accelerators.gpu_execution_accelerator[0].parameters[
        "trt_profile_min_shapes"]
    assert contract.INPUT_PHOTO_SIZE in [output.name for output in preprocess.output]
    assert [output.name for output in ensemble.output] == list(contract.CLASSIFIER_OUTPUTS)
    assert ensemble.ensemble_scheduling.step[1].input_map[contract.INPUT_PHOTO_SIZE] == \
        ensemble.ensemble_scheduling.step[0].output_map[contract.INPUT_PHOTO_SIZE]
    served = contract.ServedParameters.from_config({key: value.string_value for key, value in embedded.parameters.items()})
    assert served.gated and served.gate_limits() == GATE_LIMITS


def test_a_config_serving_another_version_differs_from_the_golden_in_its_version_policy_alone(tmp_path):
    repo.write_configs(tmp_path, SIZE, GATE_PARAMETERS, version=3)
    for name in CONFIGS[:3]:
        pinned = repo.parse_config((tmp_path / name).read_text())
        assert list(pinned.version_policy.specific.versions) == [3], name
        assert "Serves version 3 only" in (tmp_path / name).read_text()
        golden = repo.parse_config((GOLDEN / name).read_text())
        for config in (pinned, golden):
            config.ClearField("version_policy")
            config.ClearField("parameters")
        assert pinned == golden, name


def test_the_configs_of_a_real_export_equal_the_goldens(tiny_repository):
    check_against_golden(tiny_repository)


def test_each_step_s_queue_fits_the_ensemble_s_latency_budget(tmp_path):
    """Issue 22: preprocess's wait and batch plus the classifier's wait and batch fit one
    latency budget in every flavour (the CPU batch with its margin); the GPU's queue holds
    about what it serves within its timeout, the CPU classifier's every client of the
    overload benchmark; a client's shorter deadline replaces a queue's timeout everywhere."""
    repo.write_configs(tmp_path, SIZE, GATE_PARAMETERS, version=1)
    embedded, onnx, tensorflow, preprocess, _ = (repo.parse_config((tmp_path / name).read_text()) for name in CONFIGS)

    def policy(config):
        queue = config.dynamic_batching.default_queue_policy
        assert queue.allow_timeout_override and queue.timeout_action == repo.mc.ModelQueuePolicy.REJECT
        return queue.max_queue_size, queue.default_timeout_microseconds / 1e6

    assert policy(preprocess) == (repo.PREPROCESS_MAX_QUEUE, repo.PREPROCESS_QUEUE_TIMEOUT_SECONDS) == (30, 4.0)
    assert preprocess.max_batch_size == repo.PREPROCESS_MAX_BATCH == 8
    preprocess_part = 2 * preprocess.max_batch_size / repo.PREPROCESS_PHOTOS_PER_SECOND  # the running batch, then its own
    assert policy(embedded) == (repo.CPU_MAX_QUEUE, repo.CPU_QUEUE_TIMEOUT_SECONDS) == (128, 1.9)
    assert embedded.max_batch_size == repo.cpu_max_batch(SIZE)
    # 0.25 s of the network at every size: one 224 photo, more of the smaller models.
    assert [repo.cpu_max_batch(size) for size in (224, 64, 32)] == [1, 12, 16]
    cpu_batch = repo.CPU_OVERLOAD_SLOWDOWN * repo.CPU_BATCH_SECONDS
    assert preprocess_part + 1.9 + cpu_batch <= repo.LATENCY_BUDGET_SECONDS == 2.5
    assert repo.CPU_MAX_QUEUE >= 64  # issue 22's 64 clients are held, not refused at once and back after their pause
    for gpu in (onnx, tensorflow):
        assert policy(gpu) == (repo.GPU_MAX_QUEUE, repo.GPU_QUEUE_TIMEOUT_SECONDS) == (128, 2.3)
        gpu_batch = gpu.max_batch_size / repo.GPU_CLASSIFIER_PHOTOS_PER_SECOND
        assert preprocess_part + 2.3 + gpu_batch <= repo.LATENCY_BUDGET_SECONDS
        assert repo.GPU_MAX_QUEUE <= repo.GPU_CLASSIFIER_PHOTOS_PER_SECOND * 2.3
