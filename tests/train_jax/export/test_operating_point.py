"""One answer at every door: a model whose decision threshold is far from 0.5 gives the
same label, with a confidence of at least 50%, through the client (sync and asyncio,
gRPC and HTTP, pixels and encoded bytes), the CLI, the dashboard's state, the REST
gateway, Triton's classification extension and a raw KServe v2 JSON call; and its own
score stays available (`model_score`) for ROC analysis.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import urllib.request

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

import cataract_contract as contract
from client.errors import ModelNotReadyError
from client.triton_client import AsyncCataractClient, CataractClient
from tests.helpers import free_ports, run_cli, start_door, start_server, stop_door
from dashboards.screening import ScreeningSession
from train_jax.export import repository as repo
from train_jax.export.export import export
from train_jax.gradability.measures import gate
from train_jax.gradability.spec import GateSpec
from train_jax.training.predict import reference_outputs
from train_jax.training.run_folder import load_run

SIZE = 32


@pytest.fixture(scope="module")
def far(tiny_run, synthetic_photos, tmp_path_factory):
    """The tiny run with its threshold moved into the widest gap between the test photos'
    scores in their middle third, far from 0.5, exported and served."""
    photos = sorted((synthetic_photos / "test").rglob("*.jpg"))
    run = tmp_path_factory.mktemp("far") / "run"
    shutil.copytree(tiny_run, run)
    images = np.stack([contract.model_input(path, SIZE) for path in photos])
    scores = reference_outputs(load_run(run).model, images)[0][:, contract.CATARACT]
    ordered = np.sort(scores)
    third = len(ordered) // 3
    gaps = np.diff(ordered[third : 2 * third + 1])
    widest = third + int(np.argmax(gaps))
    threshold = float((ordered[widest] + ordered[widest + 1]) / 2)
    assert abs(threshold - 0.5) > 0.2 and gaps.max() > 2e-3, f"threshold {threshold} does not test what it should"
    between = int(np.sum((np.minimum(threshold, 0.5) <= scores) & (scores < np.maximum(threshold, 0.5))))
    assert between >= 3, "too few photos where the model's score and 0.5 disagree"
    threshold_file = run / "threshold.json"
    threshold_file.write_text(json.dumps({**json.loads(threshold_file.read_text()), "decision_threshold": threshold}))
    repository = tmp_path_factory.mktemp("far_repository") / "model_repository"
    export(run, repository, cpu_precision="float32", allow_unproven=True)
    server = start_server(repository)
    # The gate decides first: a photo it refuses is "Ungradable" at every door, whatever its score.
    sizes = np.array([contract.decode_image(path.read_bytes()).size[::-1] for path in photos])
    gradable = gate(load_run(run).model, GateSpec.load(run), images, sizes)["gradable"]
    # What the probabilities alone say (Triton's classification extension reads only them).
    labels = ["Cataract" if score >= threshold else "Normal" for score in scores]
    expected = [label if graded else contract.UNGRADABLE for graded, label in zip(gradable, labels)]
    assert sum(gradable) >= len(photos) // 2, "the tiny gate refuses most test photos: nothing left to test"
    yield {"server": server, "repository": repository, "photos": photos, "images": images, "scores": scores,
           "threshold": threshold, "expected": expected, "labels": labels, "gradable": list(gradable)}
    server.stop()


def batches(images: np.ndarray, size: int = 8) -> list[np.ndarray]:
    return [images[start : start + size] for start in range(0, len(images), size)]


def assert_answers(far, predictions, door: str) -> None:
    labels = [prediction.label for prediction in predictions]
    assert labels == far["expected"], f"{door}: {labels} != {far['expected']}"
    for prediction, score in zip(predictions, far["scores"]):
        assert prediction.model_score == pytest.approx(score, abs=2e-4), door  # given for audit, graded or not
        if not prediction.gradable:
            assert prediction.confidence is None and not prediction.is_cataract, door
            continue
        assert prediction.confidence >= 50, f"{door}: confidence {prediction.confidence}"
        assert prediction.confidence == pytest.approx(100 * max(prediction.probabilities.values()), abs=1e-6)
        assert prediction.threshold == pytest.approx(far["threshold"], abs=1e-6)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("transport", ["tensor", "bytes"])
def test_client_doors_agree(far, protocol, transport):
    server = far["server"]
    url = server.grpc_url if protocol == "grpc" else server.http_url
    with CataractClient(url, protocol, transport=transport) as screener:
        assert_answers(far, screener.predict_many(far["photos"]), f"client {protocol} {transport}")


def test_async_client_and_dashboard_agree(far):
    async def screen():
        async with AsyncCataractClient(far["server"].grpc_url) as screener:
            return await screener.predict_many(far["photos"])

    assert_answers(far, asyncio.run(screen()), "async client")
    session = ScreeningSession(triton_url=far["server"].grpc_url)
    asyncio.run(session.add_samples(far["photos"]))
    asyncio.run(session.predict())
    answered = {item.photo.name: item.prediction for item in session.results}
    assert_answers(far, [answered[path.name] for path in far["photos"]], "dashboard")


def test_rest_gateway_agrees(far):
    """The earlier project's POST /predict/, served by `cataract gateway` through the ensemble."""

    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    gateway = start_door(["gateway", "--triton-url", far["server"].grpc_url, "--port", str(port)], url)
    try:
        answers = []
        for path in far["photos"]:
            with open(path, "rb") as file:
                response = requests.post(url + "/predict/", files={"file": (path.name, file, "image/jpeg")}, timeout=60)
            assert response.status_code == 200, response.text
            answers.append(response.json())
    finally:
        stop_door(gateway)
    assert [answer["prediction"] for answer in answers] == far["expected"]
    assert [answer["gradable"] for answer in answers] == far["gradable"]
    assert all(50 <= answer["confidence"] <= 100 for answer in answers if answer["gradable"])


