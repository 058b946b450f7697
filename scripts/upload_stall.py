"""How long the dashboard's server stops answering while photos are uploaded.

    python scripts/upload_stall.py --repository R [--project DIR] [--photos 20] [--width 3000] [--height 2250]

Starts the embedded Triton on R (the dashboard's server panel asks it for its state
every 5 s, as in use) and `cataract dashboard` from --project (default: this checkout),
uploads the photos from headless Chromium in one drop, and meanwhile asks the dashboard's
server for a small static file every 10 ms from another thread. The server runs one
event loop: whatever blocks it (decoding a photo, say) delays those answers. Prints the
worst and the 99th-percentile answer time during the upload, the same before it (idle),
and what the page says once every photo is listed. The dashboard runs in asyncio's debug
mode, which logs every callback that holds the loop for 100 ms or more: their count and
the longest, during the upload, are the loop's own stalls (the answer times also count
the wait for a core, which the browser and the decoding share on a small machine).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
PROBE = "/static/js/bokeh.min.js"  # a small request the server answers on its event loop


def photos(folder: Path, count: int, width: int, height: int) -> list[Path]:
    """Smooth eye-like gradients with fine noise: JPEGs of a camera photo's size."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 150, 120 + 0 * x], -1)
    paths = []
    for index in range(count):
        pixels = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
        paths.append(folder / f"photo_{index:02d}.jpg")
        paths[-1].write_bytes(buffer.getvalue())
    return paths


class Prober(threading.Thread):
    """Times a HEAD request for PROBE every 10 ms; keeps (start, seconds) pairs."""

    def __init__(self, base_url: str):
        super().__init__(daemon=True)
        self.url, self.samples, self.stopping = base_url + PROBE, [], threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            urllib.request.urlopen(urllib.request.Request(self.url, method="HEAD"), timeout=60).close()
            self.samples.append((started, time.perf_counter() - started))
            time.sleep(0.01)

    def between(self, start: float, end: float) -> np.ndarray:
        return np.array([seconds for at, seconds in self.samples if start <= at <= end] or [float("nan")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repository", type=Path, required=True, help="model repository for the embedded Triton")
    parser.add_argument("--project", type=Path, default=HERE, help="checkout whose dashboard is measured (default: this one)")
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--width", type=int, default=3000)
    parser.add_argument("--height", type=int, default=2250)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from serving.embedded import LocalTritonServer, ServerOptions, free_ports

    triton = LocalTritonServer(ServerOptions.on_free_ports(args.repository)).start()
    folder = Path(tempfile.mkdtemp(prefix="upload-stall-"))
    paths = photos(folder, args.photos, args.width, args.height)
    size = sum(path.stat().st_size for path in paths)
    (port,) = free_ports(1)
    log = open(folder / "dashboard.log", "w+")
    dashboard = subprocess.Popen(
        [sys.executable, "-m", "cataract_cli", "dashboard", "--triton-url", triton.grpc_url, "--port", str(port)],
        cwd=args.project, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONASYNCIODEBUG": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(base + "/", timeout=5).close()
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                                 headless=True, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.set_default_timeout(300_000)
            page.goto(base + "/")
            page.locator("input[type=file]").first.wait_for(state="attached")
            prober = Prober(base)
            prober.start()
            time.sleep(2.0)
            idle_end = upload_start = time.perf_counter()
            log_start = log.seek(0, os.SEEK_END)
            page.locator("input[type=file]").first.set_input_files([str(path) for path in paths])
            page.locator(".pending").filter(has_text=paths[-1].name).wait_for()
            for path in paths:
                page.locator(".pending").filter(has_text=path.name).wait_for()
            upload_end = time.perf_counter()
            log.seek(log_start)
            stalls = [float(seconds) for seconds in re.findall(r"took (\d+\.\d+) seconds", log.read())]
            time.sleep(1.0)  # the page settles: messages of the last upload
            messages = page.get_by_text(re.compile(r"photo\(s\)"))  # the count the page gives
            message = messages.last.text_content() if messages.count() else ""
            prober.stopping.set()
            prober.join()
            browser.close()
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=30)
        triton.stop()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
    idle, busy = prober.between(idle_end - 2.0, idle_end), prober.between(upload_start, upload_end)
    print(f"upload stall | {args.project.resolve()} | {args.photos} photos of {args.width}x{args.height}, "
          f"{size / 2**20:.0f} MiB")
    print(f"  idle:   {len(idle)} probes, worst {1000 * np.nanmax(idle):.0f} ms, p99 {1000 * np.nanpercentile(idle, 99):.0f} ms")
    print(f"  upload: {upload_end - upload_start:.1f} s, {len(busy)} probes, worst {1000 * np.nanmax(busy):.0f} ms, "
          f"p99 {1000 * np.nanpercentile(busy, 99):.0f} ms")
    print(f"  event loop held >= 100 ms during the upload: {len(stalls)} times, longest "
          f"{1000 * max(stalls, default=0):.0f} ms (asyncio debug mode)")
    print(f"  the page says: {' '.join(message.split())!r}")


if __name__ == "__main__":
    main()
