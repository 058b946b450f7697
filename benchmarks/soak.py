"""`cataract bench soak`: a constant load on the embedded server for a long time,
counting every request (none may be lost) and watching the server's memory."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from serving.embedded import LocalTritonServer, ServerOptions
from benchmarks.load import Tally, drive, ensemble_sender, group_rss_mib, load_photos


@dataclasses.dataclass
class SoakReport:
    seconds: float
    concurrency: int
    tally: Tally
    p99_ms: float
    rss_after_warmup_mib: float
    rss_end_mib: float
    rss_samples_mib: list[float]

    @property
    def healthy_requests(self) -> bool:
        """A soak stays below the queues' bounds: every request must be answered."""
        return self.tally.answered == self.tally.sent

    @property
    def memory_growth(self) -> float:
        return self.rss_end_mib / self.rss_after_warmup_mib - 1.0


async def soak_load(grpc_url: str, photos: list[bytes], concurrency: int, seconds: float,
                    rss: callable, sample_every: float = 5.0) -> SoakReport:
    """Keep `concurrency` requests in flight for `seconds`, tallying every request sent,
    answered with a well-formed result, refused or failed; sampling the server's memory."""
    import tritonclient.grpc.aio as aio

    client = aio.InferenceServerClient(grpc_url)
    tally = Tally()
    samples: list[float] = []

    async def sample_memory() -> None:
        while True:
            samples.append(rss())
            await asyncio.sleep(sample_every)

    try:
        send = ensemble_sender(client, tally)
        await drive(send, photos, concurrency, min(10.0, seconds / 4))  # warm-up: caches, allocator, batches
        tally.reset()
        sampler = asyncio.create_task(sample_memory())
        result = await drive(send, photos, concurrency, seconds)
        sampler.cancel()
        samples.append(rss())
    finally:
        await client.close()
    return SoakReport(result.seconds, concurrency, tally, result.percentile(99), samples[0], samples[-1], samples)


def run_soak(repository: Path, photo_folder: Path, concurrency: int, seconds: float) -> SoakReport:
    photos = load_photos(photo_folder)
    with LocalTritonServer(ServerOptions.on_free_ports(repository)) as server:
        pid = server.process.pid
        report = asyncio.run(soak_load(server.grpc_url, photos, concurrency, seconds, lambda: group_rss_mib(pid)))
    print(f"soak | {repository} | concurrency {concurrency} for {report.seconds:.0f} s | loopback")
    tally = report.tally
    print(f"  sent {tally.sent}, answered {tally.answered}, refused busy {tally.busy}, failed {tally.failed}, lost {tally.lost}")
    print(f"  p99 latency {report.p99_ms:.0f} ms, throughput {tally.answered / report.seconds:.2f} photos/s")
    print(f"  server resident memory {report.rss_after_warmup_mib:.0f} MiB after warm-up -> {report.rss_end_mib:.0f} MiB "
          f"at the end ({report.memory_growth:+.1%}); peak {max(report.rss_samples_mib):.0f} MiB")
    for reason, count in tally.reasons.most_common(5):
        print(f"  failed {count}x: {reason}")
    return report
