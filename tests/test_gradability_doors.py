"""Every door shows the served model's gradability decision the same way (issue 20).

For one photo of each kind (an eye photo the model grades, a picture that is no eye
photo, an eye photo darkened to 3% brightness, one blurred, one too small), the decision
(gradable, reason code) of a raw KServe v2 JSON call to the served ensemble, with the
outputs asked for by name, is the one `cataract predict --json`, the client (gRPC and
HTTP, each transport), the gateway and the dashboard in Chromium give. The tiny test
model's gate judges "eye" and "not an eye" weakly, so those two photos are chosen by what
the server decides and every door is held to the server's answer; the robust kinds are
held to their reason as well (dark: too dark, blurred: blurred, tiny: too small).

A version exported before the gate, trained and exported by the code of BEFORE_GATE as a
deployment of it has it, still serves and answers gradable null, reason NOT_CHECKED, at
the client and the command line. Everything is real: tritonserver, the doors' processes,
the browser.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image, ImageEnhance, ImageFilter

from cataract_contract import (
    ENSEMBLE,
    GRADABILITY_OUTPUTS,
    INPUT_IMAGE_BYTES,
    MIN_PHOTO_SIDE,
    NOT_CHECKED,
    OUTPUT_GRADABLE,
    OUTPUT_PROBABILITIES,
    OUTPUT_UNGRADABLE_REASON,
    REASON_TEXTS,
    UNGRADABLE,
    UngradableReason,
    reason_text,
)
from client.triton_client import CataractClient
from tests.dashboards.test_dashboard_browser import CHROMIUM, page  # noqa: F401 (a fixture)
from tests.helpers import REPOSITORY, free_ports, run_cli, split_photos, start_door, start_server, stop_door

# The last commit before the gate: what a deployment exported then serves.
BEFORE_GATE = "1aa32a2"
Decision = tuple[bool, int]  # (gradable, ungradable_reason)
ROBUST = {"dark": UngradableReason.TOO_DARK, "blurred": UngradableReason.BLURRED, "tiny": UngradableReason.TOO_SMALL}
CODES_BY_TEXT = {text: int(code) for code, text in REASON_TEXTS.items()}


def kserve_decision(http_url: str, data: bytes) -> Decision:
    """The served ensemble's decision for an encoded photo, by a plain KServe v2 JSON call."""
    body = {"inputs": [{"name": INPUT_IMAGE_BYTES, "shape": [1, len(data)], "datatype": "UINT8", "data": list(data)}],
            "outputs": [{"name": name} for name in (OUTPUT_PROBABILITIES, *GRADABILITY_OUTPUTS)]}
    response = requests.post(f"http://{http_url}/v2/models/{ENSEMBLE}/infer", json=body, timeout=60)
    assert response.status_code == 200, response.text
    outputs = {output["name"]: output for output in response.json()["outputs"]}
    assert set(outputs) == {OUTPUT_PROBABILITIES, *GRADABILITY_OUTPUTS}  # exactly what was asked for
    gradable, reason = outputs[OUTPUT_GRADABLE], outputs[OUTPUT_UNGRADABLE_REASON]
    assert (gradable["datatype"], gradable["shape"], reason["datatype"], reason["shape"]) == ("BOOL", [1, 1], "INT32", [1, 1])
    return bool(gradable["data"][0]), int(reason["data"][0])


def png_file(image: Image.Image, path: Path) -> Path:
    """Lossless, so the client and the server decode the same pixels."""
    image.save(path, format="PNG")
    return path


