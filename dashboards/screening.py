"""State and logic of the screening dashboard, testable without a browser.

`ScreeningSession` holds what one browser session does: photos waiting, predictions made
since the page was opened, and the messages to show. `ServerMonitor` turns Triton's
health and statistics into what the server panel shows, as deltas between refreshes.
Both reach Triton only through the project's asyncio client.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
from pathlib import Path
from typing import Any

import param

from client.errors import CataractClientError, InvalidImageError, ModelNotReadyError, ServerUnavailableError
from cataract_contract import IMAGE_SUFFIXES, MAX_IMAGE_BYTES, ImageError, decode_image
from client.triton_client import AsyncCataractClient, ModelInfo, Prediction

RECENT_LATENCIES = 20


@dataclasses.dataclass(frozen=True)
class Photo:
    name: str
    data: bytes


@dataclasses.dataclass(frozen=True)
class Screened:
    """A photo and the answer the service gave for it."""

    photo: Photo
    prediction: Prediction
    at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class Message:
    kind: str  # "error" | "warning" | "info" | "success"
    text: str


def check_photo(name: str, data: bytes) -> str | None:
    """Why a file cannot be screened, or None when it can."""
    if len(data) > MAX_IMAGE_BYTES:
        return f"{name}: file too large ({len(data) / 2**20:.1f} MiB, over the limit of {MAX_IMAGE_BYTES / 2**20:.0f} MiB)"
    try:
        decode_image(data)
    except ImageError as exc:
        return f"{name}: {exc}"
    return None


def sample_photos(folder: str | Path | None, limit: int = 200) -> list[Path]:
    if not folder or not Path(folder).is_dir():
        return []
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return files[:limit]


class ScreeningSession(param.Parameterized):
    """One user's screening: queue photos, predict, keep every answer."""

    triton_url = param.String(default="127.0.0.1:8001", doc="Triton HOST:PORT")
    protocol = param.Selector(default="grpc", objects=["grpc", "http"])
    pending = param.List(default=[], item_type=Photo, doc="photos waiting for Predict")
    results = param.List(default=[], item_type=Screened, doc="answers since the page was opened, newest first")
    messages = param.List(default=[], item_type=Message, doc="what the last action has to say")
    server_unreachable = param.Boolean(default=False, doc="the last Predict found no server: offer Retry")
    busy = param.Boolean(default=False)
    model_info = param.Parameter(default=None, doc="ModelInfo of the served model, once known")

    def __init__(self, **params):
        super().__init__(**params)
        self._client: AsyncCataractClient | None = None

    @property
    def client(self) -> AsyncCataractClient:
        if self._client is None:
            self._client = AsyncCataractClient(self.triton_url, self.protocol, retries=1, backoff=0.2, timeout=30)
        return self._client

    def add_files(self, files: dict[str, bytes]) -> None:
        """Queue uploaded files; refuse the unusable ones with a message naming the problem."""
        accepted, problems = [], []
        for name, data in files.items():
            problem = check_photo(name, data)
            if problem:
                problems.append(Message("error", problem))
            else:
                accepted.append(Photo(name, data))
        self.pending = [*self.pending, *accepted]
        notes = [Message("info", f"{len(accepted)} photo(s) ready: press Predict")] if accepted else []
        self.messages = problems + notes

    def add_samples(self, paths: list[str | Path]) -> None:
        self.add_files({Path(path).name: Path(path).read_bytes() for path in paths})

    def clear_pending(self) -> None:
        self.pending = []

    async def predict(self) -> None:
        """Screen every pending photo. Photos the server could not be reached for stay
        pending (Retry sends them again); bad photos are dropped with a message."""
        if not self.pending:
            self.messages = [Message("warning", "no photos to screen: upload some or pick samples first")]
            return
        self.busy = True
        try:
            photos = list(self.pending)
            try:
                self.model_info = await self.client.info(refresh=True)
                answers = await self.client.predict_many([photo.data for photo in photos], heatmap=True)
            except CataractClientError as exc:
                answers = [exc] * len(photos)
            self._take(photos, answers)
        finally:
            self.busy = False

    def _take(self, photos: list[Photo], answers: list[Prediction | CataractClientError]) -> None:
        now = datetime.datetime.now()
        screened, still_pending, messages = [], [], []
        for photo, answer in zip(photos, answers):
            if isinstance(answer, Prediction):
                screened.append(Screened(photo, dataclasses.replace(answer, source=photo.name), now))
            elif isinstance(answer, (ServerUnavailableError, ModelNotReadyError)):
                still_pending.append(photo)
            elif isinstance(answer, InvalidImageError):
                messages.append(Message("error", f"{photo.name}: {str(answer).removeprefix('<bytes>: ')}"))
            else:
                messages.append(Message("error", f"{photo.name}: the server could not screen it ({answer})"))
        problems = {type(a) for a in answers if isinstance(a, (ServerUnavailableError, ModelNotReadyError))}
        if ServerUnavailableError in problems:
            messages.insert(0, Message("error", f"Triton server unreachable at {self.triton_url}: start it with "
                                                "`cataract serve`, then press Retry"))
        elif ModelNotReadyError in problems:
            messages.insert(0, Message("error", "the model is not ready on the server yet: press Retry in a moment"))
        if screened:
            messages.append(Message("success", f"screened {len(screened)} photo(s)"))
        self.server_unreachable = bool(problems)
        self.pending = still_pending
        self.results = [*reversed(screened), *self.results]
        self.messages = messages

    def recent_latencies_ms(self) -> list[float]:
        return [item.prediction.latency_ms for item in self.results[:RECENT_LATENCIES]]

    def table_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "time": item.at.strftime("%H:%M:%S"),
                "file": item.photo.name,
                "prediction": item.prediction.label,
                "confidence_percent": round(item.prediction.confidence, 2),
                "p_cataract": round(item.prediction.probabilities["cataract"], 4),
                "model_score": round(item.prediction.model_score, 4),
                "threshold": round(item.prediction.threshold, 4),
                "model_version": item.prediction.model_version,
                "latency_ms": round(item.prediction.latency_ms, 1),
            }
            for item in self.results
        ]

    def results_csv(self) -> str:
        rows = self.table_rows()
        buffer = io.StringIO()
        fields = list(rows[0]) if rows else ["time", "file", "prediction", "confidence_percent", "p_cataract",
                                             "model_score", "threshold", "model_version", "latency_ms"]
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()


