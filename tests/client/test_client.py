"""The client library and `cataract predict`, against a real tritonserver."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from PIL import Image

from client.errors import InvalidImageError, ModelNotReadyError, ServerUnavailableError
from cataract_contract import model_input
from client.triton_client import AsyncCataractClient, CataractClient, Prediction
from tests.helpers import free_ports, run_cli, start_server

SIZE = 32


def sample_photos(synthetic_photos, count=6):
    return sorted((synthetic_photos / "test").rglob("*.jpg"))[:count]


def raw_probabilities(triton, path) -> np.ndarray:
    """What a plain tritonclient call answers for one photo."""
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    tensor = grpcclient.InferInput("image", [1, SIZE, SIZE, 3], "UINT8")
    tensor.set_data_from_numpy(model_input(path, SIZE)[None])
    result = client.infer("cataract_vgg16", [tensor]).as_numpy("probabilities")[0]
    client.close()
    return result


def url_of(triton, protocol):
    return triton.grpc_url if protocol == "grpc" else triton.http_url


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_every_input_kind_gives_the_raw_tritonclient_answer(triton, synthetic_photos, protocol):
    path = sample_photos(synthetic_photos)[0]
    expected = raw_probabilities(triton, path)
    with CataractClient(url_of(triton, protocol), protocol) as screener:
        info = screener.info()
        assert (info.image_size, info.classes, info.version) == (SIZE, ("cataract", "normal"), "1")
        for source in (path, str(path), path.read_bytes(), Image.open(path), np.asarray(Image.open(path).convert("RGB"))):
            result = screener.predict(source, heatmap=True)
            assert isinstance(result, Prediction)
            np.testing.assert_allclose([result.probabilities["cataract"], result.probabilities["normal"]], expected, atol=1e-5)
            assert result.heatmap.shape == (1, 1)
            assert result.model_version == "1" and result.latency_ms > 0
            cataract = result.model_score >= info.threshold
            assert result.label == ("Cataract" if cataract else "Normal")
            assert result.confidence == pytest.approx(100 * result.probabilities[result.label.lower()])
            assert result.confidence >= 50


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_async_client_matches_the_sync_one(triton, synthetic_photos, protocol):
    paths = sample_photos(synthetic_photos)

    async def screen():
        async with AsyncCataractClient(url_of(triton, protocol), protocol, batch_size=2, concurrency=3) as screener:
            return await screener.predict_many(paths), await screener.predict(paths[0])

    many, one = asyncio.run(screen())
    with CataractClient(url_of(triton, protocol), protocol) as screener:
        expected = screener.predict_many(paths)
    assert [r.source for r in many] == [str(p) for p in paths]
    for got, want in zip(many, expected):
        assert got.probabilities == pytest.approx(want.probabilities, abs=1e-5)
        assert (got.label, got.model_version) == (want.label, want.model_version)
    assert one.probabilities == pytest.approx(expected[0].probabilities, abs=1e-5)


@pytest.mark.parametrize("transport", ["tensor", "bytes"])
def test_predict_many_keeps_order_and_reports_bad_photos_in_place(triton, synthetic_photos, tmp_path, transport):
    paths = sample_photos(synthetic_photos)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    sources = [paths[3], paths[0], bad, paths[3], paths[5], paths[1], paths[2]]
    with CataractClient(triton.grpc_url, transport=transport, batch_size=3, concurrency=2) as screener:
        results = screener.predict_many(sources)
    assert isinstance(results[2], InvalidImageError) and "not an image" in results[2].reason
    assert results[2].source == str(bad) and not results[2].retryable
    good = [r for r in results if not isinstance(r, Exception)]
    assert [r.source for r in good] == [str(p) for p in (paths[3], paths[0], paths[3], paths[5], paths[1], paths[2])]
    assert good[0].probabilities == pytest.approx(good[2].probabilities, abs=1e-6)
    for result, path in zip(good, (paths[3], paths[0], paths[3], paths[5], paths[1], paths[2])):
        # The server decodes the bytes with the same code: equal up to float rounding.
        np.testing.assert_allclose(result.probabilities["cataract"], raw_probabilities(triton, path)[0], atol=1e-5)


def test_no_server_at_the_url_is_one_clear_error():
    (port,) = free_ports(1)
    with CataractClient(f"127.0.0.1:{port}", retries=1, backoff=0.05) as screener:
        with pytest.raises(ServerUnavailableError, match=f"no Triton server answers at 127.0.0.1:{port}"):
            screener.predict(np.zeros((8, 8, 3), np.uint8))


def test_wrong_model_name_is_model_not_ready(triton):
    with CataractClient(triton.http_url, "http", model="glaucoma") as screener:
        with pytest.raises(ModelNotReadyError, match="glaucoma"):
            screener.info()


@pytest.mark.server
def test_client_recovers_when_the_server_is_killed_and_restarted(tiny_repository, synthetic_photos):
    """Killed mid-batch: the photos in flight get errors (never a false answer); once the
    server is back, the same client answers again."""
    paths = sample_photos(synthetic_photos) * 4
    server = start_server(tiny_repository)
    options = server.options
    try:
        served = {path: raw_probabilities(server, path) for path in set(paths)}
        screener = CataractClient(server.grpc_url, retries=2, backoff=0.1, batch_size=1, concurrency=2)
        assert all(isinstance(r, Prediction) for r in screener.predict_many(paths[:2]))

        killer = threading.Timer(0.05, server.process.kill)  # SIGKILL tritonserver mid-batch
        killer.start()
        during = screener.predict_many(paths)
        killer.join()
        server.stop()
        errors = [r for r in during if isinstance(r, Exception)]
        assert errors, "killing the server produced no error at all"
        assert all(isinstance(e, ServerUnavailableError) for e in errors), errors
        answered = [r for r in during if isinstance(r, Prediction)]
        for result in answered:  # whatever was answered before the kill is the server's answer for that photo
            expected = served[Path(result.source)]
            np.testing.assert_allclose([result.probabilities["cataract"], result.probabilities["normal"]], expected, atol=1e-5)

        with pytest.raises(ServerUnavailableError):
            screener.predict(paths[0])

        from serving.embedded import LocalTritonServer

        server = LocalTritonServer(options).start()  # same ports
        result = screener.predict(paths[0])
        assert result.probabilities["cataract"] == pytest.approx(raw_probabilities(server, paths[0])[0], abs=1e-5)
        screener.close()
    finally:
        server.stop()


def test_cli_prints_a_table_and_json_and_exit_codes(triton, synthetic_photos, tmp_path):
    folder = synthetic_photos / "test" / "cataract"
    table = run_cli("predict", str(folder), "--url", triton.grpc_url)
    assert table.returncode == 0, table.stderr
    rows = table.stdout.strip().splitlines()
    assert rows[0].split() == ["file", "prediction", "confidence", "P(cataract)"]
    photos = sorted(folder.iterdir())
    assert [row.split()[0] for row in rows[1:]] == [str(path) for path in photos]
    with CataractClient(triton.grpc_url) as screener:
        decisions = {path: screener.predict(path) for path in photos}
    graded = [path for path in photos if decisions[path].gradable]
    assert graded, "the tiny model's gate refused every photo of its own kind"
    for row, path in zip(rows[1:], photos):
        if not decisions[path].gradable:  # the served gate's refusal: its reason, never a label
            assert row.endswith(f" ungradable: {decisions[path].reason}, retake the photo"), row
            continue
        _, label, confidence, p_cataract = row.split()
        served = dict(zip(("cataract", "normal"), raw_probabilities(triton, path)))
        assert float(p_cataract) == pytest.approx(served["cataract"], abs=5e-4)  # printed to 3 decimals
        assert float(confidence.rstrip("%")) == pytest.approx(100 * served[label.lower()], abs=0.05)

    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    photo = graded[0]
    result = run_cli("predict", str(photo), str(bad), "--url", triton.http_url, "--protocol", "http", "--json", "--transport", "bytes")
    assert result.returncode == 1
    answers = [json.loads(line) for line in result.stdout.strip().splitlines()]
    answer = answers[0]
    assert answer["file"] == str(photo) and answer["prediction"] in ("Cataract", "Normal")
    # The ensemble decodes the file on the server with the same code: the classifier's answer for its pixels.
    served = dict(zip(("cataract", "normal"), raw_probabilities(triton, photo)))
    assert answer["probabilities"] == pytest.approx(served, abs=1e-5)
    label = answer["prediction"].lower()
    assert served[label] >= 0.5 and 50 <= answer["confidence"] <= 100  # the label is the likelier class
    assert answer["confidence"] == pytest.approx(100 * served[label], abs=0.006)  # rounded to 2 decimals
    assert answers[1] == {"file": str(bad), "error": "not an image: the bytes begin like PNG, but its header cannot be read (damaged, cut short, or a PNG variant that is not supported)"}  # the reason alone
    assert "1 of 2 photos failed" in result.stderr


def test_cli_with_no_server_fails_in_one_line(synthetic_photos):
    (port,) = free_ports(1)
    result = run_cli("predict", str(synthetic_photos / "test"), "--url", f"127.0.0.1:{port}", "--retries", "0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"cataract predict: error: no Triton server answers at 127.0.0.1:{port}: start it with `cataract serve` (or check the URL and port)"
    ]
