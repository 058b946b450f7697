"""The gateway refuses before it reads (issue 22): a login checked before the body, a body
streamed with a hard limit whatever its headers say, one file field, a bound on requests in
hand; docs only on loopback; refusals that name a request id, not Triton's internals; a
/health that is the gateway's own; an access-log line per screened photo. Each against a
real gateway process."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from cataract_contract import MAX_IMAGE_BYTES, too_large_message
from doors.access import hash_password, write_credentials
from doors.gateway import GATEWAY_BUSY, ONE_FILE_FIELD, UNAVAILABLE
from tests.helpers import REPOSITORY, free_ports, split_photos, start_door, stop_door

PASSWORD = "correct horse battery staple"
LOGIN = ("alice", PASSWORD)
MiB = 1 << 20
BOUNDARY = "gateway-test-boundary"
FORM = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
# What a refused client may still push into the sockets' buffers before the gateway hangs up.
SOCKET_SLACK_BYTES = 16 * MiB


@pytest.fixture()
def credentials(tmp_path) -> Path:
    path = tmp_path / "users.json"
    write_credentials(path, {"alice": hash_password(PASSWORD)})
    return path


def start_gateway(*flags: str, triton_url: str | None = None, host: str = "127.0.0.1"):
    """A gateway process and its local URL; Triton at `triton_url` or at a port nobody serves."""
    nobody, port = free_ports(2)
    url = f"http://127.0.0.1:{port}"
    command = ["gateway", "--triton-url", triton_url or f"127.0.0.1:{nobody}", "--host", host, "--port", str(port), *flags]
    return start_door(command, url), url


@pytest.fixture()
def guarded(credentials):
    """A gateway asking for a login, in front of no Triton (nothing here gets that far)."""
    process, url = start_gateway("--credentials", str(credentials))
    yield process, url
    stop_door(process)


def part(name: str, data: bytes, filename: str | None = None) -> bytes:
    file = f'; filename="{filename}"' if filename else ""
    return f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"{file}\r\n\r\n'.encode() + data + b"\r\n"


def closing() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def post_streamed(url: str, pieces, auth=None) -> tuple[requests.Response | None, int]:
    """POST the pieces chunked (no Content-Length); the answer (None when the gateway hung
    up before one could be read) and how many bytes the gateway let the client send."""
    sent = 0

    def body():
        nonlocal sent
        for piece in pieces:
            sent += len(piece)
            yield piece

    try:
        response = requests.post(url + "/predict/", data=body(), headers=FORM, auth=auth, timeout=120)
    except requests.ConnectionError:
        response = None
    return response, sent


def oversized_file(total: int):
    yield part("file", b"", "eye.jpg")[:-2]  # the file's headers, its bytes follow
    for _ in range(total // MiB):
        yield b"\xff" * MiB
    yield b"\r\n" + closing()


def many_fields(count: int, size: int):
    for index in range(count):
        yield part(f"field{index}", b"a" * size)
    yield closing()


def peak_memory_mib(process: subprocess.Popen) -> float:
    """The process's peak resident memory (VmHWM)."""
    status = Path(f"/proc/{process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024


def assert_refused(response: requests.Response | None, status: int) -> None:
    """Refused with `status`, or hung up on before the client finished sending."""
    if response is not None:
        assert response.status_code == status, response.text
        assert response.headers["X-Request-ID"] == response.json()["request_id"]


@pytest.mark.parametrize("attack", [lambda: oversized_file(200 * MiB), lambda: many_fields(150, MiB)],
                         ids=["chunked-200MiB-file", "150-fields-of-1MiB"])
def test_an_anonymous_request_is_refused_before_its_body_is_read(guarded, attack):
    process, url = guarded
    before = peak_memory_mib(process)
    response, sent = post_streamed(url, attack())
    assert sent < SOCKET_SLACK_BYTES, f"the gateway read {sent / MiB:.0f} MiB of an anonymous request"
    assert peak_memory_mib(process) - before < 10, "the refused body went into the gateway's memory"
    assert_refused(response, 401)


def test_a_chunked_body_over_the_limit_is_cut_off_whatever_its_headers_say(guarded):
    process, url = guarded
    before = peak_memory_mib(process)
    response, sent = post_streamed(url, oversized_file(200 * MiB), auth=LOGIN)
    assert sent < MAX_IMAGE_BYTES + SOCKET_SLACK_BYTES, f"the gateway read {sent / MiB:.0f} MiB"
    assert peak_memory_mib(process) - before < 2 * MAX_IMAGE_BYTES / MiB
    assert_refused(response, 413)
    if response is not None:
        assert response.json()["detail"] == too_large_message()


@pytest.mark.parametrize("pieces", [
    [part("file", b"\xff\xd8 a photo", "eye.jpg"), part("note", b"and a field"), closing()],
    [part("file", b"\xff\xd8 a photo", "eye.jpg"), part("file", b"\xff\xd8 another", "eye2.jpg"), closing()],
    [part("note", b"a field first"), part("file", b"\xff\xd8 a photo", "eye.jpg"), closing()],
    [part("file", b"not sent as a file"), closing()],
], ids=["file-and-field", "two-files", "field-first", "file-as-text"])
def test_a_form_is_exactly_one_file_field(guarded, pieces):
    _, url = guarded
    response, _ = post_streamed(url, pieces, auth=LOGIN)
    assert response is not None and response.status_code == 400, response and response.text
    assert response.json()["detail"] == ONE_FILE_FIELD


def answers(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=5).ok
    except requests.ConnectionError:
        return False


def test_requests_beyond_the_bound_get_503_json_at_once():
    nobody, port = free_ports(2)
    url = f"http://127.0.0.1:{port}"
    code = (f"from doors.gateway import serve; serve('127.0.0.1:{nobody}', 'grpc', '127.0.0.1', {port}, None, "
            "max_concurrent=1)")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPOSITORY)
    held = threading.Event()

    def slow_upload():
        yield part("file", b"", "eye.jpg")[:-2]
        held.wait(60)  # holds the only place until the second request has been answered
        yield b"\xff\xd8\r\n" + closing()

    try:
        while not answers(url):
            assert process.poll() is None, "the gateway did not start"
            time.sleep(0.3)
        first = threading.Thread(target=post_streamed, args=(url, slow_upload()))
        first.start()
        time.sleep(1)
        started = time.monotonic()
        second = requests.post(url + "/predict/", files={"file": ("eye.jpg", b"\xff\xd8", "image/jpeg")}, timeout=30)
        assert time.monotonic() - started < 5
        assert second.status_code == 503 and second.json()["detail"] == GATEWAY_BUSY
        held.set()
        first.join(60)
    finally:
        held.set()
        stop_door(process)