def not_an_eye_pictures(rng: np.random.Generator) -> list[Image.Image]:
    """Pictures no eye photo looks like: noise, stripes, a checkerboard, a smooth gradient."""
    height, width = 96, 128
    rows, columns = np.mgrid[:height, :width]
    stripes = np.where((columns // 6) % 2, 230, 20)
    checks = np.where(((rows // 12) + (columns // 12)) % 2, 250, 10)
    gradient = (255 * columns / width).astype(np.uint8)
    pixels = [rng.integers(0, 256, (height, width, 3)), *(np.stack([plane] * 3, axis=-1) for plane in (stripes, checks)),
              np.stack([gradient, 255 - gradient, np.full_like(gradient, 128)], axis=-1)]
    return [Image.fromarray(picture.astype(np.uint8)) for picture in pixels]


@pytest.fixture(scope="module")
def photos(triton, synthetic_photos, tmp_path_factory) -> dict[str, Path]:
    """One photo of each kind, named so that no name holds another; the eye photo one the
    server grades, the non-eye picture one it refuses, where such are found."""
    folder = tmp_path_factory.mktemp("kinds")

    def first(candidates: list[Image.Image], wanted: bool, name: str) -> Path:
        paths = [png_file(image, folder / f"{name}-{i}.png") for i, image in enumerate(candidates)]
        chosen = next((path for path in paths if kserve_decision(triton.http_url, path.read_bytes())[0] == wanted), paths[0])
        return chosen.rename(folder / f"{name}.png")

    eyes = [Image.open(path).convert("RGB") for path in split_photos(synthetic_photos, 8)]
    eye = Image.open(first(eyes, True, "1-eye")).convert("RGB")
    return {
        "eye": folder / "1-eye.png",
        "non_eye": first(not_an_eye_pictures(np.random.default_rng(0)), False, "2-not-an-eye"),
        "dark": png_file(ImageEnhance.Brightness(eye).enhance(0.03), folder / "3-dark.png"),
        "blurred": png_file(eye.filter(ImageFilter.GaussianBlur(max(eye.size) / 40)), folder / "4-blurred.png"),
        "tiny": png_file(eye.resize((MIN_PHOTO_SIDE - 8, MIN_PHOTO_SIDE + 8)), folder / "5-tiny.png"),
    }


@pytest.fixture(scope="module")
def served(triton, photos) -> dict[str, Decision]:
    """The server's own answer for each photo: what every door must show."""
    decisions = {kind: kserve_decision(triton.http_url, path.read_bytes()) for kind, path in photos.items()}
    for kind, code in ROBUST.items():
        assert decisions[kind] == (False, code), f"{kind}: the served gate answered {decisions[kind]}, not {code.name}"
    return decisions


@pytest.mark.parametrize("protocol,transport", [("grpc", "tensor"), ("grpc", "bytes"), ("http", "tensor"), ("http", "bytes")])
def test_the_client_gives_the_server_s_decision(triton, photos, served, protocol, transport):
    url = triton.grpc_url if protocol == "grpc" else triton.http_url
    with CataractClient(url, protocol, transport=transport) as screener:
        answers = dict(zip(photos, screener.predict_many(photos.values())))
    for kind, answer in answers.items():
        assert (answer.gradable, answer.reason_code) == served[kind], kind
        if answer.gradable:
            assert answer.label in ("Cataract", "Normal") and answer.confidence >= 50 and answer.reason is None
        else:  # no label, no confidence; the probabilities kept for audit
            assert (answer.label, answer.confidence, answer.is_cataract) == (UNGRADABLE, None, False), kind
            assert answer.reason == reason_text(answer.reason_code) and sum(answer.probabilities.values()) == pytest.approx(1)


def test_the_command_line_gives_the_server_s_decision_and_exits_0(triton, photos, served):
    paths = [str(path) for path in photos.values()]
    result = run_cli("predict", *paths, "--url", triton.grpc_url, "--json")
    assert result.returncode == 0, result.stderr  # an ungradable photo is an answer
    answers = dict(zip(photos, map(json.loads, result.stdout.splitlines())))
    for kind, answer in answers.items():
        assert (answer["gradable"], answer["reason_code"]) == served[kind], kind
        assert answer["reason"] == (None if answer["gradable"] else reason_text(answer["reason_code"]))
        if not answer["gradable"]:
            assert (answer["prediction"], answer["confidence"]) == ("Ungradable", None) and "model_score" in answer
    table = run_cli("predict", *paths, "--url", triton.http_url, "--protocol", "http", "--transport", "bytes")
    assert table.returncode == 0, table.stderr
    rows = dict(zip(photos, table.stdout.splitlines()[1:]))
    for kind, (gradable, code) in served.items():
        retake = f"ungradable: {reason_text(code)}, retake the photo"
        assert rows[kind].endswith(retake) if not gradable else rows[kind].split()[1] in ("Cataract", "Normal"), rows[kind]


def test_the_gateway_gives_the_server_s_decision_with_200_and_counts_refusals(triton, photos, served):
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    process = start_door(["gateway", "--triton-url", triton.grpc_url, "--port", str(port)], url)
    try:
        for kind, path in photos.items():
            response = requests.post(url + "/predict/", files={"file": (path.name, path.read_bytes(), "image/png")}, timeout=60)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert (answer["gradable"], answer["reason_code"]) == served[kind], kind
            if not answer["gradable"]:
                assert answer == {"prediction": "Ungradable", "confidence": None, "gradable": False,
                                  "reason": reason_text(answer["reason_code"]), "reason_code": answer["reason_code"]}
        metrics = requests.get(url + "/metrics", timeout=30).text
    finally:
        stop_door(process)
    assert f"cataract_screened_photos_total {float(len(photos))}" in metrics
    for code in UngradableReason:
        if code:
            refused = sum(decision == (False, code) for decision in served.values())
            assert f'cataract_ungradable_photos_total{{reason="{code.name.lower()}"}} {float(refused)}' in metrics


@pytest.mark.timeout(300)
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (scripts/setup.sh installs it)")
def test_the_dashboard_in_chromium_gives_the_server_s_decision(triton, photos, served, page):  # noqa: F811
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    process = start_door(["dashboard", "--triton-url", triton.grpc_url, "--port", str(port)], url, ready_path="/")
    try:
        page.goto(url)
        page.locator("input[type=file]").first.set_input_files([str(path) for path in photos.values()])
        page.locator(".pending-photo").nth(len(photos) - 1).wait_for()
        page.get_by_role("button", name="Predict").click()
        page.locator(".result-card").nth(len(photos) - 1).wait_for()
        shown = {}
        for kind, path in photos.items():
            card = page.locator(".result-card").filter(has_text=path.name)
            assert card.count() == 1, kind
            if card.locator(".ungradable-reason").count():
                assert card.locator(".ungradable-label").inner_text() == "Ungradable \N{EM DASH} retake"
                assert card.locator(".prediction-confidence").count() == 0 and card.locator(".probability-bar").count() == 0
                shown[kind] = (False, CODES_BY_TEXT[card.locator(".ungradable-reason").inner_text()])
            else:
                assert card.locator(".prediction-label").inner_text() in ("Cataract", "Normal"), kind
                shown[kind] = (True, 0)
        assert shown == served
        refused = sum(not gradable for gradable, _ in served.values())
        summary = page.locator(".session-summary")
        summary.filter(has_text=f"{len(photos)} photo(s) screened: {len(photos) - refused} graded").wait_for()
        assert summary.locator(".refusal-rate").inner_text() == f"{100 * refused / len(photos):.1f}%"
    finally:
        stop_door(process)


@pytest.fixture(scope="module")
def ungated_server(synthetic_photos, tmp_path_factory):
    """A real Triton serving a tiny run trained and exported by the code of BEFORE_GATE."""
    folder = tmp_path_factory.mktemp("before-gate")
    tree = folder / "tree"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(REPOSITORY), "archive", BEFORE_GATE], capture_output=True)
    if archive.returncode:
        pytest.skip(f"commit {BEFORE_GATE} is not in this clone's history: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    script = ("import sys; from pathlib import Path; from tests.helpers import tiny_config; "
              "from train_jax.training.trainer import train; from train_jax.export.export import export; "
              "run = train(tiny_config(Path(sys.argv[1]), Path(sys.argv[2]) / 'run', epochs=1)).root; "
              "export(run, Path(sys.argv[2]) / 'model_repository', cpu_precision='float32', allow_unproven=True)")
    # Run in the old tree: its packages come first on the path, before this checkout's.
    done = subprocess.run([sys.executable, "-c", script, str(synthetic_photos), str(folder)], cwd=tree,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    server = start_server(folder / "model_repository")
    yield server
    server.stop()


@pytest.mark.slow  # trains and exports a tiny run with the old code first (about 95 s here)
def test_a_version_exported_before_the_gate_answers_not_checked(ungated_server, synthetic_photos, tmp_path):
    eye = split_photos(synthetic_photos, 1)[0]
    dark = png_file(ImageEnhance.Brightness(Image.open(eye).convert("RGB")).enhance(0.03), tmp_path / "dark.png")
    for protocol, url in (("grpc", ungated_server.grpc_url), ("http", ungated_server.http_url)):
        for transport in ("tensor", "bytes"):
            with CataractClient(url, protocol, transport=transport) as screener:
                assert screener.info().gradability_outputs == ()
                for answer in screener.predict_many([eye, dark]):  # graded as before, and said not checked
                    assert (answer.gradable, answer.reason, answer.reason_code) == (None, NOT_CHECKED, None)
                    assert answer.label in ("Cataract", "Normal") and answer.confidence >= 50
    result = run_cli("predict", str(eye), str(dark), "--url", ungated_server.grpc_url, "--json")
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        answer = json.loads(line)
        assert (answer["gradable"], answer["reason"]) == (None, "not checked (exported before gradability)")
        assert answer["prediction"] in ("Cataract", "Normal")
