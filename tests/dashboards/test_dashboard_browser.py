"""The dashboard in a real headless Chromium (Debian's, driven by Playwright), against a
real Triton. A screenshot of the results page is kept in test-artifacts/."""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import numpy as np
from PIL import Image

from client.triton_client import CataractClient
from tests.helpers import REPOSITORY, free_ports, start_server
from tests.slow_model import slow_image, write_slow_repository

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPOSITORY / "test-artifacts"
# Every browser step has a hard limit, so a hung browser fails the test instead of CI.
STEP_TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1400, "height": 1000}
pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (scripts/setup.sh installs it)"),
]


def a_graded_photo(server, synthetic_photos: Path) -> Path:
    """A synthetic test photo that the tiny model's gate grades. The tiny model was trained
    on synthetic photos, so its gate refuses real eye photos, whose colours differ."""
    with CataractClient(server.grpc_url) as screener:
        for photo in sorted((synthetic_photos / "test").rglob("*.jpg")):
            if screener.predict(photo).gradable:
                return photo
    pytest.fail("the tiny model's gate refuses every synthetic test photo")


@contextlib.contextmanager
def dashboard_for(repository: Path, samples: Path):
    """A Triton of its own on `repository` (the test may stop it) and the dashboard in front of it."""
    server = start_server(repository)
    (port,) = free_ports(1)
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "cataract_cli", "dashboard", "--triton-url", server.grpc_url, "--port", str(port),
         "--samples", str(samples)],
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
def stack(tiny_repository, synthetic_photos):
    with dashboard_for(tiny_repository, synthetic_photos / "test") as running:
        yield running


@pytest.fixture()
def test_model_stack(tmp_path, synthetic_photos):
    """The slow test classifier (tests/slow_model.py), whose config's labels are hostile
    HTML: what a compromised or misconfigured server could send."""
    parameters = {"classes": f"{HOSTILE_LABEL},normal", "positive_class": HOSTILE_LABEL}
    with dashboard_for(write_slow_repository(tmp_path / "repository", parameters=parameters), synthetic_photos / "test") as running:
        yield running


@pytest.fixture()
def page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, timeout=STEP_TIMEOUT_MS,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            yield page
        finally:
            browser.close()


HOSTILE_LABEL = "<img src=z onerror=\"document.title='pwned by the server'\">"
HOSTILE_NAMES = [
    "<img src=x onerror=\"document.title='pwned'\">.png",  # script through HTML
    "<b>bold</b> & <i>italic</i>.png",  # plain HTML
    "**stars** _under_ [link](javascript:alert(1)) `code`.png",  # Markdown
]


def upload(page, path: Path) -> None:
    page.locator("input[type=file]").first.set_input_files(str(path))
    page.locator(".pending").filter(has_text=path.name).wait_for()


