"""The dashboard's state and logic, driven without a browser (Triton is real)."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import hashlib
import io
import logging

import numpy as np
import pytest

from cataract_contract import MAX_IMAGE_BYTES, UNGRADABLE, ImageError, too_large_message
from tests.helpers import free_ports
from client.triton_client import CataractClient
from dashboards import app
from dashboards.rendering import heatmap_overlay, html_text, markdown_text, probability_bar
from dashboards.screening import (
    MAX_PHOTOS_PER_SESSION,
    SESSION_FULL,
    Message,
    ScreeningSession,
    ServerMonitor,
    StatisticsSnapshot,
    prepare_photo,
    statistics_delta,
)
from doors.access import AccessError
from tests.slow_model import slow_image


def photos(synthetic_photos, count=3):
    return sorted((synthetic_photos / "test").rglob("*.jpg"))[:count]


def png(pixels: np.ndarray) -> bytes:
    """Lossless, so the slow classifier's delay (in the first pixel) survives."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_unusable_files_are_refused_with_the_reason(synthetic_photos):
    good = photos(synthetic_photos, 1)[0].read_bytes()
    assert prepare_photo("eye.jpg", good).sha256 == hashlib.sha256(good).hexdigest()
    with pytest.raises(ImageError, match="not an image"):
        prepare_photo("notes.jpg", b"shopping list")
    with pytest.raises(ImageError) as error:
        prepare_photo("huge.jpg", good + b"\0" * MAX_IMAGE_BYTES)
    assert str(error.value) == too_large_message(len(good) + MAX_IMAGE_BYTES)
    assert str(error.value) == f"file is {(len(good) + MAX_IMAGE_BYTES) / 2**20:.1f} MiB, over the limit of 20 MiB"

    session = ScreeningSession()
    asyncio.run(session.add_files([("eye.jpg", good), ("notes.jpg", b"shopping list")]))
    assert [p.name for p in session.pending] == ["eye.jpg"]
    assert [m.kind for m in session.messages] == ["error", "info"]
    assert session.messages[0].text.startswith("notes.jpg: not an image")


def test_the_message_counts_every_photo_waiting(synthetic_photos):
    """Uploads arrive one by one: the page must count the queue, not the last upload."""
    session = ScreeningSession()
    for path in photos(synthetic_photos, 3):
        asyncio.run(session.add_files([(path.name, path.read_bytes())]))
    assert session.messages[-1].text == "3 photo(s) waiting: press Predict"
    asyncio.run(session.add_files([("notes.jpg", b"shopping list")]))
    assert [m.text for m in session.messages][-1] == "3 photo(s) waiting: press Predict"
    assert session.messages[0].text.startswith("notes.jpg: not an image")


def test_each_photo_keeps_one_small_thumbnail(synthetic_photos):
    from PIL import Image

    big = io.BytesIO()
    Image.new("RGB", (3000, 2250), (90, 60, 30)).save(big, format="JPEG")
    photo = prepare_photo("big.jpg", big.getvalue())
    assert Image.open(io.BytesIO(photo.thumbnail)).size == (240, 180)


def test_predict_flow_against_triton(triton, synthetic_photos):
    session = ScreeningSession(triton_url=triton.grpc_url)
    asyncio.run(session.predict())
    assert session.messages[0].kind == "warning"  # nothing queued yet

    asyncio.run(session.add_samples(photos(synthetic_photos, 3)))
    asyncio.run(session.predict())
    assert session.pending == [] and len(session.results) == 3
    assert Message("success", "screened 3 photo(s)") in session.messages  # refused photos are answers too
    newest = session.results[0]
    assert newest.prediction.label in ("Cataract", "Normal", UNGRADABLE)
    assert newest.prediction.gradable is (newest.prediction.label != UNGRADABLE)
    assert newest.prediction.heatmap is not None
    assert session.model_info.name == "cataract_vgg16"

    rows = list(csv.DictReader(io.StringIO(session.results_csv())))
    assert len(rows) == 3
    assert set(rows[0]) == {"time", "file", "sha256", "prediction", "confidence_percent", "p_cataract", "model_score",
                            "threshold", "model_version", "latency_ms", "gradable", "reason"}
    assert {row["file"] for row in rows} == {p.name for p in photos(synthetic_photos, 3)}
    assert {row["sha256"] for row in rows} == {hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in photos(synthetic_photos, 3)}
    assert len(session.recent_latencies_ms()) == 3


