"""State and logic of the screening dashboard, testable without a browser.

`ScreeningSession` holds what one browser session does: photos waiting, predictions made
since the page was opened, and the messages to show. `ServerMonitor` turns Triton's
health and statistics into what the server panel shows, as deltas between refreshes.
Both reach Triton only through the project's asyncio client.

Every upload is its own Photo, with an id of its own (two patients' photos may share a
file name) and a content hash shown beside its name, so an answer can be traced to the
exact file. A photo the served model refuses to grade is an answer too: it is kept, shown
apart (UNGRADABLE, its reason, to retake) and counted apart (`SessionCounts`: the session's
refusal rate). Only a photo waiting for Predict holds its file; an answered one keeps its
thumbnail and its hash, and a session holds at most MAX_PHOTOS_PER_SESSION photos, so a
browser left open all day does not hold every file it ever screened. Decoding runs in an
executor, never on the server's event loop. Each answer is written to the access log
(doors/access.py `log_screened`: who, when, the photo's hash, the answer; never the photo).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime
import hashlib
import io
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import param

from cataract_contract import MAX_IMAGE_BYTES, ImageError, decode_image, image_files, read_image_bytes, too_large
from client.errors import CataractClientError, InvalidImageError
from client.triton_client import DOOR_TUNING, AsyncCataractClient, ModelInfo, Prediction
from dashboards.rendering import thumbnail_png
from doors.access import log_screened

RECENT_LATENCIES = 20
# Decoding uploads, for every session of this server: all cores but one, which stays
# with the event loop that answers every browser.
DECODER = ThreadPoolExecutor(max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="photo-decoder")
# gradable: true, false, or empty for a version exported before the gate (reason NOT_CHECKED).
TABLE_COLUMNS = ("time", "file", "sha256", "prediction", "confidence_percent", "p_cataract", "model_score", "threshold",
                 "model_version", "latency_ms", "gradable", "reason")
GRADABLE_CELLS = {True: "true", False: "false", None: ""}
HASH_SHOWN = 12  # hex digits of the SHA-256 shown beside a file name
# Photos waiting and answered in one browser session: a day's screening at one desk, a
# few MiB of thumbnails, and at most this many whole files (20 MiB each) waiting.
MAX_PHOTOS_PER_SESSION = 200
SESSION_FULL = (f"this page holds {MAX_PHOTOS_PER_SESSION} photos already, the most one session keeps: "
                "download the results, then reload the page to screen more")
# Cells a spreadsheet would read as a formula (OWASP's list): such a cell gets a leading '.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclasses.dataclass(frozen=True)
class Photo:
    """One upload as the session remembers it. `id` tells apart photos of one name;
    `sha256` is the file's content hash."""

    id: str
    name: str
    sha256: str
    thumbnail: bytes  # PNG of at most rendering.THUMBNAIL_SIDE px a side, made once at upload

    @property
    def short_hash(self) -> str:
        return self.sha256[:HASH_SHOWN]


@dataclasses.dataclass(frozen=True)
class WaitingPhoto(Photo):
    """A photo waiting for Predict: the only kind that holds the whole file."""

    data: bytes = dataclasses.field(repr=False)

    def answered(self) -> Photo:
        """What is kept once the service has answered: everything but the file."""
        return Photo(self.id, self.name, self.sha256, self.thumbnail)


@dataclasses.dataclass(frozen=True)
class Screened:
    """A photo and the answer the service gave for it."""

    photo: Photo
    prediction: Prediction
    at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class SessionCounts:
    """The session's answers by gradability: `ungradable` are the photos refused (to
    retake), `unchecked` those answered by a version exported before the gate."""

    graded: int
    ungradable: int
    unchecked: int

    @property
    def screened(self) -> int:
        return self.graded + self.ungradable + self.unchecked

    @property
    def refusal_rate(self) -> float | None:
        """The share of answered photos refused; None before any answer."""
        return self.ungradable / self.screened if self.screened else None


@dataclasses.dataclass(frozen=True)
class Message:
    kind: str  # "error" | "warning" | "info" | "success"
    text: str


def prepare_photo(name: str, data: bytes) -> WaitingPhoto:
    """Check and decode an upload, and make its thumbnail (CPU work: run it in an
    executor). Raises ImageError naming the problem."""
    if len(data) > MAX_IMAGE_BYTES:  # before the hash reads it all
        raise too_large(len(data))
    return WaitingPhoto(uuid.uuid4().hex, name, hashlib.sha256(data).hexdigest(), thumbnail_png(decode_image(data)),
                        data)


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def sample_photos(folder: str | Path | None, limit: int = 200) -> list[Path]:
    if not folder or not Path(folder).is_dir():
        return []
    return image_files(folder)[:limit]


