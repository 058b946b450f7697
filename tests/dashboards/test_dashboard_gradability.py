"""The dashboard's side of the gradability decision, without a browser: refused photos
kept and counted apart, the session's refusal rate, the CSV's `gradable` and `reason`
columns, and the amber card with the reason and no heatmap. In Chromium against a real
Triton: tests/test_gradability_doors.py."""

from __future__ import annotations

import csv
import io

import numpy as np
import panel as pn

from cataract_contract import NOT_CHECKED, UNGRADABLE, UngradableReason, reason_text
from client.triton_client import Prediction
from dashboards import app
from dashboards.rendering import UNGRADABLE_TITLE, session_summary
from dashboards.screening import ScreeningSession, SessionCounts, prepare_photo
from tests.slow_model import slow_image
from tests.dashboards.test_dashboard_logic import png


def answer(gradable: bool | None, code: int | None) -> Prediction:
    refused = gradable is False
    return Prediction(source="", label=UNGRADABLE if refused else "Cataract", confidence=None if refused else 91.0,
                      probabilities={"cataract": 0.91, "normal": 0.09}, cataract_probability=0.91, model_score=0.8,
                      threshold=0.4, model_version="7", latency_ms=12.0, heatmap=np.ones((1, 1), np.float32),
                      gradable=gradable, reason_code=code)


def screened_session() -> ScreeningSession:
    """A session that screened four photos: graded, too dark, blurred, and one not checked."""
    session = ScreeningSession()
    photos = [prepare_photo(f"{name}.png", png(slow_image(0, brightness=40 + 40 * i)))
              for i, name in enumerate(("graded", "dark", "blurred", "old"))]
    session.pending = photos
    session._take(photos, [answer(True, 0), answer(False, UngradableReason.TOO_DARK),
                           answer(False, UngradableReason.BLURRED), answer(None, None)])
    return session


def test_refused_photos_are_answers_counted_apart_with_the_refusal_rate():
    session = screened_session()
    assert len(session.results) == 4 and not session.pending
    counts = session.counts()
    assert counts == SessionCounts(graded=1, ungradable=2, unchecked=1) and counts.refusal_rate == 0.5
    assert [(m.kind, m.text) for m in session.messages] == [("success", "screened 4 photo(s)"),
                                                            ("warning", "2 photo(s) ungradable: retake them")]
    summary = session_summary(counts)
    assert "4 photo(s) screened: 1 graded" in summary and "2 ungradable" in summary and f"1 {NOT_CHECKED}" in summary
    assert 'refusal rate <span class="refusal-rate">50.0%</span>' in summary
    assert session_summary(ScreeningSession().counts()) == "<b>This session</b> no photos screened yet"


def test_the_csv_gains_gradable_and_reason_and_no_confidence_for_a_refused_photo():
    rows = list(csv.DictReader(io.StringIO(screened_session().results_csv())))
    by_file = {row["file"]: row for row in rows}
    assert list(rows[0])[-2:] == ["gradable", "reason"]
    assert (by_file["graded.png"]["prediction"], by_file["graded.png"]["gradable"], by_file["graded.png"]["reason"]) == (
        "Cataract", "true", "")
    dark = by_file["dark.png"]
    assert (dark["prediction"], dark["confidence_percent"], dark["gradable"], dark["reason"]) == (
        "Ungradable", "", "false", reason_text(UngradableReason.TOO_DARK))
    assert dark["p_cataract"] == "0.91"  # kept for audit, never as a label
    assert (by_file["old.png"]["gradable"], by_file["old.png"]["reason"]) == ("", NOT_CHECKED)


def html_of(card) -> str:
    return " ".join(str(pane.object) for pane in card.objects if isinstance(pane, pn.pane.HTML))


def test_a_refused_photo_gets_the_amber_card_with_its_reason_and_no_heatmap():
    session = screened_session()
    cards = {item.photo.name: app.ResultCards.card(item, show_heatmap=True) for item in session.results}
    dark = cards["dark.png"]
    assert "ungradable" in dark.css_classes and dark.styles["background"] == app.UNGRADABLE_BACKGROUND
    assert UNGRADABLE_TITLE == "Ungradable \N{EM DASH} retake" and UNGRADABLE_TITLE in html_of(dark)
    assert reason_text(UngradableReason.TOO_DARK) in html_of(dark)
    assert "prediction-confidence" not in html_of(dark) and "probability-bar" not in html_of(dark)
    (picture,) = [pane for pane in dark.objects if isinstance(pane, pn.pane.PNG)]
    dark_item = next(item for item in session.results if item.photo.name == "dark.png")
    assert picture.object == dark_item.photo.thumbnail  # the photo as taken, no heatmap over it
    graded = cards["graded.png"]
    assert "ungradable" not in graded.css_classes and "prediction-confidence" in html_of(graded)
    assert "gradability-unchecked" not in html_of(graded)
    assert f"gradability {NOT_CHECKED}" in html_of(cards["old.png"])
