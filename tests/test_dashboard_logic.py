"""The dashboard's state and logic, driven without a browser (Triton is real)."""

from __future__ import annotations

import asyncio
import csv
import io

import numpy as np
import pytest

from cataract_contract import MAX_IMAGE_BYTES
from conftest import free_ports
from dashboards.rendering import heatmap_overlay, probability_bar
from dashboards.screening import (
    ScreeningSession,
    ServerMonitor,
    StatisticsSnapshot,
    check_photo,
    statistics_delta,
)


def photos(synthetic_photos, count=3):
    return sorted((synthetic_photos / "test").rglob("*.jpg"))[:count]


def test_unusable_files_are_refused_with_the_reason(synthetic_photos):
    good = photos(synthetic_photos, 1)[0].read_bytes()
    assert check_photo("eye.jpg", good) is None
    assert "not an image" in check_photo("notes.jpg", b"shopping list")
    assert check_photo("huge.jpg", good + b"\0" * MAX_IMAGE_BYTES) == (
        f"huge.jpg: file too large ({(len(good) + MAX_IMAGE_BYTES) / 2**20:.1f} MiB, over the limit of 20 MiB)"
    )

    session = ScreeningSession()
    session.add_files({"eye.jpg": good, "notes.jpg": b"shopping list"})
    assert [p.name for p in session.pending] == ["eye.jpg"]
    assert [m.kind for m in session.messages] == ["error", "info"]
    assert session.messages[0].text.startswith("notes.jpg: not an image")


def test_predict_flow_against_triton(triton, synthetic_photos):
    session = ScreeningSession(triton_url=triton.grpc_url)
    asyncio.run(session.predict())
    assert session.messages[0].kind == "warning"  # nothing queued yet

    session.add_samples(photos(synthetic_photos, 3))
    asyncio.run(session.predict())
    assert session.pending == [] and len(session.results) == 3
    assert session.messages[-1].text == "screened 3 photo(s)"
    newest = session.results[0]
    assert newest.prediction.label in ("Cataract", "Normal")
    assert newest.prediction.heatmap is not None
    assert session.model_info.name == "cataract_vgg16"

    rows = list(csv.DictReader(io.StringIO(session.results_csv())))
    assert len(rows) == 3
    assert set(rows[0]) == {"time", "file", "prediction", "confidence_percent", "p_cataract", "model_score", "threshold",
                           "model_version", "latency_ms"}
    assert {row["file"] for row in rows} == {p.name for p in photos(synthetic_photos, 3)}
    assert len(session.recent_latencies_ms()) == 3


def test_unreachable_server_keeps_photos_pending_for_retry(synthetic_photos):
    (port,) = free_ports(1)
    session = ScreeningSession(triton_url=f"127.0.0.1:{port}")
    session.add_samples(photos(synthetic_photos, 2))
    asyncio.run(session.predict())
    assert session.server_unreachable
    assert len(session.pending) == 2 and session.results == []
    assert session.messages[0].kind == "error" and "unreachable" in session.messages[0].text


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
    session.add_samples(photos(synthetic_photos, 3))
    asyncio.run(session.predict())
    asyncio.run(monitor.refresh())
    assert monitor.delta.inferences == 3 and sum(monitor.delta.batch_sizes.values()) >= 1

    (port,) = free_ports(1)
    nowhere = ServerMonitor(triton_url=f"127.0.0.1:{port}")
    asyncio.run(nowhere.refresh())
    assert not nowhere.reachable and "no Triton server answers" in nowhere.problem


def test_overlay_and_probability_bar(synthetic_photos):
    photo = photos(synthetic_photos, 1)[0].read_bytes()
    heatmap = np.zeros((7, 7), np.float32)
    heatmap[3, 3] = 5.0
    png = heatmap_overlay(photo, heatmap)
    assert png.startswith(b"\x89PNG")
    bar = probability_bar(0.8)
    assert "width:80.0%" in bar and "left:50.0%" in bar and "#c62828" in bar
