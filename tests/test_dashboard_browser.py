"""The dashboard in a real headless Chromium (Debian's, driven by Playwright), against a
real Triton. A screenshot of the results page is kept in test-artifacts/."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from client.triton_client import CataractClient
from conftest import REAL_PHOTOS, REPOSITORY, free_ports, start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPOSITORY / "test-artifacts"
# Every browser step has a hard limit, so a hung browser fails the test instead of CI.
STEP_TIMEOUT_MS = 60_000
pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (scripts/setup.sh installs it)"),
]


def a_photo(synthetic_photos: Path) -> Path:
    """A real eye photo when ../shared is present, else a synthetic one."""
    real = sorted((REAL_PHOTOS / "train" / "cataract").glob("*.jpg"))
    return real[0] if real else sorted((synthetic_photos / "test").rglob("*.jpg"))[0]


@pytest.fixture()
def stack(tiny_repository, synthetic_photos):
    """A Triton of its own (the tests stop it) and the dashboard in front of it."""
    server = start_server(tiny_repository)
    (port,) = free_ports(1)
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "train_jax.cli", "dashboard", "--triton-url", server.grpc_url, "--port", str(port),
         "--samples", str(synthetic_photos / "test")],
        cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5).close()
            break
        except OSError:
            assert dashboard.poll() is None, dashboard.stdout.read()
            time.sleep(0.5)
    try:
        yield server, url
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=30)
        server.stop()


@pytest.fixture()
def page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, timeout=STEP_TIMEOUT_MS,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            yield page
        finally:
            browser.close()


def upload(page, path: Path) -> None:
    page.locator("input[type=file]").first.set_input_files(str(path))
    page.locator(".pending").filter(has_text=path.name).wait_for()


def test_upload_predict_and_read_the_answer(stack, page, synthetic_photos):
    server, url = stack
    photo = a_photo(synthetic_photos)
    page.goto(url)
    upload(page, photo)
    page.get_by_role("button", name="Predict").click()
    label = page.locator(".prediction-label").first
    label.wait_for()
    confidence = float(page.locator(".prediction-confidence").first.inner_text().rstrip("%"))

    with CataractClient(server.grpc_url) as screener:
        expected = screener.predict(photo)
    assert label.inner_text() == expected.label
    assert confidence == pytest.approx(expected.confidence, abs=0.06)
    page.get_by_text(f"{photo.name}").first.wait_for()  # the card's title and the table row
    page.get_by_text("Screening aid, not a diagnosis").wait_for()
    page.locator(".server-status").filter(has_text="cataract_vgg16").wait_for()

    card_image = page.locator(".result-card img").first
    plain = card_image.get_attribute("src")
    page.get_by_role("switch").first.click()  # heatmap overlay on
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    while card_image.get_attribute("src") == plain and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert card_image.get_attribute("src") != plain, "the heatmap toggle did not change the picture"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard_results.png"), full_page=True)
    assert (ARTIFACTS / "dashboard_results.png").stat().st_size > 20_000


def test_a_text_file_renamed_jpg_gets_an_inline_error(stack, page, tmp_path):
    _, url = stack
    fake = tmp_path / "not_a_photo.jpg"
    fake.write_text("these are notes, not pixels")
    page.goto(url)
    page.locator("input[type=file]").first.set_input_files(str(fake))
    # Panel renders inside shadow roots: match the text (which pierces them), not inner_text.
    page.locator(".inline-message").filter(has_text="not_a_photo.jpg: not an image").wait_for()


def test_stopped_triton_shows_unreachable_with_retry(stack, page, synthetic_photos):
    server, url = stack
    page.goto(url)
    upload(page, a_photo(synthetic_photos))
    server.stop()
    page.get_by_role("button", name="Predict").click()
    page.locator(".inline-message").filter(has_text=re.compile("unreachable at .*cataract serve")).wait_for()
    page.get_by_role("button", name="Retry").wait_for()