def test_cli_agrees(far):
    result = run_cli("predict", *map(str, far["photos"]), "--url", far["server"].grpc_url, "--json")
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [answer["prediction"] for answer in answers] == far["expected"]
    for answer, score in zip(answers, far["scores"]):
        assert answer["confidence"] is None if not answer["gradable"] else 50 <= answer["confidence"] <= 100
        assert answer["model_score"] == pytest.approx(score, abs=2e-4)


@pytest.mark.parametrize("api", [grpcclient, httpclient], ids=["grpc", "http"])
def test_triton_classification_extension_agrees(far, api):
    """Generic Triton tools ask for the top class (class_count=1): it must be our label."""
    server = far["server"]
    client = api.InferenceServerClient(server.grpc_url if api is grpcclient else server.http_url)
    top = []
    try:
        for batch in batches(far["images"]):
            tensor = api.InferInput(contract.INPUT_IMAGE, list(batch.shape), "UINT8")
            tensor.set_data_from_numpy(batch)
            result = client.infer(contract.CLASSIFIER, [tensor],
                                  outputs=[api.InferRequestedOutput(contract.OUTPUT_PROBABILITIES, class_count=1)])
            top += [entry[0].decode().split(":") for entry in result.as_numpy(contract.OUTPUT_PROBABILITIES)]
    finally:
        client.close()
    assert [label.capitalize() for _, _, label in top] == far["labels"]  # blind to the gate (README)
    assert all(float(score) >= 0.5 for score, _, _ in top)


def test_raw_kserve_v2_json_call_agrees(far):
    labels, gradable = [], []
    for batch in batches(far["images"]):
        body = {"inputs": [{"name": contract.INPUT_IMAGE, "shape": list(batch.shape), "datatype": "UINT8",
                            "data": batch.ravel().tolist()}]}
        request = urllib.request.Request(f"http://{far['server'].http_url}/v2/models/{contract.CLASSIFIER}/infer",
                                         data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            outputs = {output["name"]: output for output in json.loads(response.read())["outputs"]}
        probabilities = np.array(outputs[contract.OUTPUT_PROBABILITIES]["data"]).reshape(-1, len(contract.CLASS_NAMES))
        labels += [contract.CLASS_NAMES[i].capitalize() for i in probabilities.argmax(axis=1)]
        gradable += [bool(value) for value in outputs[contract.OUTPUT_GRADABLE]["data"]]
    assert labels == far["labels"] and gradable == far["gradable"]


def test_config_and_card_keep_the_validation_threshold(far):
    config = repo.parse_config((far["repository"] / contract.CLASSIFIER / "config.pbtxt").read_text())
    served = contract.ServedParameters.from_config({key: value.string_value for key, value in config.parameters.items()})
    assert served.decision_threshold == pytest.approx(far["threshold"], abs=1e-6)
    assert served.decision_rule == contract.DECISION_RULE
    card = contract.ModelCard.read(far["repository"] / contract.CLASSIFIER / "1")
    assert card.decision_threshold == pytest.approx(far["threshold"], abs=1e-6)
    assert card.to_parameters() == served


def test_operating_point_arithmetic_round_trips():
    own = np.array([[0.896, 0.104], [0.2, 0.8], [1e-9, 1 - 1e-9]])
    served = contract.at_operating_point(own, 0.899)
    assert served[0, 0] < 0.5 < served[1, 1]  # 0.896 < 0.899: normal, and by the top class
    np.testing.assert_allclose(contract.model_scores(served, 0.899), own[:, 0], rtol=1e-5)
    np.testing.assert_allclose(contract.at_operating_point(own, 0.5), own, rtol=1e-6)


def test_a_model_exported_without_its_operating_point_is_refused():
    """An older export serves the model's own probabilities: reading them by the top class
    would give other labels than before, so the client says to re-export instead."""
    screener = CataractClient("127.0.0.1:1")
    config = {"name": contract.CLASSIFIER, "input": [{"name": "image", "dims": ["32", "32", "3"]}],
              "output": [{"name": contract.OUTPUT_PROBABILITIES}],
              "parameters": {"decision_threshold": {"string_value": "0.899"}}}
    with pytest.raises(ModelNotReadyError, match="re-export it with `cataract export`"):
        screener._parse_info(config, ["1"])
