"""Bad input at every door: shared decoding, client library, CLI, ensemble, dashboard.

Each awkward file must get an error naming the problem (or, when it is a valid if odd
photo, an answer); valid photos sent in between still get correct answers; no backend
stub dies. Property-based tests then throw random bytes at the decoding.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tritonclient.utils import InferenceServerException

from tests.bad_inputs import eye_like, encoded, write_corpus, write_special_paths
from client.errors import InvalidImageError
from cataract_contract import UNGRADABLE, ImageError, UngradableReason, decode_image, load_rgb, model_input, too_large_message
from client.triton_client import CataractClient, Prediction
from tests.helpers import run_cli
from dashboards.screening import ScreeningSession


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return folder, write_corpus(folder)


def test_shared_decoding(corpus):
    folder, expected = corpus
    for name, problem in expected.items():
        if problem is None:
            image = load_rgb(folder / name)
            assert image.mode == "RGB" and model_input(image, 32).shape == (32, 32, 3), name
        else:
            with pytest.raises(ImageError, match=problem):
                load_rgb(folder / name)


@pytest.mark.parametrize("url, protocol, address", [
    ("localhost", "grpc", "localhost:8001"), ("grpc://10.0.0.2:9001/", "grpc", "10.0.0.2:9001"),
    ("http://[::1]:8001", "grpc", "[::1]:8001"), ("[::1]", "grpc", "[::1]:8001"),
    ("http://proxy:8000/triton/", "http", "proxy:8000/triton"), ("proxy/triton", "http", "proxy:8000/triton")])
def test_a_triton_address_gets_its_default_port_and_a_port_that_is_none_is_refused(url, protocol, address):
    assert CataractClient(url=url, protocol=protocol).url == address
    for bad in ("localhost:0", "localhost:65536", "localhost:grpc", ":8001"):
        with pytest.raises(ValueError, match="is not HOST:PORT with a port from 1 to 65535"):
            CataractClient(url=bad, protocol=protocol)
    with pytest.raises(ValueError, match="gRPC takes HOST:PORT only"):  # a base path is HTTP's alone
        CataractClient(url="proxy:8001/triton", protocol="grpc")


@pytest.mark.parametrize("transport", ["tensor", "bytes"])
def test_client_library_answers_or_names_the_problem(triton, corpus, synthetic_photos, transport):
    folder, expected = corpus
    good = sorted((synthetic_photos / "test").rglob("*.jpg"))[0]
    stubs = set(triton.stub_pids())
    sources = []
    for name in expected:  # a valid photo between every two awkward ones
        sources += [folder / name, good]
    with CataractClient(triton.grpc_url, transport=transport, batch_size=4) as screener:
        results = screener.predict_many(sources)
        reference = screener.predict(good)
    for source, result in zip(sources, results):
        problem = expected.get(source.name)
        if source == good or problem is None:
            assert isinstance(result, Prediction), f"{source.name}: {result}"
        else:
            # Refused here or by the server's decoding: either way named by its file, and why.
            assert isinstance(result, InvalidImageError) and problem in result.reason, f"{source.name}: {result!r}"
            assert result.source == str(source) and str(result) == f"{source}: {result.reason}"
            assert not result.retryable
    for result in results[1::2]:
        assert result.probabilities == pytest.approx(reference.probabilities, abs=1e-5)
    assert set(triton.stub_pids()) == stubs


@pytest.mark.timeout(120)  # before the fix, the FIFO hung the client forever
@pytest.mark.parametrize("transport", ["tensor", "bytes"])
def test_paths_that_are_not_photo_files_cost_only_themselves(triton, synthetic_photos, tmp_path, transport):
    """A FIFO, a folder, a device, a file that fails to read: each gets its own error from
    predict_many (nothing hangs, nothing escapes), and the photos around them are answered."""
    special = write_special_paths(tmp_path)
    good = sorted((synthetic_photos / "test").rglob("*.jpg"))[0]
    sources = [good, *special, good]
    with CataractClient(triton.grpc_url, transport=transport) as screener:
        results = screener.predict_many(sources)
    assert isinstance(results[0], Prediction) and isinstance(results[-1], Prediction)
    for (path, problem), result in zip(special.items(), results[1:-1]):
        assert isinstance(result, InvalidImageError) and problem in result.reason, f"{path}: {result!r}"
        assert result.source == str(path)


@pytest.mark.timeout(180)
def test_cli_reports_paths_that_are_not_photo_files(triton, synthetic_photos, tmp_path):
    # A folder is expanded into the photos it holds (none here): not an error at this door.
    special = {path: problem for path, problem in write_special_paths(tmp_path).items() if not path.is_dir()}
    good = sorted((synthetic_photos / "test").rglob("*.jpg"))[0]
    result = run_cli("predict", str(good), *map(str, special), "--url", triton.grpc_url, "--json", timeout=120)
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert answers[0]["prediction"] in ("Cataract", "Normal")
    for (path, problem), answer in zip(special.items(), answers[1:]):
        assert answer["file"] == str(path) and problem in answer["error"], answer
    assert result.returncode == 1 and f"{len(special)} of {len(special) + 1} photos failed" in result.stderr


def test_ensemble_names_the_problem_and_keeps_serving(triton, corpus):
    folder, expected = corpus
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    try:
        for name, problem in expected.items():
            data = (folder / name).read_bytes()
            array = np.frombuffer(data, np.uint8)[None, :] if data else np.zeros((1, 0), np.uint8)
            tensor = grpcclient.InferInput("image_bytes", list(array.shape), "UINT8")
            tensor.set_data_from_numpy(array)
            if problem is None:
                probabilities = client.infer("cataract", [tensor]).as_numpy("probabilities")
                assert probabilities.shape == (1, 2) and abs(probabilities.sum() - 1) < 1e-4, name
            else:
                with pytest.raises(InferenceServerException, match=problem):
                    client.infer("cataract", [tensor])
            assert client.is_server_ready() and client.is_model_ready("cataract"), f"unhealthy after {name}"
    finally:
        client.close()


def test_cli_reports_each_bad_file_and_answers_the_rest(triton, corpus):
    folder, expected = corpus
    # Named one by one: a folder would only yield the files with photo suffixes.
    result = run_cli("predict", *(str(folder / name) for name in expected), "--url", triton.grpc_url, "--json")
    assert result.returncode == 1
    answers = {json.loads(line)["file"].split("/")[-1]: json.loads(line) for line in result.stdout.splitlines()}
    assert set(answers) == set(expected)
    for name, problem in expected.items():
        if problem is None:  # answered: labelled, or refused by the served gate (an answer too, not an error)
            assert answers[name]["prediction"] in ("Cataract", "Normal", UNGRADABLE), answers[name]
            assert answers[name]["gradable"] is (answers[name]["prediction"] != UNGRADABLE), answers[name]
        else:
            assert problem in answers[name]["error"], answers[name]
    # Decoded fine, and far below the photo size the gate accepts.
    assert answers["one_pixel.png"]["reason_code"] == UngradableReason.TOO_SMALL
    bad = sum(problem is not None for problem in expected.values())
    assert f"{bad} of {len(expected)} photos failed" in result.stderr


def test_dashboard_refuses_bad_uploads_with_messages(triton, corpus):
    folder, expected = corpus
    session = ScreeningSession(triton_url=triton.grpc_url)
    asyncio.run(session.add_files([(name, (folder / name).read_bytes()) for name in expected]))
    good = sorted(name for name, problem in expected.items() if problem is None)
    assert sorted(photo.name for photo in session.pending) == good
    errors = [m.text for m in session.messages if m.kind == "error"]
    for name, problem in expected.items():
        if problem is not None:
            assert any(text.startswith(name) and problem in text for text in errors), (name, errors)
    huge = next(text for text in errors if text.startswith("huge_noise.png"))
    assert huge == f"huge_noise.png: {too_large_message((folder / 'huge_noise.png').stat().st_size)}"
    asyncio.run(session.predict())
    assert len(session.results) == len(good)


# -- property-based: random and mutated bytes --------------------------------------------------

VALID = [encoded(eye_like(48), "JPEG", quality=85), encoded(eye_like(48), "PNG")]


def decoding_is_total(data: bytes) -> None:
    """Decoding either gives an RGB image or raises ImageError: never anything else."""
    try:
        image = decode_image(data)
    except ImageError:
        return
    assert image.mode == "RGB" and image.width >= 1 and image.height >= 1
    assert model_input(image, 32).shape == (32, 32, 3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes_never_crash_decoding(data):
    decoding_is_total(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=12),
       st.integers(0, 10_000))
def test_mutated_photos_never_crash_decoding(original, flips, cut):
    data = bytearray(original[: max(cut, 8)])
    for position, value in flips:
        data[position % len(data)] = value
    decoding_is_total(bytes(data))


def test_mutated_photos_through_the_server(triton):
    """A few dozen corrupted photos through the ensemble: each is answered or refused, and
    the server stays healthy."""
    rng = np.random.default_rng(7)
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    try:
        for _ in range(30):
            data = bytearray(VALID[rng.integers(2)])
            for position in rng.integers(0, len(data), rng.integers(1, 20)):
                data[position] = rng.integers(256)
            array = np.frombuffer(bytes(data[: rng.integers(16, len(data) + 1)]), np.uint8)[None, :]
            tensor = grpcclient.InferInput("image_bytes", list(array.shape), "UINT8")
            tensor.set_data_from_numpy(array)
            try:
                assert client.infer("cataract", [tensor]).as_numpy("probabilities").shape == (1, 2)
            except InferenceServerException as error:
                assert error.message()
        assert client.is_server_ready() and client.is_model_ready("cataract")
    finally:
        client.close()
