"""The client and the server when Triton is slow or overloaded: a real tritonserver
serving the slow test classifier (tests/slow_model.py), whose answers take as long as
each test asks.

A timeout is a timeout (never "server down"), and the request is never sent again; one
request's failure never cuts another's; predict_many keeps one entry per photo; a full
queue refuses at once with a "busy" error, which is never retried either.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from client.errors import RequestTimeoutError, ServerBusyError
from client.triton_client import AsyncCataractClient, CataractClient, Prediction
from tests.helpers import model_statistics, run_cli, settled_count, start_server
from cataract_contract import CLASSIFIER
from tests.slow_model import slow_image, write_slow_repository

pytestmark = [pytest.mark.timeout(300), pytest.mark.server]  # every test here runs a real tritonserver


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    """This file's own slow server (three instances, no batching): requests of other files'
    tests never land in its counts."""
    server = start_server(write_slow_repository(tmp_path_factory.mktemp("slow"), instances=3))
    yield server
    server.stop()


def requests_received(server) -> int:
    """Requests the classifier has finished (answered or failed) since the server started."""
    statistics = model_statistics(server, CLASSIFIER)["inference_stats"]
    return statistics["success"]["count"] + statistics["fail"]["count"]


def settled_requests_received(server, expected: int = 0, quiet: float = 0.3) -> int:
    return settled_count(lambda: requests_received(server), expected, quiet=quiet)


def baseline_requests_received(server, expected: int = 0) -> int:
    """requests_received before a test's own requests, once earlier ones are all counted."""
    return settled_requests_received(server, expected, quiet=1.0)


def url_of(server, protocol: str) -> str:
    return server.grpc_url if protocol == "grpc" else server.http_url


def predict_with(kind: str, url: str, protocol: str, source, **options):
    if kind == "sync":
        with CataractClient(url, protocol, **options) as screener:
            return screener.predict(source)

    async def screen():
        async with AsyncCataractClient(url, protocol, **options) as screener:
            return await screener.predict(source)

    return asyncio.run(screen())


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_timeout_is_reported_as_such_and_never_resent(slow, kind, protocol):
    start = requests_received(slow)
    predict_with(kind, url_of(slow, protocol), protocol, slow_image(0))  # reads the config: not counted below
    before = baseline_requests_received(slow, start + 1)
    with pytest.raises(RequestTimeoutError) as error:
        predict_with(kind, url_of(slow, protocol), protocol, slow_image(2.0), timeout=0.5, retries=3, backoff=0.05)
    message = str(error.value)
    assert "did not answer model cataract_vgg16 within 0.5 s" in message and "not sent again" in message
    assert "cataract serve" not in message  # the server is up: nobody should be told to start it
    time.sleep(2.5)  # the server finishes what it was given
    assert settled_requests_received(slow, before + 1) - before == 1, "the timed-out request was sent again"


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_one_timeout_never_cuts_the_requests_in_flight_beside_it(slow, protocol):
    """predict_many of [4 s, 1 s, 1.6 s] with a 2 s timeout, two at a time: the third
    starts when the second ends, so it is in flight on the shared connection when the
    first times out. It must still be answered, and no answer may be lost."""

    async def screen():
        async with AsyncCataractClient(url_of(slow, protocol), protocol, timeout=2.0, batch_size=1, concurrency=2) as screener:
            await screener.info()
            return await screener.predict_many([slow_image(4.0), slow_image(1.0, 10), slow_image(1.6, 250)])

    slowest, second, third = asyncio.run(screen())
    assert isinstance(slowest, RequestTimeoutError)
    assert isinstance(second, Prediction) and second.probabilities["cataract"] == pytest.approx(10 / 255, abs=1e-3)
    assert isinstance(third, Prediction) and third.probabilities["cataract"] == pytest.approx(250 / 255, abs=2e-3)


@pytest.fixture(scope="module")
def busy(tmp_path_factory):
    """One instance and the product's queue policy, with room for 2 waiting requests."""
    server = start_server(write_slow_repository(tmp_path_factory.mktemp("busy"), instances=1, queue_size=2))
    yield server
    server.stop()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_a_full_queue_refuses_at_once_as_busy_and_nothing_is_resent(busy, protocol):
    photos = [slow_image(1.0) for _ in range(8)]

    async def flood():
        async with AsyncCataractClient(url_of(busy, protocol), protocol, batch_size=1, concurrency=8, retries=3) as screener:
            await screener.info()
            before = baseline_requests_received(busy)
            return await screener.predict_many(photos), before

    results, before = asyncio.run(flood())
    answered = [r for r in results if isinstance(r, Prediction)]
    refused = [r for r in results if isinstance(r, ServerBusyError)]
    assert len(answered) + len(refused) == len(photos), results
    assert answered and refused, f"{len(answered)} answered, {len(refused)} refused: the queue bound did not act"
    assert all("is busy" in str(r) and "queue was full" in str(r) for r in refused)
    assert settled_requests_received(busy, before + len(answered)) - before == len(answered), "a refused request was sent again"
    with CataractClient(url_of(busy, protocol), protocol) as screener:
        assert screener.health().ready and isinstance(screener.predict(slow_image(0)), Prediction)