def held_bytes(value) -> list[bytes]:
    """Every bytes object reachable from a session's value (dataclasses, lists, dicts)."""
    if isinstance(value, bytes):
        return [value]
    if dataclasses.is_dataclass(value):
        return held_bytes([getattr(value, field.name) for field in dataclasses.fields(value)])
    if isinstance(value, dict):
        value = list(value.values())
    return [found for item in value for found in held_bytes(item)] if isinstance(value, (list, tuple)) else []


def test_answered_photos_keep_their_thumbnail_and_hash_not_their_file(triton, synthetic_photos):
    files = {path.name: path.read_bytes() for path in photos(synthetic_photos, 3)}
    session = ScreeningSession(triton_url=triton.grpc_url)
    asyncio.run(session.add_files(list(files.items())))
    assert set(files.values()) <= set(held_bytes(session.pending))  # waiting: the file is what Predict sends
    asyncio.run(session.predict())
    assert len(session.results) == 3 and session.pending == []
    kept = held_bytes(session.results)
    assert not set(files.values()) & set(kept), "an answered photo still holds its file"
    for item in session.results:
        assert item.photo.sha256 == hashlib.sha256(files[item.photo.name]).hexdigest()
        assert item.photo.thumbnail.startswith(b"\x89PNG") and item.photo.thumbnail in kept


def test_a_full_session_refuses_more_photos_and_loses_none_waiting(triton, synthetic_photos):
    """Waiting and answered photos both count; uploads decoding at once never pass the cap."""
    data = photos(synthetic_photos, 1)[0].read_bytes()
    session = ScreeningSession(triton_url=triton.grpc_url)
    asyncio.run(session.add_files([("answered.jpg", data)] * 2))
    asyncio.run(session.predict())
    room = MAX_PHOTOS_PER_SESSION - 2

    async def two_uploads_at_once():
        await asyncio.gather(session.add_files([(f"a{index}.jpg", data) for index in range(room - 10)]),
                             session.add_files([(f"b{index}.jpg", data) for index in range(20)]))

    asyncio.run(two_uploads_at_once())
    assert len(session.pending) == room and len(session.results) == 2
    refused = [message.text for message in session.messages if message.kind == "error"]
    assert len(refused) == 10 and all(text.endswith(f": {SESSION_FULL}") for text in refused)
    assert f"{MAX_PHOTOS_PER_SESSION} photos" in SESSION_FULL and "reload the page" in SESSION_FULL
    waiting = [photo.id for photo in session.pending]
    asyncio.run(session.add_files([("one_more.jpg", data)]))
    assert session.messages[-2].text == f"one_more.jpg: {SESSION_FULL}"
    assert [photo.id for photo in session.pending] == waiting  # nothing waiting is lost
    session.clear_pending()  # room again
    asyncio.run(session.add_files([("after_clearing.jpg", data)]))
    assert [photo.name for photo in session.pending] == ["after_clearing.jpg"]


def test_two_photos_of_one_name_are_both_screened_and_told_apart(triton, synthetic_photos):
    first, second = (path.read_bytes() for path in photos(synthetic_photos, 2))
    session = ScreeningSession(triton_url=triton.grpc_url)
    asyncio.run(session.add_files([("IMG_0001.JPG", first), ("IMG_0001.JPG", second)]))
    assert len(session.pending) == 2 and len({photo.id for photo in session.pending}) == 2
    asyncio.run(session.predict())
    rows = session.table_rows()
    assert [row["file"] for row in rows] == ["IMG_0001.JPG"] * 2
    assert {row["sha256"] for row in rows} == {hashlib.sha256(data).hexdigest()[:12] for data in (first, second)}
    with CataractClient(triton.grpc_url) as screener:  # each answer is its own photo's
        expected = {hashlib.sha256(data).hexdigest()[:12]: screener.predict(data).probabilities["cataract"]
                    for data in (first, second)}
    for row in rows:
        assert row["p_cataract"] == pytest.approx(expected[row["sha256"]], abs=1e-4)


