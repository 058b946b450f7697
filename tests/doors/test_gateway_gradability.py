"""The gateway's side of the gradability decision: its answer for each kind of decision,
the refusal counters on /metrics, and /metrics behind the login /predict/ asks for.
Against a real Triton, for photos of each kind: tests/test_gradability_doors.py."""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from cataract_contract import NOT_CHECKED, UNGRADABLE, UngradableReason, reason_text
from client.triton_client import Prediction
from doors.access import hash_password, write_credentials
from doors.gateway import ScreeningMetrics, answer_json
from tests.helpers import free_ports, start_door, stop_door

PASSWORD = "correct horse battery staple"


def answer(gradable: bool | None, code: int | None) -> Prediction:
    refused = gradable is False
    return Prediction(source="<bytes>", label=UNGRADABLE if refused else "Normal", confidence=None if refused else 73.456,
                      probabilities={"cataract": 0.26544, "normal": 0.73456}, cataract_probability=0.26544,
                      model_score=0.3, threshold=0.4, model_version="2", latency_ms=3.0, gradable=gradable, reason_code=code)


def metric_values(text: str) -> dict[tuple[str, tuple], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_each_decision_keeps_the_earlier_contract_and_adds_gradability():
    assert answer_json(answer(True, 0)) == {"prediction": "Normal", "confidence": 73.46, "gradable": True, "reason": None,
                                            "reason_code": 0}
    assert answer_json(answer(False, UngradableReason.BLURRED)) == {
        "prediction": "Ungradable", "confidence": None, "gradable": False, "reason": reason_text(UngradableReason.BLURRED),
        "reason_code": 4}
    assert answer_json(answer(None, None)) == {"prediction": "Normal", "confidence": 73.46, "gradable": None,
                                               "reason": NOT_CHECKED, "reason_code": None}


def test_the_counters_count_every_answer_and_each_refusal_by_reason():
    metrics = ScreeningMetrics()
    for decision in ((True, 0), (False, 2), (False, 2), (False, 1), (None, None)):
        metrics.count(answer(*decision))
    values = metric_values(metrics.exposition().body.decode())
    assert values[("cataract_screened_photos_total", ())] == 5
    assert values[("cataract_unchecked_photos_total", ())] == 1
    refused = {dict(labels)["reason"]: value for (name, labels), value in values.items()
               if name == "cataract_ungradable_photos_total"}
    assert refused == {"not_an_eye_photo": 1, "too_dark": 2, "too_bright": 0, "blurred": 0, "too_small": 0, "greyscale": 0}


def test_metrics_ask_for_the_login_predict_asks_for(tmp_path):
    credentials = tmp_path / "users.json"
    write_credentials(credentials, {"alice": hash_password(PASSWORD)})
    nobody, open_port, guarded_port = free_ports(3)  # no Triton: /metrics needs none
    doors = {}
    try:
        for port, flags in ((open_port, []), (guarded_port, ["--credentials", str(credentials)])):
            url = f"http://127.0.0.1:{port}"
            doors[url] = start_door(["gateway", "--triton-url", f"127.0.0.1:{nobody}", "--port", str(port), *flags], url)
        (open_url, guarded_url) = doors
        for url, login in ((open_url, None), (guarded_url, ("alice", PASSWORD))):
            response = requests.get(url + "/metrics", auth=login, timeout=30)
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
            assert metric_values(response.text)[("cataract_screened_photos_total", ())] == 0
        assert requests.get(guarded_url + "/metrics", timeout=30).status_code == 401
        assert requests.get(guarded_url + "/metrics", auth=("alice", "wrong password, long"), timeout=30).status_code == 401
    finally:
        for process in doors.values():
            stop_door(process)


@pytest.mark.parametrize("code", [code for code in UngradableReason if code])
def test_every_reason_has_its_own_counter_label(code):
    metrics = ScreeningMetrics()
    metrics.count(answer(False, code))
    values = metric_values(metrics.exposition().body.decode())
    assert values[("cataract_ungradable_photos_total", (("reason", code.name.lower()),))] == 1