def successes(server) -> int:
    """Requests the classifier has computed and answered since the server started."""
    return model_statistics(server, CLASSIFIER)["inference_stats"]["success"]["count"]


@pytest.fixture(scope="module")
def patient(tmp_path_factory):
    """One instance and the product's queue policy, with a queue timeout of 10 s (the
    product's before issue 22): only a client's own deadline refuses sooner."""
    server = start_server(write_slow_repository(tmp_path_factory.mktemp("patient"), instances=1, queue_size=4,
                                                queue_timeout_seconds=10))
    yield server
    server.stop()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_a_client_deadline_refuses_a_queued_request_in_time_and_nothing_is_computed_for_it(patient, protocol):
    """One instance, busy for 3 s with another client's photo; a photo sent meanwhile with a
    0.5 s timeout is refused within about that (not after the 3 s, nor the queue's 10 s),
    never resent; and the server, told the deadline (allow_timeout_override), drops it from
    its queue instead of computing it once the instance is free."""
    busy, url = patient, url_of(patient, protocol)
    with CataractClient(url, protocol) as screener:
        screener.info()
    before_received, before_answered = baseline_requests_received(busy), successes(busy)
    with CataractClient(url, protocol, timeout=30) as blocker, ThreadPoolExecutor(1) as pool:
        blocking = pool.submit(blocker.predict, slow_image(3.0))
        time.sleep(0.5)  # the blocking photo is running on the one instance
        started = time.perf_counter()
        with pytest.raises((RequestTimeoutError, ServerBusyError)):
            predict_with("sync", url, protocol, slow_image(0.1), timeout=0.5, retries=3, backoff=0.05)
        refused_after = time.perf_counter() - started
        assert isinstance(blocking.result(), Prediction)
    assert refused_after < 1.5, f"refused after {refused_after:.1f} s, its deadline was 0.5 s"
    time.sleep(1.0)  # the batcher has looked at its queue again since the instance came free
    assert settled_requests_received(busy, before_received + 2) - before_received == 2, "the refused request was sent again"
    answered = settled_count(lambda: successes(busy), before_answered + 1) - before_answered
    assert answered == 1, "the server computed a request whose client had stopped waiting"


def test_a_request_that_waited_its_longest_is_refused_as_busy(tmp_path):
    """Requests of 8 photos, one at a time on one instance, each taking 1 s: with a queue
    timeout of 0.5 s, those still waiting then are refused, whatever room the queue has."""
    server = start_server(write_slow_repository(tmp_path, instances=1, queue_size=10, queue_timeout_seconds=0.5))
    try:
        with CataractClient(server.grpc_url, batch_size=8, concurrency=4) as screener:
            screener.info()
            before = baseline_requests_received(server)
            results = screener.predict_many([slow_image(1.0)] * 32)
        answered = [r for r in results if isinstance(r, Prediction)]
        refused = [r for r in results if isinstance(r, ServerBusyError)]
        assert len(answered) + len(refused) == 32 and answered and refused, results
        received = settled_requests_received(server, before + 32 // 8) - before
        assert received == 32 // 8, f"{received} requests reached the server for 4 sent"  # the refused count as failed
    finally:
        server.stop()


def test_the_cli_names_busy_photos_and_answers_the_rest(busy, tmp_path):
    """Sync client, gRPC: 40 photos go as 5 requests of 8, 4 at a time, to one instance
    with room for two waiting requests."""
    from PIL import Image

    path = tmp_path / "eye.png"
    Image.fromarray(slow_image(1.0)).save(path)  # PNG: lossless, the first pixel survives
    result = run_cli("predict", *[str(path)] * 40, "--url", busy.grpc_url, "--json", "--retries", "3")
    lines = result.stdout.splitlines()
    assert len(lines) == 40 and any('"prediction"' in line for line in lines), result.stdout
    errors = [line for line in lines if '"error"' in line]
    assert errors and all("is busy" in line for line in errors), result.stdout


def test_overload_benchmark_answers_or_refuses_every_request(tiny_repository, synthetic_photos):
    """The benchmark is a command, not a test; this only proves that it runs and counts."""
    result = run_cli("bench", "overload", "--repository", str(tiny_repository), "--photos", str(synthetic_photos / "test"),
                     "--concurrency", "64", "--seconds", "4", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ", failed 0, lost 0" in result.stdout and "refused busy" in result.stdout
    assert "server ready at" in result.stdout