def png_file(name: str, pixels: np.ndarray) -> dict:
    """A file for set_input_files, made in memory (its name need not be a valid path)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return {"name": name, "mimeType": "image/png", "buffer": buffer.getvalue()}


def shown_literally(page, text: str) -> None:
    """The text is on the page as written: had it been parsed as HTML or Markdown, its
    characters would not all be there."""
    page.get_by_text(text, exact=False).first.wait_for()


def rows_in_table(page) -> int:
    return page.locator(".tabulator-row").count()


def test_upload_predict_and_read_the_answer(stack, page, synthetic_photos):
    server, url = stack
    photo = a_graded_photo(server, synthetic_photos)
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
    with Image.open(ARTIFACTS / "dashboard_results.png") as shot:  # the whole page: the viewport's width, its height or more
        assert shot.format == "PNG" and shot.width == VIEWPORT["width"] and shot.height >= VIEWPORT["height"], shot.size
        pixels = np.asarray(shot.convert("RGB"))
    # A page drawn, not a blank one: text, the photo's colours and the heatmap's, thousands of colours in all.
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1000
    assert (pixels.min(axis=2) < 100).mean() > 0.005  # dark text and lines on more than a sliver of it


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
    upload(page, a_graded_photo(server, synthetic_photos))
    server.stop()
    page.get_by_role("button", name="Predict").click()
    page.locator(".inline-message").filter(has_text=re.compile("no Triton server answers at .*cataract serve.*press Retry")).wait_for()
    page.get_by_role("button", name="Retry").wait_for()


def test_names_and_labels_are_shown_literally_and_never_run(test_model_stack, page):
    """File names (upload, pending list, card title, table, error alerts) and the labels
    the server's config names are escaped: no script runs, and each shows as written."""
    _, url = test_model_stack
    page.goto(url)
    title = page.title()
    files = [png_file(name, slow_image(0, brightness=60 + 60 * i)) for i, name in enumerate(HOSTILE_NAMES)]
    bad = {"name": "<img src=y onerror=\"document.title='pwned by an error'\">.jpg", "mimeType": "image/jpeg",
           "buffer": b"not a photo"}
    page.locator("input[type=file]").first.set_input_files([*files, bad])
    for name in HOSTILE_NAMES:
        page.locator(".pending").filter(has_text=name).wait_for()
    page.locator(".inline-message").filter(has_text=f"{bad['name']}: not an image").wait_for()
    page.get_by_role("button", name="Predict").click()
    page.locator(".result-card").nth(len(files) - 1).wait_for()
    for name in HOSTILE_NAMES:
        assert page.locator(".result-card").filter(has_text=name).count() == 1, name  # the card's title
        shown_literally(page, name)
    shown_literally(page, HOSTILE_LABEL.capitalize())  # the label, on the cards and in the table
    page.wait_for_timeout(500)  # any onerror handler would have run by now
    assert page.title() == title
    assert page.evaluate("document.querySelectorAll('img[src=x], img[src=y], img[src=z]').length") == 0


def test_two_photos_of_one_name_are_both_shown_with_their_hashes(stack, page, synthetic_photos):
    _, url = stack
    first, second = sorted((synthetic_photos / "test").rglob("*.jpg"))[:2]
    same_name = [{"name": "IMG_0001.JPG", "mimeType": "image/jpeg", "buffer": path.read_bytes()} for path in (first, second)]
    page.goto(url)
    page.locator("input[type=file]").first.set_input_files(same_name)
    page.locator(".pending-photo").nth(1).wait_for()
    page.get_by_role("button", name="Predict").click()
    page.locator(".result-card").nth(1).wait_for()
    hashes = {hashlib.sha256(path.read_bytes()).hexdigest()[:12] for path in (first, second)}
    assert {page.locator(".photo-hash").nth(i).inner_text() for i in range(2)} == hashes
    for digest in hashes:
        page.get_by_role("gridcell", name=digest).wait_for()  # the table's sha256 column
    assert page.locator(".result-card").filter(has_text="IMG_0001.JPG").count() == 2


def test_double_click_and_uploads_during_predict_lose_nothing(test_model_stack, page):
    """The first photo takes 2 s to answer: Predict is double-clicked, and a second
    photo is uploaded while the first is screened. One answer, the second photo waits."""
    _, url = test_model_stack
    page.goto(url)
    page.locator("input[type=file]").first.set_input_files([png_file("slow.png", slow_image(2.0))])
    page.locator(".pending").filter(has_text="slow.png").wait_for()
    page.get_by_role("button", name="Predict").dblclick()
    page.get_by_role("button", name="Screening...").wait_for()
    page.locator("input[type=file]").first.set_input_files([png_file("later.png", slow_image(0))])
    page.locator(".result-card").first.wait_for()
    page.locator(".pending").filter(has_text="later.png").wait_for()
    page.get_by_role("button", name="Predict").wait_for()
    page.locator(".tabulator-row").first.wait_for()
    page.wait_for_timeout(1000)  # a second, duplicate Predict would have answered by now
    assert page.locator(".result-card").count() == 1 and rows_in_table(page) == 1
    page.get_by_role("button", name="Predict").click()
    page.locator(".result-card").nth(1).wait_for()
    page.locator(".tabulator-row").nth(1).wait_for()
    assert rows_in_table(page) == 2
