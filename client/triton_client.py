"""The client library: cataract screening answers from a Triton server, typed.

    from client.triton_client import CataractClient
    with CataractClient("127.0.0.1:8001") as screener:          # gRPC; "http" for port 8000
        result = screener.predict("eye.jpg")
        print(result.label, result.confidence)                  # "Cataract" 97.9

`CataractClient` (blocking) and `AsyncCataractClient` (asyncio) share one core: every
conversation with the server (reading the model's config, checking health, one
inference) is written once, as a generator that yields the tritonclient calls it needs
(`_Call`); each client only performs those calls its own way. Both read the served
model's config for tensor names, image size, classes, decision threshold and version,
so nothing about the model is hard-coded here.

Every answer carries the served model's gradability decision (`Prediction.gradable`): a
photo the model cannot judge (not an eye photo like its training photos, too dark or
bright, blurred, grey, too small) is answered UNGRADABLE with its reason, never a label. The
server decides, so every door agrees; the client only sends the decoded photo's size
(`photo_size`) with its pixels. A version exported before the gate answers gradable None,
reason NOT_CHECKED: graded as before, and said so.

Two ways to send a photo (`transport`):
- "tensor" (default): the client decodes and resizes with cataract_contract and sends
  uint8 pixels to the classifier, with each photo's decoded height and width; many
  photos travel in one batched request.
- "bytes": the client sends the encoded file to the `cataract` ensemble, which decodes
  it on the server with the same code (and sends the size on itself); one photo per request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Generator, Iterable, Sequence

import numpy as np

from cataract_contract import (
    CLASS_NAMES,
    CLASSIFIER,
    DECISION_RULE,
    ENSEMBLE,
    GRADABILITY_OUTPUTS,
    INPUT_IMAGE_BYTES,
    INPUT_PHOTO_SIZE,
    NOT_CHECKED,
    OUTPUT_GRADABLE,
    OUTPUT_HEATMAP,
    OUTPUT_PROBABILITIES,
    OUTPUT_UNGRADABLE_REASON,
    PARAMETER_CLASSES,
    PARAMETER_DECISION_RULE,
    PARAMETER_DECISION_THRESHOLD,
    PARAMETER_MODEL_VERSION,
    PARAMETER_POSITIVE_CLASS,
    SERVED_THRESHOLD,
    UNGRADABLE,
    ImageError,
    ImageSource,
    ServedParameters,
    UngradableReason,
    config_parameters,
    image_files,
    load_rgb,
    model_scores,
    read_image_bytes,
    reason_text,
    resize_for_model,
)
from client.errors import (
    CataractClientError,
    InferenceError,
    InvalidImageError,
    ModelNotReadyError,
    is_timeout,
    is_unavailable,
    translate,
)

DEFAULT_MODEL = CLASSIFIER
DEFAULT_ENSEMBLE = ENSEMBLE
PROTOCOLS = ("grpc", "http")
TRANSPORTS = ("tensor", "bytes")
DEFAULT_PORTS = {"grpc": 8001, "http": 8000}
# A served model can change under a running client (a new export, a rollback): what the
# client knows of it (threshold, image size, version) is read again when this old.
INFO_MAX_AGE_SECONDS = 10.0


@dataclasses.dataclass(frozen=True)
class ClientTuning:
    """How long a client waits for an answer, and how often it retries while no server answers."""

    timeout: float
    retries: int
    backoff: float

    def as_kwargs(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


# A door in front of Triton (the dashboard, the gateway) answers a person who waits: one
# retry after a short back-off, where a batch of photos (the library's defaults) retries three times.
DOOR_TUNING = ClientTuning(timeout=30.0, retries=1, backoff=0.2)


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the client learned from the served model's config."""

    name: str
    version: str
    image_size: int
    input_name: str
    probability_output: str
    heatmap_output: str
    # The gradability gate's outputs and the photo-size input: empty for a version
    # exported before the gate, whose answers are then not checked.
    gradability_outputs: tuple[str, ...]
    photo_size_input: str
    classes: tuple[str, ...]
    positive_class: str
    threshold: float  # the decision threshold of the model's own score, chosen on validation
    max_batch_size: int
    backend: str
    parameters: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One photo's answer. The served model carries its operating point (the decision
    threshold chosen on validation), so `label` is the class of highest served
    probability and `confidence` is that probability in percent, always >= 50. The
    model's own P(cataract), for ROC analysis, is `model_score`: the photo is called
    cataract exactly when `model_score >= threshold`.

    A photo the served model refuses to judge (`gradable` False) has the label
    UNGRADABLE, no confidence, and its `reason`; its probabilities and `model_score` are
    still given, for audit, never as a label. `gradable` None: the served version was
    exported before the gate, and the photo was not checked (`reason` NOT_CHECKED)."""

    source: str
    label: str  # "Cataract", "Normal" or "Ungradable"
    confidence: float | None  # None for an ungradable photo
    probabilities: dict[str, float]  # as served, at the operating point, by the served config's class names
    cataract_probability: float  # the positive class's, as served: the label is cataract when >= 0.5
    model_score: float
    threshold: float
    model_version: str
    latency_ms: float
    heatmap: np.ndarray | None = None
    gradable: bool | None = None  # None: not checked (a version exported before the gate)
    reason_code: int | None = None  # the served `ungradable_reason` (UngradableReason); None when not checked

    @property
    def reason(self) -> str | None:
        """Why the photo was refused; None for a graded one; NOT_CHECKED without a gate."""
        if self.gradable is None:
            return NOT_CHECKED
        return None if self.gradable else reason_text(self.reason_code)

    @property
    def is_cataract(self) -> bool:
        return self.gradable is not False and self.label == "Cataract"

    def gradability_json(self) -> dict[str, Any]:
        """The decision as every door's JSON gives it."""
        return {"gradable": self.gradable, "reason": self.reason, "reason_code": self.reason_code}

    def as_json(self) -> dict[str, Any]:
        """The earlier project's answer shape, plus the probabilities, the version and the
        gradability decision."""
        return {
            "file": self.source,
            "prediction": self.label,
            "confidence": None if self.confidence is None else round(self.confidence, 2),
            "probabilities": {name: round(value, 6) for name, value in self.probabilities.items()},
            "model_score": round(self.model_score, 6),
            "threshold": round(self.threshold, 6),
            "model_version": self.model_version,
            **self.gradability_json(),
        }


