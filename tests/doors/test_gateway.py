"""The earlier project's REST contract (`cataract gateway`) and the login of both doors,
with real multipart requests against a real Triton, and the dashboard's login in front
of every page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from cataract_contract import MAX_IMAGE_BYTES, too_large_message
from client.errors import (
    CataractClientError,
    InferenceError,
    InvalidImageError,
    ModelNotReadyError,
    RequestTimeoutError,
    ServerBusyError,
    ServerUnavailableError,
)
from client.triton_client import CataractClient
from doors.access import hash_password, write_credentials
from doors.gateway import status_for
from tests.helpers import REPOSITORY, free_ports, start_door, stop_door

PASSWORD = "correct horse battery staple"


@pytest.fixture()
def credentials(tmp_path) -> Path:
    path = tmp_path / "users.json"
    write_credentials(path, {"alice": hash_password(PASSWORD)})
    return path


@pytest.fixture()
def gateway(triton):
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    process = start_door(["gateway", "--triton-url", triton.grpc_url, "--port", str(port)], url)
    yield url
    stop_door(process)


def a_photo(synthetic_photos: Path) -> Path:
    return sorted((synthetic_photos / "test").rglob("*.jpg"))[0]


def test_predict_answers_the_earlier_contract_as_the_client_library_does(gateway, triton, synthetic_photos):
    photo = a_photo(synthetic_photos)
    with open(photo, "rb") as file:
        response = requests.post(gateway + "/predict/", files={"file": (photo.name, file, "image/jpeg")}, timeout=60)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"prediction", "confidence", "gradable", "reason", "reason_code"}
    with CataractClient(triton.grpc_url) as screener:
        expected = screener.predict(photo)
    assert answer["prediction"] == expected.label
    assert (answer["gradable"], answer["reason_code"]) == (expected.gradable, expected.reason_code)
    if expected.gradable:
        assert expected.label in ("Cataract", "Normal") and answer["reason"] is None
        assert answer["confidence"] == pytest.approx(expected.confidence, abs=0.01)
    else:  # the tiny test model's gate may refuse even its own kind of photo: still an answer, as the client's
        assert (answer["confidence"], answer["reason"]) == (None, expected.reason)
    health = requests.get(gateway + "/health", timeout=30)
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_bad_photos_get_the_earlier_contracts_errors(gateway, tmp_path):
    notes = tmp_path / "notes.jpg"
    notes.write_text("these are notes, not pixels")
    with open(notes, "rb") as file:
        response = requests.post(gateway + "/predict/", files={"file": ("notes.jpg", file, "image/jpeg")}, timeout=60)
    assert response.status_code == 400 and response.json()["detail"].startswith("not an image")  # the reason alone
    empty = requests.post(gateway + "/predict/", files={"file": ("empty.jpg", b"", "image/jpeg")}, timeout=60)
    assert empty.status_code == 400
    huge = requests.post(gateway + "/predict/", files={"file": ("huge.jpg", b"\xff" * (MAX_IMAGE_BYTES + 1), "image/jpeg")},
                         timeout=60)
    assert huge.status_code == 413 and huge.json()["detail"] == too_large_message()
    missing = requests.post(gateway + "/predict/", data={"photo": "no file field"}, timeout=60)
    assert missing.status_code == 422  # FastAPI names the missing field, as the earlier app did


@pytest.mark.parametrize("error,status", [
    (InvalidImageError("<bytes>", "not an image"), 400),
    (ServerUnavailableError("down"), 503), (ModelNotReadyError("loading"), 503), (ServerBusyError("full"), 503),
    (RequestTimeoutError("slow"), 504),
    (InferenceError("failed"), 502), (CataractClientError("odd answer"), 502),
])
def test_each_client_error_has_the_earlier_contracts_status(error, status):
    """Retry later (503, 504) or not (400, 502) is the client's `retryable`; the code is the gateway's."""
    assert status_for(error) == status
    assert error.retryable == (status in (503, 504))



def test_the_gateway_refuses_photos_without_a_login(triton, credentials, synthetic_photos):
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    process = start_door(["gateway", "--triton-url", triton.grpc_url, "--port", str(port), "--credentials", str(credentials)], url)
    try:
        photo = a_photo(synthetic_photos).read_bytes()

        def post(auth=None):
            return requests.post(url + "/predict/", files={"file": ("eye.jpg", photo, "image/jpeg")}, auth=auth, timeout=60)

        assert post().status_code == 401
        assert post(("alice", "wrong password, long")).status_code == 401
        assert post(("mallory", PASSWORD)).status_code == 401
        assert post(("alice", PASSWORD)).status_code == 200
        assert requests.get(url + "/health", timeout=30).status_code == 200  # probes need no login
    finally:
        stop_door(process)


def test_the_dashboard_serves_no_page_before_a_login(triton, credentials):
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    process = start_door(["dashboard", "--triton-url", triton.grpc_url, "--port", str(port), "--credentials", str(credentials)],
                    url, ready_path="/login")
    try:
        anonymous = requests.get(url + "/", timeout=30, allow_redirects=False)
        assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]
        session = requests.Session()
        refused = session.post(url + "/login", data={"username": "alice", "password": "wrong password, long"}, timeout=30)
        assert "Cataract screening" not in refused.text
        session.post(url + "/login", data={"username": "alice", "password": PASSWORD}, timeout=30)
        page = session.get(url + "/", timeout=60)
        assert page.status_code == 200 and "Cataract screening" in page.text
    finally:
        stop_door(process)


@pytest.mark.parametrize("door,flag", [("gateway", "--host"), ("dashboard", "--address")])
def test_a_door_open_to_the_network_refuses_to_start_without_credentials(door, flag):
    result = subprocess.run([sys.executable, "-m", "cataract_cli", door, flag, "0.0.0.0"], cwd=REPOSITORY,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "pass --credentials FILE" in result.stderr.strip().splitlines()[-1]