@dataclasses.dataclass(frozen=True)
class StatisticsSnapshot:
    """Cumulative counters of one model from Triton's statistics extension."""

    inference_count: int = 0
    execution_count: int = 0
    queue_ns: int = 0
    queue_count: int = 0
    compute_ns: int = 0
    compute_count: int = 0
    executions_by_batch_size: dict[int, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_triton(cls, statistics: dict[str, Any]) -> "StatisticsSnapshot":
        """From get_inference_statistics (gRPC as_json gives int64 as strings, HTTP as numbers)."""
        stats = (statistics.get("model_stats") or [{}])[-1]
        inference = stats.get("inference_stats", {})

        def number(entry: dict, key: str) -> int:
            return int(entry.get(key, 0) or 0)

        compute_parts = [inference.get(k, {}) for k in ("compute_input", "compute_infer", "compute_output")]
        return cls(
            inference_count=number(stats, "inference_count"),
            execution_count=number(stats, "execution_count"),
            queue_ns=number(inference.get("queue", {}), "ns"),
            queue_count=number(inference.get("queue", {}), "count"),
            compute_ns=sum(number(part, "ns") for part in compute_parts),
            compute_count=number(inference.get("compute_infer", {}), "count"),
            executions_by_batch_size={
                number(batch, "batch_size"): number(batch.get("compute_infer", {}), "count")
                for batch in stats.get("batch_stats", [])
            },
        )


@dataclasses.dataclass(frozen=True)
class StatisticsDelta:
    """What happened between two snapshots."""

    inferences: int
    executions: int
    average_queue_ms: float | None
    average_compute_ms: float | None
    batch_sizes: dict[int, int]


def statistics_delta(before: StatisticsSnapshot, after: StatisticsSnapshot) -> StatisticsDelta:
    queue_count = after.queue_count - before.queue_count
    compute_count = after.compute_count - before.compute_count
    sizes = {
        size: count - before.executions_by_batch_size.get(size, 0)
        for size, count in sorted(after.executions_by_batch_size.items())
    }
    return StatisticsDelta(
        inferences=after.inference_count - before.inference_count,
        executions=after.execution_count - before.execution_count,
        average_queue_ms=(after.queue_ns - before.queue_ns) / queue_count / 1e6 if queue_count else None,
        average_compute_ms=(after.compute_ns - before.compute_ns) / compute_count / 1e6 if compute_count else None,
        batch_sizes={size: count for size, count in sizes.items() if count > 0},
    )


class ServerMonitor(param.Parameterized):
    """The server panel's facts, refreshed periodically."""

    triton_url = param.String(default="127.0.0.1:8001")
    protocol = param.Selector(default="grpc", objects=["grpc", "http"])
    reachable = param.Boolean(default=False)
    live = param.Boolean(default=False)
    ready = param.Boolean(default=False)
    model_ready = param.Boolean(default=False)
    problem = param.String(default="")
    model_info = param.Parameter(default=None, doc="ModelInfo, once reachable")
    total_inferences = param.Integer(default=0)
    delta = param.Parameter(default=None, doc="StatisticsDelta since the previous refresh")

    def __init__(self, **params):
        super().__init__(**params)
        self._client = AsyncCataractClient(self.triton_url, self.protocol, retries=0, timeout=5)
        self._previous: StatisticsSnapshot | None = None

    async def refresh(self) -> None:
        health = await self._client.health()
        self.param.update(reachable=health.reachable, live=health.live, ready=health.ready,
                          model_ready=health.model_ready, problem=health.problem)
        if not health.model_ready:
            self._previous = None  # a restarted server starts its counters again
            return
        try:
            info: ModelInfo = await self._client.info(refresh=True)
            snapshot = StatisticsSnapshot.from_triton(await self._client.server_statistics())
        except CataractClientError as exc:
            self.problem = str(exc)
            return
        if self._previous is not None and snapshot.inference_count >= self._previous.inference_count:
            self.delta = statistics_delta(self._previous, snapshot)
        self.param.update(model_info=info, total_inferences=snapshot.inference_count)
        self._previous = snapshot
