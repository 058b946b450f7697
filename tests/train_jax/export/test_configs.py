"""The served configs, held to golden copies: every config export writes for a small model
(32x32) is compared, as text, with the one checked in under golden/, so a reviewer sees any
change to a served config as a diff of golden/.

Only the parameter values that come from the model card and differ from run to run (export
time, data fingerprint, validation figures, the precision chosen on this CPU, ...) are
replaced by VARIES before the comparison; every key, and the rest of each config, is
compared exactly. After an intended change, regenerate the goldens and review their diff:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/train_jax/export/test_configs.py -p no:cacheprovider
"""

from __future__ import annotations

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
    "cpu_bfloat16_decision_agreement",
}
# A model card's config parameters, as export writes them for the 32x32 test model.
PARAMETERS = {
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
# A parameter as text format writes it; the value is a quoted string with escapes.
PARAMETER = re.compile(r'(key: "(?P<key>[^"]*)"\n  value \{\n    string_value: )"(?:[^"\\]|\\.)*"')


def normalised(text: str) -> str:
    return PARAMETER.sub(lambda match: match[1] + f'"{VARIES}"' if match["key"] in VARYING else match[0], text)


def check_against_golden(repository: Path) -> None:
    """Each config of `repository`, normalised, equals its golden copy (UPDATE_GOLDEN=1:
    becomes it)."""
    for name in CONFIGS:
        text = normalised((repository / name).read_text())
        golden = GOLDEN / name
        if os.environ.get("UPDATE_GOLDEN") == "1":
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
        assert golden.is_file(), f"{golden} is missing: regenerate the goldens (see this module's docstring)"
        assert text == golden.read_text(), f"{name} differs from {golden}: if intended, regenerate the goldens"


def test_written_configs_equal_the_goldens(tmp_path):
    repo.write_configs(tmp_path, SIZE, PARAMETERS, version=1)
    check_against_golden(tmp_path)


def test_a_config_serving_another_version_differs_from_the_golden_in_its_version_policy_alone(tmp_path):
    repo.write_configs(tmp_path, SIZE, PARAMETERS, version=3)
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
