"""The client's side of the gradability decision, without a server: which inputs and
outputs it asks a gated (or an older, ungated) served config for, the photo size it sends,
and how it reads the served decision into a Prediction. Against a real Triton:
tests/test_gradability_doors.py."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import cataract_contract as contract
from client.errors import CataractClientError
from client.triton_client import CataractClient, Prediction

SIZE = 32


def served_config(gated: bool) -> dict:
    """A classifier config as Triton serves it (HTTP's JSON): gated = exported with the gate."""
    inputs = [{"name": contract.INPUT_IMAGE, "dims": [str(SIZE), str(SIZE), "3"]}]
    outputs = [{"name": name} for name in (contract.CLASSIFIER_OUTPUTS if gated else contract.UNGATED_OUTPUTS)]
    if gated:
        inputs.append({"name": contract.INPUT_PHOTO_SIZE, "dims": ["2"]})
    return {"name": contract.CLASSIFIER, "input": inputs, "output": outputs, "max_batch_size": 8,
            "parameters": {contract.PARAMETER_DECISION_RULE: {"string_value": contract.DECISION_RULE},
                           contract.PARAMETER_DECISION_THRESHOLD: {"string_value": "0.4"}}}


class Answered:
    """What tritonclient's InferResult offers the client: outputs by name."""

    def __init__(self, outputs: dict[str, np.ndarray]):
        self.outputs = outputs

    def as_numpy(self, name: str):
        return self.outputs.get(name)


def answers(gated: bool, outputs: dict[str, np.ndarray], transport: str = "bytes") -> list[Prediction]:
    screener = CataractClient("127.0.0.1:1", "http", transport=transport)
    info = screener._parse_info(served_config(gated), ["1"])
    count = len(outputs[contract.OUTPUT_PROBABILITIES])
    job = screener._bytes_jobs([b"photo"] * count, {})[0]
    job.positions = list(range(count))
    return screener._predictions(Answered(outputs), job, [b"photo"] * count, info, heatmap=False, latency_ms=1.0)


def test_a_gated_config_is_asked_for_the_decision_and_sent_the_photo_size():
    screener = CataractClient("127.0.0.1:1", "http")
    info = screener._parse_info(served_config(gated=True), ["1"])
    assert (info.input_name, info.photo_size_input) == (contract.INPUT_IMAGE, contract.INPUT_PHOTO_SIZE)
    assert info.gradability_outputs == contract.GRADABILITY_OUTPUTS
    wide_and_low = Image.new("RGB", (40, 24), (128, 100, 90))  # width 40, height 24
    (job,) = screener._tensor_jobs([wide_and_low, np.zeros((50, 60, 3), np.uint8)], info, {})
    assert job.payload.shape == (2, SIZE, SIZE, 3)
    np.testing.assert_array_equal(job.photo_sizes, [[24, 40], [50, 60]])  # height, width before resizing
    model, inputs, outputs = screener._request(job, info, heatmap=True)
    assert model == contract.CLASSIFIER
    assert [(tensor.name(), tensor.datatype(), tensor.shape()) for tensor in inputs] == [
        (contract.INPUT_IMAGE, "UINT8", [2, SIZE, SIZE, 3]), (contract.INPUT_PHOTO_SIZE, "INT32", [2, 2])]
    assert [output.name() for output in outputs] == [
        contract.OUTPUT_PROBABILITIES, contract.OUTPUT_GRADABLE, contract.OUTPUT_UNGRADABLE_REASON, contract.OUTPUT_HEATMAP]


def test_an_ungated_config_is_asked_only_for_the_outputs_it_has():
    screener = CataractClient("127.0.0.1:1", "http")
    info = screener._parse_info(served_config(gated=False), ["1"])
    assert (info.gradability_outputs, info.photo_size_input) == ((), "")
    (job,) = screener._tensor_jobs([np.zeros((50, 60, 3), np.uint8)], info, {})
    _, inputs, outputs = screener._request(job, info, heatmap=False)
    assert [tensor.name() for tensor in inputs] == [contract.INPUT_IMAGE]
    assert [output.name() for output in outputs] == [contract.OUTPUT_PROBABILITIES]


def test_the_ensemble_is_sent_only_the_file_and_asked_for_the_decision():
    screener = CataractClient("127.0.0.1:1", "http", transport="bytes")
    info = screener._parse_info(served_config(gated=True), ["1"])
    (job,) = screener._bytes_jobs([b"encoded photo"], {})
    model, inputs, outputs = screener._request(job, info, heatmap=False)
    assert model == contract.ENSEMBLE and [tensor.name() for tensor in inputs] == [contract.INPUT_IMAGE_BYTES]
    assert [output.name() for output in outputs] == [contract.OUTPUT_PROBABILITIES, *contract.GRADABILITY_OUTPUTS]


def test_an_ungradable_photo_gets_no_label_and_keeps_its_probabilities_for_audit():
    served = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]], np.float32)
    graded, dark, not_an_eye = answers(True, {
        contract.OUTPUT_PROBABILITIES: served,
        contract.OUTPUT_GRADABLE: np.array([[True], [False], [False]]),
        contract.OUTPUT_UNGRADABLE_REASON: np.array([[0], [2], [1]], np.int32)})
    assert (graded.label, graded.gradable, graded.reason, graded.reason_code) == ("Cataract", True, None, 0)
    assert graded.is_cataract and graded.confidence == pytest.approx(90.0)
    for answer, code in ((dark, contract.UngradableReason.TOO_DARK), (not_an_eye, contract.UngradableReason.NOT_AN_EYE_PHOTO)):
        assert (answer.label, answer.confidence, answer.gradable, answer.reason_code) == (contract.UNGRADABLE, None, False, code)
        assert answer.reason == contract.reason_text(code)
        assert not answer.is_cataract  # not even with P(cataract) 0.7 served
    assert not_an_eye.probabilities == pytest.approx({"cataract": 0.7, "normal": 0.3})
    assert not_an_eye.model_score == pytest.approx(float(contract.model_scores(served, 0.4)[2]))
    assert dark.as_json() == {
        "file": "<bytes>", "prediction": "Ungradable", "confidence": None,
        "probabilities": {"cataract": pytest.approx(0.2), "normal": pytest.approx(0.8)},
        "model_score": pytest.approx(float(contract.model_scores(served, 0.4)[1]), abs=1e-6), "threshold": 0.4,
        "model_version": "1", "gradable": False, "reason": "too dark to see the lens", "reason_code": 2}
    assert graded.as_json()["gradable"] is True and graded.as_json()["reason"] is None


