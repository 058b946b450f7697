"""`cataract predict`'s answers for each gradability decision: graded, ungradable, and not
checked (a version exported before the gate), as JSON and as the table, with the exit
code. The client is replaced here to pin the formatting; the real paths are in
tests/test_gradability_doors.py."""

from __future__ import annotations

import json

import pytest

from cataract_cli.main import main
from cataract_contract import NOT_CHECKED, UNGRADABLE, UngradableReason, reason_text
from client.triton_client import Prediction
from tests.helpers import fake_screener


def answer(source: str, gradable: bool | None, code: int | None, cataract: float = 0.8) -> Prediction:
    refused = gradable is False
    label = UNGRADABLE if refused else "Cataract" if cataract >= 0.5 else "Normal"
    return Prediction(source=source, label=label, confidence=None if refused else 100 * max(cataract, 1 - cataract),
                      probabilities={"cataract": cataract, "normal": 1 - cataract}, cataract_probability=cataract,
                      model_score=0.7, threshold=0.4, model_version="3", latency_ms=5.0, gradable=gradable, reason_code=code)


@pytest.fixture()
def photos(tmp_path, monkeypatch):
    """Three photos the replaced client answers graded, too dark, and not checked."""
    from client import triton_client

    paths = [tmp_path / name for name in ("graded.jpg", "dark.jpg", "old.jpg")]
    for path in paths:
        path.write_bytes(b"photo")
    decisions = {"graded.jpg": (True, 0), "dark.jpg": (False, int(UngradableReason.TOO_DARK)), "old.jpg": (None, None)}

    def screen(sources):
        return [answer(str(source), *decisions[source.name]) for source in sources]

    monkeypatch.setattr(triton_client, "CataractClient", fake_screener(screen))
    return paths


def test_every_json_answer_carries_the_decision_and_an_ungradable_photo_is_an_answer(photos, capsys):
    assert main(["predict", *map(str, photos), "--json"]) == 0  # every photo answered
    graded, dark, old = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (graded["prediction"], graded["gradable"], graded["reason"], graded["reason_code"]) == ("Cataract", True, None, 0)
    assert graded["confidence"] == 80.0
    assert dark == {"file": str(photos[1]), "prediction": "Ungradable", "confidence": None,
                    "probabilities": {"cataract": 0.8, "normal": pytest.approx(0.2)}, "model_score": 0.7, "threshold": 0.4,
                    "model_version": "3", "gradable": False, "reason": "too dark to see the lens", "reason_code": 2}
    assert (old["prediction"], old["gradable"], old["reason"], old["reason_code"]) == ("Cataract", None, NOT_CHECKED, None)


def test_the_table_says_retake_for_an_ungradable_photo_and_not_checked_for_an_old_version(photos, capsys):
    assert main(["predict", *map(str, photos)]) == 0
    header, graded, dark, old = capsys.readouterr().out.splitlines()
    assert header.split() == ["file", "prediction", "confidence", "P(cataract)"]
    assert graded.split() == [str(photos[0]), "Cataract", "80.0%", "0.800"]
    assert dark == f"{str(photos[1]):50s} ungradable: {reason_text(UngradableReason.TOO_DARK)}, retake the photo"
    assert old.split()[:4] == [str(photos[2]), "Cataract", "80.0%", "0.800"]
    assert old.endswith(f"gradability {NOT_CHECKED}")
