"""`cataract bench soak`: a constant load on the embedded server for a long time,
counting every request (none may be lost) and watching the server's memory."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from pathlib import Path

import numpy as np

from cataract_contract import ENSEMBLE, OUTPUT_PROBABILITIES
from serving.embedded import LocalTritonServer, ServerOptions
from serving.load import drive, free_port, group_rss_mib, load_photos, photo_input


@dataclasses.dataclass
class SoakReport:
    seconds: float
    concurrency: int
    sent: int
    answered: int
    failed: int
    p99_ms: float
    rss_after_warmup_mib: float
    rss_end_mib: float
    rss_samples_mib: list[float]
    failure_reasons: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def lost(self) -> int:
        """Requests neither answered nor reported failed: must be zero."""
        return self.sent - self.answered - self.failed

    @property
    def memory_growth(self) -> float:
        return self.rss_end_mib / self.rss_after_warmup_mib - 1.0


async def soak_load(grpc_url: str, photos: list[bytes], concurrency: int, seconds: float,
                    rss: callable, sample_every: float = 5.0) -> SoakReport:
    """Keep `concurrency` requests in flight for `seconds`, counting every request sent,
    answered with a well-formed result, or failed; sampling the server's memory."""
    import tritonclient.grpc.aio as aio

    client = aio.InferenceServerClient(grpc_url)
    counts = {"sent": 0, "answered": 0, "failed": 0}
    reasons: collections.Counter[str] = collections.Counter()
    samples: list[float] = []

    async def send(photo: bytes) -> None:
        counts["sent"] += 1
        try:
            result = await client.infer(ENSEMBLE, [photo_input(photo)], client_timeout=60)
            probabilities = result.as_numpy(OUTPUT_PROBABILITIES)
            if probabilities.shape != (1, 2) or not np.isclose(probabilities.sum(), 1.0, atol=1e-3):
                raise RuntimeError("malformed answer")
        except Exception as exc:
            counts["failed"] += 1
            reasons[f"{type(exc).__name__}: {str(exc)[:160]}"] += 1
            raise
        counts["answered"] += 1

    async def sample_memory() -> None:
        while True:
            samples.append(rss())
            await asyncio.sleep(sample_every)

    try:
        await drive(send, photos, concurrency, min(10.0, seconds / 4))  # warm-up: caches, allocator, batches
        for key in counts:
            counts[key] = 0
        reasons.clear()
        sampler = asyncio.create_task(sample_memory())
        result = await drive(send, photos, concurrency, seconds)
        sampler.cancel()
        samples.append(rss())
    finally:
        await client.close()
    return SoakReport(result.seconds, concurrency, counts["sent"], counts["answered"], counts["failed"],
                      result.percentile(99), samples[0], samples[-1], samples, dict(reasons.most_common()))


def run_soak(repository: Path, photo_folder: Path, concurrency: int, seconds: float) -> SoakReport:
    photos = load_photos(photo_folder)
    options = ServerOptions(repository, http_port=free_port(), grpc_port=free_port(), metrics_port=free_port())
    with LocalTritonServer(options) as server:
        pid = server.process.pid
        report = asyncio.run(soak_load(server.grpc_url, photos, concurrency, seconds, lambda: group_rss_mib(pid)))
    print(f"soak | {repository} | concurrency {concurrency} for {report.seconds:.0f} s | loopback")
    print(f"  sent {report.sent}, answered {report.answered}, failed {report.failed}, lost {report.lost}")
    print(f"  p99 latency {report.p99_ms:.0f} ms, throughput {report.answered / report.seconds:.2f} photos/s")
    print(f"  server resident memory {report.rss_after_warmup_mib:.0f} MiB after warm-up -> {report.rss_end_mib:.0f} MiB "
          f"at the end ({report.memory_growth:+.1%}); peak {max(report.rss_samples_mib):.0f} MiB")
    for reason, count in list(report.failure_reasons.items())[:5]:
        print(f"  failed {count}x: {reason}")
    return report
