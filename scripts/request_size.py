"""What one oversized request makes the embedded Triton hold, over HTTP and gRPC.

    python scripts/request_size.py --repository model_repository [--mib 21,256]

Starts the embedded server on the repository (loopback), then sends the `cataract`
ensemble, one at a time: one photo-sized row of each --mib size (zeros: refused as not
an image, or as too large, by the preprocess model), and a batch of 16 rows of 20 MiB
(refused by the ensemble's max_batch_size where that is 1). For each it prints the
answer, the seconds it took, and the growth of the server's resident memory (tritonserver
and its stubs, sampled every 20 ms) over its level before the request.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cataract_contract import ENSEMBLE, INPUT_IMAGE_BYTES, MAX_IMAGE_BYTES  # noqa: E402
from serving.embedded import LocalTritonServer, ServerOptions  # noqa: E402
from benchmarks.load import group_rss_mib  # noqa: E402


def peak_during(pid: int, work) -> tuple[object, float, float, float]:
    """Run work(); return its result (or exception text), seconds, RSS before and peak."""
    before, peak, done = group_rss_mib(pid), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], group_rss_mib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    try:
        outcome = work()
    except Exception as exc:  # the answer we measure
        outcome = f"refused: {getattr(exc, 'message', lambda: None)() or exc}"
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return outcome, seconds, before, peak[0]


def request(api, url: str, rows: np.ndarray):
    def send():
        client = api.InferenceServerClient(url, **({"network_timeout": 300} if api.__name__.endswith("http") else {}))
        try:
            tensor = api.InferInput(INPUT_IMAGE_BYTES, list(rows.shape), "UINT8")
            tensor.set_data_from_numpy(rows)
            client.infer(ENSEMBLE, [tensor])
            return "answered"
        finally:
            client.close()
    return send


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repository", type=Path, default=Path("model_repository"))
    parser.add_argument("--mib", default="21,256", help="sizes of the one-row requests, MiB (default 21,256)")
    args = parser.parse_args()
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    requests = {f"1 row of {mib} MiB": np.zeros((1, int(float(mib) * 2**20)), np.uint8) for mib in args.mib.split(",")}
    requests[f"16 rows of {MAX_IMAGE_BYTES // 2**20} MiB"] = np.zeros((16, MAX_IMAGE_BYTES), np.uint8)
    with LocalTritonServer(ServerOptions.on_free_ports(args.repository)) as server:
        pid = server.process.pid
        print(f"oversized requests | {args.repository} | server resident memory {group_rss_mib(pid):.0f} MiB at start")
        for protocol, api, url in (("http", httpclient, server.http_url), ("grpc", grpcclient, server.grpc_url)):
            for what, rows in requests.items():
                outcome, seconds, before, peak = peak_during(pid, request(api, url, rows))
                print(f"  {protocol:4s} {what:18s} {seconds:6.2f} s  memory +{max(peak - before, 0):5.0f} MiB "
                      f"(peak {peak:.0f})  {str(outcome)[:110]}")
        asyncio.run(asyncio.sleep(0))
        print(f"  ready afterwards: {grpcclient.InferenceServerClient(server.grpc_url).is_server_ready()}")


if __name__ == "__main__":
    main()