class ScreeningSession(param.Parameterized):
    """One user's screening: queue photos, predict, keep every answer."""

    triton_url = param.String(default="127.0.0.1:8001", doc="Triton HOST:PORT")
    protocol = param.Selector(default="grpc", objects=["grpc", "http"])
    user = param.String(default="", doc="who is logged in, for the access log; empty without logins")
    pending = param.List(default=[], item_type=WaitingPhoto, doc="photos waiting for Predict")
    results = param.List(default=[], item_type=Screened, doc="answers since the page was opened, newest first")
    messages = param.List(default=[], item_type=Message, doc="what the last actions have to say")
    retry_offered = param.Boolean(default=False, doc="the last Predict left photos waiting for the service: offer Retry")
    busy = param.Boolean(default=False, doc="a Predict is running; another does nothing until it ends")
    model_info = param.Parameter(default=None, doc="ModelInfo of the served model, once known")

    def __init__(self, **params):
        super().__init__(**params)
        self._client: AsyncCataractClient | None = None

    @property
    def client(self) -> AsyncCataractClient:
        if self._client is None:
            self._client = AsyncCataractClient(self.triton_url, self.protocol, **DOOR_TUNING.as_kwargs())
        return self._client

    async def add_files(self, files: list[tuple[str, bytes]]) -> None:
        """Queue uploaded files (a list: two may share a name), decoding them in an
        executor; refuse the unusable ones with a message naming the problem, and those
        beyond MAX_PHOTOS_PER_SESSION with SESSION_FULL."""
        loop = asyncio.get_running_loop()
        prepared = await asyncio.gather(*(loop.run_in_executor(DECODER, prepare_photo, name, data) for name, data in files),
                                        return_exceptions=True)
        problems, accepted = [], []
        # Counted once decoded: uploads decode concurrently, and others may have filled the session meanwhile.
        room = MAX_PHOTOS_PER_SESSION - len(self.pending) - len(self.results)
        for (name, _), photo in zip(files, prepared):
            if isinstance(photo, ImageError):
                problems.append(Message("error", f"{name}: {photo}"))
            elif isinstance(photo, BaseException):
                raise photo
            elif len(accepted) < room:
                accepted.append(photo)
            else:
                problems.append(Message("error", f"{name}: {SESSION_FULL}"))
        self.pending = [*self.pending, *accepted]
        self._say(problems)

    async def add_samples(self, paths: list[str | Path]) -> None:
        loop = asyncio.get_running_loop()
        files, problems = [], []
        for path in map(Path, paths):
            try:
                files.append((path.name, await loop.run_in_executor(DECODER, read_image_bytes, path)))
            except ImageError as exc:
                problems.append(Message("error", f"{path.name}: {exc}"))
        await self.add_files(files)
        self._say(problems)

    def refuse(self, name: str, problem: str) -> None:
        """An upload refused before it reached the session (by the upload widget)."""
        self._say([Message("error", f"{name}: {problem}")])

    def _say(self, problems: list[Message]) -> None:
        """Add an action's problems to the errors already shown, and count what waits
        (uploads arrive one by one: the count is of the queue, not of this upload)."""
        waiting = [Message("info", f"{len(self.pending)} photo(s) waiting: press Predict")] if self.pending else []
        self.messages = [*(m for m in self.messages if m.kind == "error"), *problems, *waiting]

    def clear_pending(self) -> None:
        self.pending = []

    async def predict(self) -> None:
        """Screen the photos waiting now. Photos added meanwhile wait for the next Predict;
        photos the service could not take (unreachable, busy, not ready, no answer in time)
        stay waiting for Retry; bad photos are dropped with a message. While one Predict
        runs, another (a double click, Retry) does nothing."""
        if self.busy:
            return
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

    def _take(self, photos: list[WaitingPhoto], answers: list[Prediction | CataractClientError]) -> None:
        now = datetime.datetime.now()
        screened, messages, waiting = [], [], set()
        for photo, answer in zip(photos, answers):
            if isinstance(answer, Prediction):
                screened.append(Screened(photo.answered(), dataclasses.replace(answer, source=photo.name), now))
                log_screened(self.user, photo.sha256, answer.label, answer.cataract_probability, answer.model_version,
                             now)
            elif answer.retryable:  # the service's failure, not the photo's: it waits for Retry
                waiting.add(photo.id)
            elif isinstance(answer, InvalidImageError):
                messages.append(Message("error", f"{photo.name}: {answer.reason}"))
            else:
                messages.append(Message("error", f"{photo.name}: the server could not screen it ({answer.reason})"))
        # Each of the service's failures once, however many photos it cost.
        problems = dict.fromkeys(answer.reason for answer in answers if isinstance(answer, CataractClientError) and answer.retryable)
        messages[:0] = [Message("error", f"{problem}. The photos wait: press Retry") for problem in problems]
        if screened:
            messages.append(Message("success", f"screened {len(screened)} photo(s)"))
        refused = sum(item.prediction.gradable is False for item in screened)
        if refused:
            messages.append(Message("warning", f"{refused} photo(s) ungradable: retake them"))
        self.retry_offered = bool(problems)
        sent = {photo.id for photo in photos} - waiting
        self.pending = [photo for photo in self.pending if photo.id not in sent]  # keeps what came meanwhile
        self.results = [*reversed(screened), *self.results]
        self.messages = messages

    def recent_latencies_ms(self) -> list[float]:
        return [item.prediction.latency_ms for item in self.results[:RECENT_LATENCIES]]

    def counts(self) -> SessionCounts:
        decisions = [item.prediction.gradable for item in self.results]
        return SessionCounts(graded=decisions.count(True), ungradable=decisions.count(False),
                             unchecked=decisions.count(None))

    def table_rows(self) -> list[dict[str, Any]]:
        """One row per screened photo (TABLE_COLUMNS), newest first; an ungradable photo
        has no confidence, its probabilities kept for audit."""
        return [
            dict(zip(TABLE_COLUMNS, (
                item.at.strftime("%H:%M:%S"), item.photo.name, item.photo.short_hash, item.prediction.label,
                None if item.prediction.confidence is None else round(item.prediction.confidence, 2),
                round(item.prediction.cataract_probability, 4),
                round(item.prediction.model_score, 4), round(item.prediction.threshold, 4),
                item.prediction.model_version, round(item.prediction.latency_ms, 1),
                GRADABLE_CELLS[item.prediction.gradable], item.prediction.reason or "",
            )))
            for item in self.results
        ]

    def results_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=TABLE_COLUMNS)
        writer.writeheader()
        writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()} for row in self.table_rows())
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