def test_a_version_exported_before_the_gate_is_graded_and_says_it_was_not_checked():
    (answer,) = answers(False, {contract.OUTPUT_PROBABILITIES: np.array([[0.3, 0.7]], np.float32)})
    assert (answer.label, answer.gradable, answer.reason, answer.reason_code) == ("Normal", None, contract.NOT_CHECKED, None)
    assert answer.confidence == pytest.approx(70.0)
    assert answer.as_json()["gradable"] is None and answer.as_json()["reason"] == "not checked (exported before gradability)"


@pytest.mark.parametrize("gradable,reason", [([[True]], [[3]]), ([[False]], [[0]]), ([[False]], [[99]])])
def test_a_decision_the_contract_does_not_name_is_an_error_not_an_answer(gradable, reason):
    with pytest.raises(CataractClientError, match="unknown gradability decision"):
        answers(True, {contract.OUTPUT_PROBABILITIES: np.array([[0.5, 0.5]], np.float32),
                       contract.OUTPUT_GRADABLE: np.array(gradable), contract.OUTPUT_UNGRADABLE_REASON: np.array(reason, np.int32)})


def test_a_gated_config_answering_without_the_decision_is_an_error():
    with pytest.raises(CataractClientError, match="expected one of each per photo"):
        answers(True, {contract.OUTPUT_PROBABILITIES: np.array([[0.5, 0.5]], np.float32)})