def source_name(source: ImageSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return f"<{type(source).__name__}>"


def encoded_bytes(source: ImageSource) -> bytes:
    """The photo as an encoded file, for the server-side decoding path."""
    if isinstance(source, (str, os.PathLike)):
        return read_image_bytes(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    buffer = io.BytesIO()
    load_rgb(source).save(buffer, format="PNG")
    return buffer.getvalue()


def server_address(url: str, protocol: str) -> str:
    """HOST:PORT of a Triton address given as HOST, HOST:PORT or with an http:// or grpc://
    prefix, and an HTTP base path kept after it (the protocol's default port where none is
    given); ValueError for a port that is no TCP port."""
    address, slash, base_path = url.removeprefix("http://").removeprefix("grpc://").partition("/")
    base_path = f"/{base_path}".rstrip("/") if slash else ""
    if base_path and protocol == "grpc":
        raise ValueError(f"Triton address {url!r} has a path ({base_path}): gRPC takes HOST:PORT only")
    host, colon, port = address.rpartition(":")
    if not colon or address.endswith("]"):  # no port (a bracketed IPv6 address holds colons of its own)
        return f"{address}:{DEFAULT_PORTS[protocol]}{base_path}"
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"Triton address {url!r} is not HOST:PORT with a port from 1 to 65535")
    return f"{address}{base_path}"


@dataclasses.dataclass(frozen=True)
class ServerHealth:
    reachable: bool
    live: bool
    ready: bool
    model_ready: bool
    problem: str = ""


@dataclasses.dataclass
class _Job:
    """One request to send: which inputs (by position) it answers."""

    positions: list[int]
    payload: np.ndarray
    photo_sizes: np.ndarray | None = None  # int32 (N, 2): each photo's decoded height, width (tensor transport)


@dataclasses.dataclass(frozen=True)
class _Call:
    """One tritonclient method call, for the sync or the asyncio client to perform."""

    model: str  # named in error messages
    method: str
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    retry: bool = True  # retry with backoff while no server answers


Conversation = Generator[_Call, Any, Any]  # yields calls, receives their results, returns the answer


class _ClientCore:
    """Everything but the wire: arguments, config reading, request building, parsing."""

    def __init__(
        self,
        url: str = "127.0.0.1:8001",
        protocol: str = "grpc",
        *,
        model: str = DEFAULT_MODEL,
        ensemble: str = DEFAULT_ENSEMBLE,
        transport: str = "tensor",
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        batch_size: int = 8,
        concurrency: int = 4,
    ):
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, got {transport!r}")
        if batch_size < 1 or concurrency < 1 or retries < 0 or timeout <= 0:
            raise ValueError("batch_size and concurrency must be >= 1, retries >= 0, timeout > 0")
        url = server_address(url, protocol)
        self.url, self.protocol, self.model, self.ensemble = url, protocol, model, ensemble
        self.transport, self.timeout, self.retries, self.backoff = transport, timeout, retries, backoff
        self.batch_size, self.concurrency = batch_size, concurrency
        self._info: ModelInfo | None = None
        self._info_read_at = 0.0

    def _info_is_fresh(self, refresh: bool) -> bool:
        return self._info is not None and not refresh and time.monotonic() - self._info_read_at < INFO_MAX_AGE_SECONDS

    def _keep_info(self, info: ModelInfo) -> ModelInfo:
        self._info, self._info_read_at = info, time.monotonic()
        return info

    @property
    def _api(self):
        if self.protocol == "grpc":
            import tritonclient.grpc as api
        else:
            import tritonclient.http as api
        return api

    def _parse_info(self, config: dict[str, Any], versions: Sequence[str]) -> ModelInfo:
        config = config.get("config", config)  # gRPC wraps the config, HTTP does not
        parameters = config_parameters(config)
        outputs = {output["name"]: output for output in config["output"]}
        inputs = {tensor["name"]: tensor for tensor in config["input"]}
        images = [tensor for name, tensor in inputs.items() if name != INPUT_PHOTO_SIZE]
        if len(images) != 1 or OUTPUT_PROBABILITIES not in outputs:
            raise ModelNotReadyError(f"model '{self.model}' at {self.url} is not a cataract classifier (inputs {config['input']})")

        def served(key: str, default: Any) -> Any:
            """A served parameter, typed; `default` for a config that lacks it (one not written by export)."""
            return ServedParameters.get(parameters, key, default)

        if served(PARAMETER_DECISION_RULE, None) != DECISION_RULE:
            raise ModelNotReadyError(
                f"model '{self.model}' at {self.url} was exported before the decision threshold went into the model "
                "(its config has no decision_rule): its labels would disagree between doors; re-export it with `cataract export`"
            )
        dims = [int(d) for d in images[0]["dims"]]
        classes = served(PARAMETER_CLASSES, CLASS_NAMES)
        return ModelInfo(
            name=config["name"],
            version=served(PARAMETER_MODEL_VERSION, "") or (max(versions, key=int) if versions else ""),
            image_size=dims[0],
            input_name=images[0]["name"],
            probability_output=OUTPUT_PROBABILITIES,
            heatmap_output=OUTPUT_HEATMAP if OUTPUT_HEATMAP in outputs else "",
            # Requested only where the config lists them all: a half-gated config is not a gate.
            gradability_outputs=GRADABILITY_OUTPUTS if set(GRADABILITY_OUTPUTS) <= set(outputs) else (),
            photo_size_input=INPUT_PHOTO_SIZE if INPUT_PHOTO_SIZE in inputs else "",
            classes=classes,
            positive_class=served(PARAMETER_POSITIVE_CLASS, classes[0]),
            threshold=served(PARAMETER_DECISION_THRESHOLD, 0.5),
            max_batch_size=int(config.get("max_batch_size", 0)),
            backend=config.get("backend") or config.get("platform", ""),
            parameters=parameters,
        )

    def _tensor_jobs(self, sources: Sequence[ImageSource], info: ModelInfo, errors: dict[int, Exception]) -> list[_Job]:
        """Decode and resize locally, keeping each photo's decoded size (the server's gate
        judges a photo too small by it); group good photos into batches within max_batch_size."""
        size = max(1, min(self.batch_size, info.max_batch_size or 1))
        good: list[tuple[int, np.ndarray, tuple[int, int]]] = []
        for position, source in enumerate(sources):
            try:
                image = load_rgb(source)
                good.append((position, resize_for_model(image, info.image_size), (image.height, image.width)))
            except ImageError as exc:
                errors[position] = InvalidImageError(source_name(source), str(exc))
        return [
            _Job([p for p, _, _ in batch], np.stack([a for _, a, _ in batch]), np.array([s for _, _, s in batch], np.int32))
            for batch in (good[i : i + size] for i in range(0, len(good), size))
        ]

    def _bytes_jobs(self, sources: Sequence[ImageSource], errors: dict[int, Exception]) -> list[_Job]:
        jobs = []
        for position, source in enumerate(sources):
            try:
                data = encoded_bytes(source)
            except ImageError as exc:
                errors[position] = InvalidImageError(source_name(source), str(exc))
                continue
            jobs.append(_Job([position], np.frombuffer(data, np.uint8)[None, :]))
        return jobs

    def _request(self, job: _Job, info: ModelInfo, heatmap: bool) -> tuple[str, list, list]:
        api = self._api
        model, input_name = (self.model, info.input_name) if self.transport == "tensor" else (self.ensemble, INPUT_IMAGE_BYTES)
        tensor = api.InferInput(input_name, list(job.payload.shape), "UINT8")
        tensor.set_data_from_numpy(job.payload)
        inputs = [tensor]
        if job.photo_sizes is not None and info.photo_size_input:
            sizes = api.InferInput(info.photo_size_input, list(job.photo_sizes.shape), "INT32")
            sizes.set_data_from_numpy(job.photo_sizes)
            inputs.append(sizes)
        names = [info.probability_output, *info.gradability_outputs, *([info.heatmap_output] if heatmap and info.heatmap_output else [])]
        return model, inputs, [api.InferRequestedOutput(name) for name in names]

    @staticmethod
    def _gradability(result, info: ModelInfo, count: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The served decision per photo: (gradable bool (N,), reason int (N,)), or
        (None, None) for a version exported before the gate."""
        if not info.gradability_outputs:
            return None, None
        gradable, reasons = (result.as_numpy(name) for name in (OUTPUT_GRADABLE, OUTPUT_UNGRADABLE_REASON))
        if gradable is None or reasons is None or gradable.size != count or reasons.size != count:
            raise CataractClientError(
                f"the server answered {OUTPUT_GRADABLE} {None if gradable is None else gradable.shape} and "
                f"{OUTPUT_UNGRADABLE_REASON} {None if reasons is None else reasons.shape}, expected one of each per photo ({count})"
            )
        gradable, reasons = gradable.reshape(count).astype(bool), reasons.reshape(count).astype(int)
        known = np.isin(reasons, list(UngradableReason)) & (gradable == (reasons == UngradableReason.GRADABLE))
        if not known.all():  # a code this contract does not name: no door could say why
            raise CataractClientError(f"the server answered an unknown gradability decision: {OUTPUT_GRADABLE} "
                                      f"{gradable[~known].tolist()}, {OUTPUT_UNGRADABLE_REASON} {reasons[~known].tolist()}")
        return gradable, reasons

    def _predictions(self, result, job: _Job, sources, info: ModelInfo, heatmap: bool, latency_ms: float) -> list[Prediction]:
        probabilities = result.as_numpy(info.probability_output)
        heatmaps = result.as_numpy(info.heatmap_output) if heatmap and info.heatmap_output else None
        if probabilities is None or probabilities.shape != (len(job.positions), len(info.classes)):
            raise CataractClientError(
                f"the server answered probabilities of shape {None if probabilities is None else probabilities.shape}, "
                f"expected {(len(job.positions), len(info.classes))}"
            )
        # A tensor request names the classifier version that answered it; an ensemble's answer
        # names the ensemble's version, so the classifier's comes from its config.
        version = info.version
        if self.transport == "tensor":
            response = result.get_response()
            version = str(response.get("model_version") if self.protocol == "http" else response.model_version) or version
        positive = info.classes.index(info.positive_class)
        own_scores = model_scores(probabilities, info.threshold, positive)
        gradable, reasons = self._gradability(result, info, len(job.positions))
        predictions = []
        for row, position in enumerate(job.positions):
            served = {name: float(probabilities[row, i]) for i, name in enumerate(info.classes)}
            label = info.positive_class if served[info.positive_class] >= SERVED_THRESHOLD else info.classes[1 - positive]
            refused = gradable is not None and not gradable[row]
            predictions.append(
                Prediction(
                    source=source_name(sources[position]),
                    label=UNGRADABLE if refused else label.capitalize(),
                    confidence=None if refused else 100.0 * served[label],
                    probabilities=served,
                    cataract_probability=served[info.positive_class],
                    model_score=float(own_scores[row]),
                    threshold=info.threshold,
                    model_version=version,
                    latency_ms=latency_ms,
                    heatmap=None if heatmaps is None else heatmaps[row],
                    gradable=None if gradable is None else bool(gradable[row]),
                    reason_code=None if reasons is None else int(reasons[row]),
                )
            )
        return predictions

    # -- conversations with the server, written once for both clients --

    def _info_conversation(self) -> Conversation:
        if not (yield _Call(self.model, "is_model_ready", (self.model,))):
            raise ModelNotReadyError(f"model '{self.model}' is not ready at {self.url}: is it in the served repository?")
        config = yield _Call(self.model, "get_model_config", (self.model,), self._json_kwargs())
        metadata = yield _Call(self.model, "get_model_metadata", (self.model,), self._json_kwargs())
        return self._parse_info(config, metadata.get("versions", []))

    def _health_conversation(self) -> Conversation:
        """Liveness and readiness now, without retries: a monitor wants the state as it is."""
        try:
            live = bool((yield _Call(self.model, "is_server_live", retry=False)))
            ready = bool((yield _Call(self.model, "is_server_ready", retry=False)))
            model_ready = bool((yield _Call(self.model, "is_model_ready", (self.model,), retry=False)))
        except CataractClientError as exc:
            return ServerHealth(reachable=False, live=False, ready=False, model_ready=False, problem=str(exc))
        return ServerHealth(reachable=True, live=live, ready=ready, model_ready=model_ready)

    def _statistics_conversation(self) -> Conversation:
        return (yield _Call(self.model, "get_inference_statistics", (self.model,), self._json_kwargs()))

    def _job_conversation(self, job: _Job, sources: Sequence[ImageSource], info: ModelInfo, heatmap: bool) -> Conversation:
        """One inference request: its Predictions, or its one error for every photo in it."""
        model, inputs, outputs = self._request(job, info, heatmap)
        # The client's deadline goes to the server too (`timeout`, in microseconds): a model
        # whose queue policy allows it refuses the request as busy once it has waited that long
        # (the ensemble gives it to both steps), so nothing is computed for a client that
        # stopped waiting. gRPC also carries it as the call's deadline.
        kwargs = {"outputs": outputs, "timeout": round(self.timeout * 1e6),
                  **({"client_timeout": self.timeout} if self.protocol == "grpc" else {})}
        started = time.perf_counter()
        try:
            result = yield _Call(model, "infer", (model, inputs), kwargs)
            return self._predictions(result, job, sources, info, heatmap, 1000 * (time.perf_counter() - started))
        except InvalidImageError as exc:  # the server's refusal names no file: a bytes request carries one photo
            return InvalidImageError(source_name(sources[job.positions[0]]), exc.reason)
        except CataractClientError as exc:
            return exc

    @staticmethod
    def _advance(conversation: Conversation, outcome: Any) -> tuple[bool, Any]:
        """Give a conversation its last call's outcome (a result, or a CataractClientError
        raised where it waits): (True, its answer) once it has finished, else (False, its
        next call)."""
        try:
            step = conversation.throw(outcome) if isinstance(outcome, CataractClientError) else conversation.send(outcome)
        except StopIteration as done:
            return True, done.value
        return False, step

    def _retry_delays(self) -> Iterable[float]:
        """Seconds to wait before each retry while no server answers."""
        return (self.backoff * 2**attempt for attempt in range(self.retries))

    def _plan(self, sources: Sequence[ImageSource], info: ModelInfo) -> tuple[list[_Job], dict[int, Exception]]:
        errors: dict[int, Exception] = {}
        jobs = self._tensor_jobs(sources, info, errors) if self.transport == "tensor" else self._bytes_jobs(sources, errors)
        return jobs, errors

    @staticmethod
    def _record(answered: dict, job: _Job, outcome: list[Prediction] | CataractClientError) -> None:
        """Put a job's predictions (or its one error) at the inputs' positions."""
        for row, position in enumerate(job.positions):
            answered[position] = outcome if isinstance(outcome, Exception) else outcome[row]

    @staticmethod
    def _ordered(count: int, answered: dict[int, Prediction | Exception]) -> list[Prediction | CataractClientError]:
        return [answered[position] for position in range(count)]

    def _json_kwargs(self) -> dict:
        """tritonclient's gRPC client returns protobufs unless asked for JSON-like dicts."""
        return {"as_json": True} if self.protocol == "grpc" else {}

    def _raise_first(self, results: list) -> Prediction:
        if isinstance(results[0], Exception):
            raise results[0]
        return results[0]



class CataractClient(_ClientCore):
    """Blocking client over tritonclient's gRPC or HTTP client."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # tritonclient's HTTP client must not be shared between threads: one per thread,
        # and a long-lived pool, so the threads (and their connections) stay few.
        self._clients: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def _client(self):
        key = threading.get_ident()
        with self._lock:
            client = self._clients.get(key)
        if client is None:
            if self.protocol == "grpc":
                client = self._api.InferenceServerClient(self.url)
            else:
                client = self._api.InferenceServerClient(self.url, connection_timeout=self.timeout, network_timeout=self.timeout)
            with self._lock:
                self._clients[key] = client
        return client

    def _drop_connection(self) -> None:
        with self._lock:
            client = self._clients.pop(threading.get_ident(), None)
        _close_quietly(client)

    def _call(self, call: _Call):
        """Perform one tritonclient call, retrying with backoff while no server answers
        (never after a timeout or a busy refusal: the request is not sent twice)."""
        delays = iter(self._retry_delays() if call.retry else ())
        while True:
            try:
                return getattr(self._client(), call.method)(*call.args, **call.kwargs)
            except Exception as exc:  # tritonclient, socket and gevent errors
                unavailable = is_unavailable(exc)
                if unavailable or is_timeout(exc):
                    # This thread's own connection (no other call uses it): after a timeout its
                    # late answer must not be read as the next request's; a fresh channel also
                    # skips gRPC's reconnect backoff.
                    self._drop_connection()
                delay = next(delays, None) if unavailable else None
                if delay is None:
                    raise translate(exc, self.url, call.model, self.timeout) from None
                time.sleep(delay)

    def _converse(self, conversation: Conversation):
        """Perform a conversation's calls in turn; return its answer."""
        finished, step = self._advance(conversation, None)
        while not finished:
            try:
                outcome = self._call(step)
            except CataractClientError as exc:
                outcome = exc
            finished, step = self._advance(conversation, outcome)
        return step

    def is_ready(self) -> bool:
        return self.health().model_ready

    def health(self) -> ServerHealth:
        return self._converse(self._health_conversation())

    def info(self, refresh: bool = False) -> ModelInfo:
        if self._info_is_fresh(refresh):
            return self._info
        return self._keep_info(self._converse(self._info_conversation()))

    def predict(self, source: ImageSource, heatmap: bool = False) -> Prediction:
        """One photo -> its Prediction; raises a CataractClientError on any failure."""
        return self._raise_first(self.predict_many([source], heatmap=heatmap))

    def predict_many(self, sources: Iterable[ImageSource], heatmap: bool = False) -> list[Prediction | CataractClientError]:
        """Answers in input order; a photo that fails has its exception in its place, so
        one bad photo never costs the others. Requests run `concurrency` at a time."""
        sources = list(sources)
        info = self.info()
        jobs, answered = self._plan(sources, info)

        def run(job: _Job) -> None:
            self._record(answered, job, self._converse(self._job_conversation(job, sources, info, heatmap)))

        if len(jobs) == 1:
            run(jobs[0])
        elif jobs:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="cataract-client")
            list(self._pool.map(run, jobs))
        return self._ordered(len(sources), answered)

    def server_statistics(self) -> dict[str, Any]:
        """Triton's inference statistics for the classifier (the statistics extension)."""
        return self._converse(self._statistics_conversation())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            _close_quietly(client)

    def __enter__(self) -> "CataractClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@dataclasses.dataclass(eq=False)