def test_the_api_docs_are_served_on_loopback_only(credentials):
    for host, status in (("127.0.0.1", 200), ("0.0.0.0", 404)):
        process, url = start_gateway("--credentials", str(credentials), host=host)
        try:
            for path in ("/docs", "/redoc", "/openapi.json"):
                assert requests.get(url + path, timeout=30).status_code == status, (host, path)
        finally:
            stop_door(process)


def test_without_triton_clients_get_a_stable_503_and_a_request_id_while_health_is_the_gateways():
    process, url = start_gateway()
    try:
        health = requests.get(url + "/health", timeout=30)
        assert health.status_code == 200 and health.json() == {"status": "ok", "triton": "unreachable"}
        refused = requests.post(url + "/predict/", files={"file": ("eye.jpg", b"\xff\xd8", "image/jpeg")}, timeout=60)
        assert refused.status_code == 503
        body = refused.json()
        assert body == {"detail": UNAVAILABLE, "request_id": refused.headers["X-Request-ID"]}
    finally:
        stop_door(process)
    log = process.stdout.read()
    logged = next(line for line in log.splitlines() if body["request_id"] in line)
    assert "no Triton server answers at 127.0.0.1:" in logged  # the details, for whoever runs the gateway


def test_each_screened_photo_gets_an_access_log_line(triton, credentials, synthetic_photos):
    process, url = start_gateway("--credentials", str(credentials), triton_url=triton.grpc_url)
    photo = split_photos(synthetic_photos, 1)[0].read_bytes()
    try:
        health = requests.get(url + "/health", timeout=30)
        assert health.json() == {"status": "ok", "triton": "ready"}
        response = requests.post(url + "/predict/", files={"file": ("eye.jpg", photo, "image/jpeg")}, auth=LOGIN,
                                 timeout=60)
        assert response.status_code == 200, response.text
    finally:
        stop_door(process)
    answer = response.json()
    (line,) = [line for line in process.stdout.read().splitlines() if "screened: " in line]
    assert "user=alice " in line and f"photo_sha256={hashlib.sha256(photo).hexdigest()[:16]} " in line
    assert f"answer={answer['prediction']} p_cataract=" in line
    assert "model_version=" in line and "time=" in line
    assert f"request_id={response.headers['X-Request-ID']}" in line