def test_photos_added_while_predict_runs_wait_and_a_second_predict_does_nothing(slow_triton):
    """Against the slow test classifier: the first photo takes 1.5 s to answer."""
    session = ScreeningSession(triton_url=slow_triton.grpc_url)

    async def scenario():
        await session.add_files([("first.png", png(slow_image(1.5)))])
        running = asyncio.create_task(session.predict())
        while not session.busy:
            await asyncio.sleep(0.01)
        await session.predict()  # a double click: must not send the same photos again
        await session.add_files([("later.png", png(slow_image(0)))])
        await running

    asyncio.run(scenario())
    assert [item.photo.name for item in session.results] == ["first.png"]
    assert [photo.name for photo in session.pending] == ["later.png"]
    assert session.messages[-1].text == "screened 1 photo(s)"


def test_unreachable_server_keeps_photos_pending_for_retry(synthetic_photos):
    (port,) = free_ports(1)
    session = ScreeningSession(triton_url=f"127.0.0.1:{port}")
    asyncio.run(session.add_samples(photos(synthetic_photos, 2)))
    asyncio.run(session.predict())
    assert session.retry_offered
    assert len(session.pending) == 2 and session.results == []
    assert [m.kind for m in session.messages] == ["error"]  # once, though two photos wait
    assert session.messages[0].text == (f"no Triton server answers at 127.0.0.1:{port}: start it with `cataract serve` "
                                        "(or check the URL and port). The photos wait: press Retry")


def test_csv_cells_never_become_formulas(triton, synthetic_photos):
    names = ["=HYPERLINK(\"http://x\",\"y\").jpg", "+1.jpg", "-2.jpg", "@SUM(A1).jpg", "\tTAB.jpg", "plain.jpg"]
    data = photos(synthetic_photos, 1)[0].read_bytes()
    session = ScreeningSession(triton_url=triton.grpc_url)
    asyncio.run(session.add_files([(name, data) for name in names]))
    asyncio.run(session.predict())
    files = {row["file"] for row in csv.DictReader(io.StringIO(session.results_csv()))}
    assert files == {"'" + name for name in names[:-1]} | {"plain.jpg"}


def test_statistics_deltas():
    grpc_style = {"model_stats": [{
        "inference_count": "30", "execution_count": "12",
        "inference_stats": {"queue": {"count": "30", "ns": "60000000"}, "compute_input": {"count": "30", "ns": "3000000"},
                            "compute_infer": {"count": "30", "ns": "300000000"}, "compute_output": {"count": "30", "ns": "0"}},
        "batch_stats": [{"batch_size": "1", "compute_infer": {"count": "6"}}, {"batch_size": "4", "compute_infer": {"count": "6"}}],
    }]}
    before = StatisticsSnapshot(inference_count=10, execution_count=6, queue_ns=20_000_000, queue_count=10,
                                compute_ns=103_000_000, compute_count=10, executions_by_batch_size={1: 6})
    after = StatisticsSnapshot.from_triton(grpc_style)
    assert after.executions_by_batch_size == {1: 6, 4: 6}
    delta = statistics_delta(before, after)
    assert (delta.inferences, delta.executions) == (20, 6)
    assert delta.average_queue_ms == pytest.approx(2.0)
    assert delta.average_compute_ms == pytest.approx(10.0)
    assert delta.batch_sizes == {4: 6}  # batch size 1 saw no new executions
    idle = statistics_delta(after, after)
    assert idle.average_queue_ms is None and idle.batch_sizes == {}


def test_server_monitor_reports_health_and_activity(triton, synthetic_photos):
    monitor = ServerMonitor(triton_url=triton.grpc_url)
    asyncio.run(monitor.refresh())
    assert monitor.reachable and monitor.live and monitor.ready and monitor.model_ready
    assert monitor.model_info.name == "cataract_vgg16" and monitor.model_info.backend == "python"
    session = ScreeningSession(triton_url=triton.grpc_url)
    asyncio.run(session.add_samples(photos(synthetic_photos, 3)))
    asyncio.run(session.predict())
    asyncio.run(monitor.refresh())
    assert monitor.delta.inferences == 3 and sum(monitor.delta.batch_sizes.values()) >= 1

    (port,) = free_ports(1)
    nowhere = ServerMonitor(triton_url=f"127.0.0.1:{port}")
    asyncio.run(nowhere.refresh())
    assert not nowhere.reachable and "no Triton server answers" in nowhere.problem