class _SharedConnection:
    """One asyncio tritonclient connection and the calls in flight on it: it is closed
    only once it is retired and its last call has ended, so one failure never cuts the
    requests that others have in flight on it."""

    client: Any
    loop: asyncio.AbstractEventLoop
    calls: int = 0
    retired: bool = False


class AsyncCataractClient(_ClientCore):
    """asyncio client over tritonclient's grpc.aio or http.aio client."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._connection: _SharedConnection | None = None

    def _new_client(self):
        if self.protocol == "grpc":
            import tritonclient.grpc.aio as aio

            return aio.InferenceServerClient(self.url)
        import tritonclient.http.aio as aio

        return aio.InferenceServerClient(self.url, conn_timeout=self.timeout)

    def _acquire(self) -> _SharedConnection:
        loop = asyncio.get_running_loop()
        current = self._connection
        # A connection bound to an event loop that is gone (a finished asyncio.run) is dropped.
        if current is None or current.retired or current.loop is not loop:
            self._connection = current = _SharedConnection(self._new_client(), loop)
        current.calls += 1
        return current

    async def _release(self, connection: _SharedConnection) -> None:
        connection.calls -= 1
        if connection.retired and connection.calls == 0:
            await _aclose_quietly(connection.client)

    async def _call(self, call: _Call):
        """Perform one call, retrying with backoff while no server answers (never after a
        timeout or a busy refusal: the request is not sent twice)."""
        delays = iter(self._retry_delays() if call.retry else ())
        while True:
            connection = self._acquire()
            try:
                method = getattr(connection.client, call.method)
                return await asyncio.wait_for(method(*call.args, **call.kwargs), self.timeout)
            except Exception as exc:
                unavailable = is_unavailable(exc)
                if unavailable:
                    connection.retired = True  # later calls get a fresh channel, skipping gRPC's reconnect backoff
                delay = next(delays, None) if unavailable else None
                if delay is None:
                    raise translate(exc, self.url, call.model, self.timeout) from None
            finally:
                await self._release(connection)
            await asyncio.sleep(delay)

    async def _converse(self, conversation: Conversation):
        finished, step = self._advance(conversation, None)
        while not finished:
            try:
                outcome = await self._call(step)
            except CataractClientError as exc:
                outcome = exc
            finished, step = self._advance(conversation, outcome)
        return step

    async def is_ready(self) -> bool:
        return (await self.health()).model_ready

    async def health(self) -> ServerHealth:
        return await self._converse(self._health_conversation())

    async def info(self, refresh: bool = False) -> ModelInfo:
        if self._info_is_fresh(refresh):
            return self._info
        return self._keep_info(await self._converse(self._info_conversation()))

    async def predict(self, source: ImageSource, heatmap: bool = False) -> Prediction:
        return self._raise_first(await self.predict_many([source], heatmap=heatmap))

    async def predict_many(self, sources: Iterable[ImageSource], heatmap: bool = False) -> list[Prediction | CataractClientError]:
        sources = list(sources)
        info = await self.info()
        jobs, answered = await asyncio.to_thread(self._plan, sources, info)  # decoding is CPU work
        limit = asyncio.Semaphore(self.concurrency)

        async def run(job: _Job) -> None:
            async with limit:
                try:
                    outcome = await self._converse(self._job_conversation(job, sources, info, heatmap))
                except asyncio.CancelledError:
                    if asyncio.current_task().cancelling():
                        raise  # predict_many itself is being cancelled
                    # A call cut short under it (a connection closed elsewhere): this job's error, not everyone's.
                    outcome = InferenceError(f"the request to {self.url} was cancelled before it was answered")
                self._record(answered, job, outcome)

        await asyncio.gather(*(run(job) for job in jobs))
        return self._ordered(len(sources), answered)

    async def server_statistics(self) -> dict[str, Any]:
        return await self._converse(self._statistics_conversation())

    async def close(self) -> None:
        """Close the connection now if no call is in flight on it, else when its last one ends."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.retired = True
            if connection.calls == 0 and connection.loop is asyncio.get_running_loop():
                await _aclose_quietly(connection.client)

    async def __aenter__(self) -> "AsyncCataractClient":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()


def _close_quietly(client) -> None:
    """Close a tritonclient connection that may already be broken."""
    if client is not None:
        try:
            client.close()
        except Exception:  # a dead connection can fail to close; it is gone either way
            pass


async def _aclose_quietly(client) -> None:
    try:
        await client.close()
    except Exception:  # as above
        pass


def sources_from_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders into their photos (cataract_contract.image_files); keep files as given."""
    expanded: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            expanded.extend(image_files(path))
        else:
            expanded.append(path)
    return expanded
