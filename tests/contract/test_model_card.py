"""The served model's interface: a version's model card and the served parameters its
configs carry, read and written by cataract_contract alone (no export, no server)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from cataract_contract import (
    HEATMAP_MEANING,
    MODEL_CARD,
    PARAMETER_CLASSES,
    PARAMETER_CPU_PRECISION,
    PARAMETER_DECISION_RULE,
    PARAMETER_DECISION_THRESHOLD,
    PARAMETER_IMAGE_SIZE,
    PARAMETER_MODEL_VERSION,
    PARAMETER_POSITIVE_CLASS,
    PROBABILITIES_MEANING,
    ModelCard,
    ModelCardError,
    ServedParameters,
    config_parameters,
)

# A card as export wrote it before the card was typed (a tiny model's version 2): the
# typed card must read it and write it back byte for byte, with the fields added since.
CARD_TEXT = """{
  "model": "cataract_vgg16",
  "version": 2,
  "exported_at": "2026-12-01T11:18:28+00:00",
  "run": "/tmp/pytest-of-root/pytest-0/tiny0/run",
  "best_epoch": 2,
  "image_size": 32,
  "classes": [
    "cataract",
    "normal"
  ],
  "positive_class": "cataract",
  "decision_threshold": 0.13892,
  "threshold_rule": "Youden's J: the threshold on the validation split that maximises sensitivity + specificity - 1 (ties: the one closest to 0.5)",
  "decision_rule": "top_class",
  "validation": {
    "count": 16,
    "accuracy": 0.75,
    "precision": 1.0,
    "recall": 0.5,
    "specificity": 1.0,
    "f1": 0.6666666666666666,
    "roc_auc": 0.734375,
    "confusion": {
      "true_positive": 4,
      "false_positive": 0,
      "false_negative": 4,
      "true_negative": 8
    }
  },
  "training_data_fingerprint": "90e0070609b7ae02",
  "training_counts": {
    "cataract": 31,
    "normal": 31
  },
  "validation_counts": {
    "cataract": 8,
    "normal": 8
  },
  "weights_source": "/home/someone/weights/vgg16_notop.h5 (md5 6d6bbae143d832006294945121d1f1fc)",
  "preprocessing": "torch",
  "training_precision": "float32",
  "width": 0.125,
  "parity_max_probability_gap": 4.470348358154297e-07,
  "onnx_opset": 17,
  "onnx_parity_max_probability_gap": 5.364418029785156e-07,
  "tf_trt_visible_convolutions": 13,
  "cpu_precision": "float32",
  "cpu_bfloat16_decision_agreement": 0.9375,
  "cpu_bfloat16_max_probability_gap": 0.003590881824493408,
  "exported_on": "vm"
}
"""
# The fields added since, as a card written before them reads (and is written back).
CURRENT_CARD_TEXT = CARD_TEXT.removesuffix("\n}\n") + """,
  "learned": null,
  "exported_unproven": false,
  "gradability": null,
  "operating_point": "youden",
  "operating_point_achieved": null,
  "operating_point_warning": null
}
"""


def edited(change) -> str:
    """CARD_TEXT with `change` applied to its JSON object."""
    fields = json.loads(CARD_TEXT)
    change(fields)
    return json.dumps(fields)


def test_a_card_reads_typed_and_writes_back_byte_for_byte(tmp_path):
    card = ModelCard.from_json(CARD_TEXT)
    assert card.to_json() == CURRENT_CARD_TEXT
    assert ModelCard.from_json(CURRENT_CARD_TEXT) == card
    assert card.version == 2 and card.classes == ("cataract", "normal") and card.decision_threshold == 0.13892
    assert card.validation.accuracy == 0.75 and card.validation.confusion["false_negative"] == 4
    assert card.cpu_precision == "float32" and card.parity_max_probability_gap < 1e-6
    assert card.write(tmp_path) == tmp_path / MODEL_CARD
    assert (tmp_path / MODEL_CARD).read_text() == CURRENT_CARD_TEXT
    assert ModelCard.read(tmp_path) == card


def test_a_card_written_before_the_verdict_reads_as_unjudged_and_a_current_one_keeps_it():
    old = ModelCard.from_json(CARD_TEXT)
    assert old.learned is None and old.exported_unproven is False
    unproven = ModelCard.from_json(edited(lambda fields: fields.update(learned=False, exported_unproven=True)))
    assert unproven.learned is False and unproven.exported_unproven is True
    assert json.loads(unproven.to_json())["learned"] is False
    assert unproven.to_parameters() == old.to_parameters()  # the verdict is the card's, not a served parameter


def test_the_served_subset_is_written_as_configs_carry_it_and_reads_back_the_same():
    card = ModelCard.from_json(CARD_TEXT)
    served = card.to_parameters()
    assert served.to_strings() == {
        "decision_threshold": "0.138920",
        "threshold_rule": card.threshold_rule,
        "decision_rule": "top_class",
        "probabilities": PROBABILITIES_MEANING,
        "positive_class": "cataract",
        "classes": "cataract,normal",
        "model_version": "2",
        "image_size": "32",
        "exported_at": "2026-12-01T11:18:28+00:00",
        "training_data_fingerprint": "90e0070609b7ae02",
        "weights_source": "vgg16_notop.h5 (md5 6d6bbae143d832006294945121d1f1fc)",  # no folder of the exporting machine
        "validation_accuracy": "0.7500",
        "validation_sensitivity": "0.5000",
        "validation_specificity": "1.0000",
        "validation_roc_auc": "0.7344",
        "validation_count": "16",
        "cpu_precision": "float32",
        "training_precision": "float32",
        "cpu_bfloat16_decision_agreement": "0.9375",
        "heatmap": HEATMAP_MEANING,
    }
    assert ServedParameters.from_config(served.to_strings()) == served
    assert (served.decision_threshold, served.image_size, served.classes) == (0.13892, 32, ("cataract", "normal"))
    assert served.validation_roc_auc == 0.7344  # as the config's text has it, not the card's 0.734375
    unmeasured = ModelCard.from_json(edited(lambda fields: fields.update(cpu_bfloat16_decision_agreement=None)))
    assert unmeasured.to_parameters().to_strings()["cpu_bfloat16_decision_agreement"] == "n/a"
    assert unmeasured.to_parameters().cpu_bfloat16_decision_agreement is None


def test_the_keys_read_one_at_a_time_are_served_parameters():
    keys = {PARAMETER_CLASSES, PARAMETER_CPU_PRECISION, PARAMETER_DECISION_RULE, PARAMETER_DECISION_THRESHOLD,
            PARAMETER_IMAGE_SIZE, PARAMETER_MODEL_VERSION, PARAMETER_POSITIVE_CLASS}
    assert keys <= {field.name for field in dataclasses.fields(ServedParameters)}


def test_one_served_parameter_reads_typed_with_a_default_for_configs_that_lack_it():
    triton_json = {"parameters": {PARAMETER_IMAGE_SIZE: {"string_value": "224"}}}
    parameters = config_parameters(triton_json)
    assert parameters == {PARAMETER_IMAGE_SIZE: "224"}
    assert ServedParameters.get(parameters, PARAMETER_IMAGE_SIZE) == 224
    assert ServedParameters.get(parameters, PARAMETER_CLASSES, ("a", "b")) == ("a", "b")
    with pytest.raises(ModelCardError, match="the config has no parameter 'cpu_precision'"):
        ServedParameters.get(parameters, PARAMETER_CPU_PRECISION)
    with pytest.raises(ModelCardError, match="the config has no parameter 'decision_threshold'"):
        ServedParameters.from_config(parameters)
    with pytest.raises(ModelCardError, match="parameter 'image_size' is 'large', not int"):
        ServedParameters.get({PARAMETER_IMAGE_SIZE: "large"}, PARAMETER_IMAGE_SIZE)


@pytest.mark.parametrize("change, problem", [
    (lambda fields: fields.pop("cpu_precision"), "lacks the field 'cpu_precision'"),
    (lambda fields: fields["validation"].pop("roc_auc"), "lacks the field 'validation.roc_auc'"),
    (lambda fields: fields.update(image_size="32"), "field 'image_size' is '32', not int"),
    (lambda fields: fields.update(cpu_bfloat16_decision_agreement="high"),
     "field 'cpu_bfloat16_decision_agreement' is 'high', not float | None"),
    (lambda fields: fields.update(validation=0.75), "validation is not a JSON object"),
    (lambda fields: fields.update(learned="no"), "field 'learned' is 'no', not bool | None"),
    (lambda fields: fields.update(exported_unproven=1), "field 'exported_unproven' is 1, not bool"),
    (lambda fields: fields.update(best_epoch=True), "field 'best_epoch' is True, not int"),
])
def test_an_old_or_damaged_card_is_refused_naming_the_field(tmp_path, change, problem):
    (tmp_path / MODEL_CARD).write_text(edited(change))
    with pytest.raises(ModelCardError, match=re.escape(problem)) as refused:
        ModelCard.read(tmp_path)
    assert str(tmp_path / MODEL_CARD) in str(refused.value)


def test_a_missing_or_broken_card_file_is_refused(tmp_path):
    with pytest.raises(ModelCardError, match=re.escape(f"cannot read {tmp_path / MODEL_CARD}")):
        ModelCard.read(tmp_path)
    (tmp_path / MODEL_CARD).write_text("{ half")
    with pytest.raises(ModelCardError, match="is not JSON"):
        ModelCard.read(tmp_path)