def test_overlay_and_probability_bar(synthetic_photos):
    photo = prepare_photo("eye.jpg", photos(synthetic_photos, 1)[0].read_bytes())
    heatmap = np.zeros((7, 7), np.float32)
    heatmap[3, 3] = 5.0
    assert heatmap_overlay(photo.thumbnail, heatmap).startswith(b"\x89PNG")
    bar = probability_bar(0.8)
    assert "width:80.0%" in bar and "left:50.0%" in bar and "#c62828" in bar


def test_user_and_server_text_is_escaped_for_each_pane():
    hostile = '<img src=x onerror="alert(1)"> **bold** [a](javascript:alert(2)) & `code`'
    assert html_text(hostile) == ("&lt;img src=x onerror=&quot;alert(1)&quot;&gt; **bold** [a](javascript:alert(2)) "
                                  "&amp; `code`")
    escaped = markdown_text(hostile)
    assert "<img" not in escaped.replace("\\<img", "") and "\\*\\*bold\\*\\*" in escaped and "\\[a\\]" in escaped
    # Through the parser the alerts use (panel's markdown-it, raw HTML allowed): the text comes back as written.
    from panel.pane import Markdown

    rendered = Markdown._get_parser("markdown-it", ()).render(escaped)
    assert rendered.strip() == "<p>" + html_text(hostile) + "</p>"


def test_every_replica_signs_logins_with_the_shared_cookie_secret(monkeypatch, caplog):
    shared = "s" * app.MIN_COOKIE_SECRET_CHARACTERS
    monkeypatch.setenv(app.COOKIE_SECRET_ENVIRONMENT, shared)
    assert app.cookie_secret() == app.cookie_secret() == shared

    monkeypatch.setenv(app.COOKIE_SECRET_ENVIRONMENT, "too short")
    with pytest.raises(AccessError, match=r"^\$CATARACT_COOKIE_SECRET has 9 characters, fewer than the 32 a cookie secret"):
        app.cookie_secret()

    monkeypatch.delenv(app.COOKIE_SECRET_ENVIRONMENT)
    with caplog.at_level(logging.WARNING, logger=app.__name__):
        first, second = app.cookie_secret(), app.cookie_secret()
    assert first != second and len(first) >= app.MIN_COOKIE_SECRET_CHARACTERS  # one per process start
    assert "CATARACT_COOKIE_SECRET is not set" in caplog.text and "replicas will not share sessions" in caplog.text


def test_each_screened_photo_is_written_to_the_access_log_without_the_photo(synthetic_photos, caplog):
    """Issue 22 item 17: who screened which photo (by its hash), when, with what answer."""
    from client.triton_client import Prediction

    data = photos(synthetic_photos, 1)[0].read_bytes()
    session = ScreeningSession(user="alice")
    photo = prepare_photo("eye.jpg", data)
    session.pending = [photo]
    answer = Prediction(source="", label="Cataract", confidence=91.0, probabilities={"cataract": 0.91, "normal": 0.09},
                        cataract_probability=0.91, model_score=0.8, threshold=0.4, model_version="7", latency_ms=12.0)
    with caplog.at_level(logging.INFO, logger="cataract.access"):
        session._take([photo], [answer])
    (line,) = [record.getMessage() for record in caplog.records if record.name == "cataract.access"]
    assert line.startswith(f"screened: user=alice time={session.results[0].at.astimezone().isoformat(timespec='seconds')} "
                           f"photo_sha256={photo.sha256[:16]} answer=Cataract p_cataract=0.9100 model_version=7")
    assert "eye.jpg" not in line and photo.sha256 not in line  # neither the file's name nor enough to rebuild it


def test_the_header_offers_a_logout_only_with_logins():
    def logout_buttons(page):
        return [item for item in page.header if getattr(item, "href", None) == "/logout"]

    assert len(logout_buttons(app.create_app("127.0.0.1:1", logout_url="/logout"))) == 1
    assert logout_buttons(app.create_app("127.0.0.1:1")) == []
