"""`cataract gateway`: the earlier project's REST contract in front of Triton.

    POST /predict/   multipart `file` -> {"prediction": "Cataract"|"Normal", "confidence": 97.98,
                     "gradable": true, "reason": null, "reason_code": 0}, or for a photo the
                     model cannot judge {"prediction": "Ungradable", "confidence": null,
                     "gradable": false, "reason": "too dark to see the lens", "reason_code": 2}
    GET  /health     200 while the gateway runs, with Triton's state: {"status": "ok",
                     "triton": "ready"|"not ready"|"unreachable"} (no login needed)
    GET  /metrics    Prometheus text: photos answered, refused by reason, and not checked

Front ends and scripts written for the earlier FastAPI app keep working unchanged. Each
photo goes to Triton through the project's asyncio client (the `cataract` ensemble decodes
it on the server, with the same code as training); the answer is the served model's, with
`confidence` the probability of the label given, in percent. An ungradable photo is an
answer (HTTP 200), not an error: the served model's gradability decision, as every door
shows it (client `Prediction.gradability_json`); a version exported before the gate
answers "gradable": null with the reason NOT_CHECKED. Errors keep the earlier
contract's shape ({"detail": "..."}): 400 for a photo that cannot be used (with the photo's
reason) or a form that is not one file field `file`, 413 for a file over the size limit,
503 when Triton is unreachable, busy or not ready, or the gateway has its
`max_concurrent` requests in hand already, 504 when Triton does not answer in time. Every
answer carries an `X-Request-ID`, and each refusal names it too ({"detail": ...,
"request_id": ...}): the details a client is not shown (Triton's address, its messages)
are logged under that id, and each screened photo gets one access-log line (user, time,
the photo's SHA-256, the answer, the model version), never the photo.

With --credentials, every photo must come with a login (HTTP Basic) of one of the file's
users, the same users as the dashboard's. The login is checked before any of the body is
read, and the body is then streamed with a hard byte limit whatever its headers say, so an
anonymous or oversized request costs neither memory nor disk. /docs, /redoc and
/openapi.json are served only when the gateway binds loopback. /metrics needs the same
login as /predict/ (Prometheus' `basic_auth` scrape setting): without --credentials the
gateway binds loopback only, and so is /metrics open exactly where /predict/ is.

Run: cataract gateway --triton-url 127.0.0.1:8001 [--port 8080] [--credentials FILE]
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime
import hashlib
import logging
import secrets

# Module-level imports: FastAPI resolves the endpoints' annotations from module globals.
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header
from starlette.exceptions import HTTPException

from cataract_contract import MAX_IMAGE_BYTES, UngradableReason, too_large_message
from client.errors import (
    CataractClientError,
    InvalidImageError,
    ModelNotReadyError,
    RequestTimeoutError,
    ServerBusyError,
)
from client.triton_client import DOOR_TUNING, AsyncCataractClient, ClientTuning, Prediction
from doors.access import REFUSAL_SECONDS, Logins, log_screened
from serving.embedded import is_loopback

log = logging.getLogger(__name__)

# A multipart body holds the file plus its headers and boundaries: the body's hard limit.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = MAX_IMAGE_BYTES + MULTIPART_OVERHEAD_BYTES
# Requests in hand at once; each may hold a photo (20 MiB) and a slow hash, and the pod has 1 GiB.
MAX_CONCURRENT_REQUESTS = 16
PHOTO_FIELD = "file"
ONE_FILE_FIELD = f"send one multipart file field {PHOTO_FIELD!r} and nothing else"
NO_PHOTO = f"field required: {PHOTO_FIELD!r}, a multipart file field"
# What clients are told for each kind of refusal; the error's own text (Triton's address,
# its messages) goes to the log only.
UNAVAILABLE = "the screening server is unavailable: try again later"
NOT_READY = "the screening model is not ready yet: try again later"
BUSY = "the screening server is busy: try again shortly"
TOO_SLOW = "the screening server did not answer in time: try again later"
FAILED = "the screening server could not screen this photo"
GATEWAY_BUSY = "the gateway is busy: try again shortly"
LOGIN_HEADERS = {"WWW-Authenticate": 'Basic charset="UTF-8"'}
# A refusal may leave most of a body unread: closing the connection stops the rest being sent.
CLOSE = {"Connection": "close"}
# /docs shows the form as the earlier app's did, though the endpoint reads the body itself.
PREDICT_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": [PHOTO_FIELD], "properties": {PHOTO_FIELD: {"type": "string", "format": "binary"}}}}}}}


def status_for(error: CataractClientError) -> int:
    """The HTTP status of a refusal. Whether the photo may succeed later is the client's
    `retryable`; which code says so is this door's: 503 (504 for no answer in time)."""
    if error.retryable:
        return 504 if isinstance(error, RequestTimeoutError) else 503
    return 400 if isinstance(error, InvalidImageError) else 502


def client_message(error: CataractClientError) -> str:
    """What an API client is told: a bad photo's own reason, else a short stable text."""
    if isinstance(error, InvalidImageError):
        return error.reason  # about the photo, which the client sent
    if isinstance(error, RequestTimeoutError):
        return TOO_SLOW
    if isinstance(error, ServerBusyError):
        return BUSY
    if isinstance(error, ModelNotReadyError):
        return NOT_READY
    return UNAVAILABLE if error.retryable else FAILED


def basic_login(authorization: str | None) -> tuple[str, str] | None:
    """The user and password of an HTTP Basic `Authorization` header, decoded as UTF-8
    (RFC 7617's charset; FastAPI's HTTPBasic decodes ASCII, which no password with an
    accent passes); None when there is none or it is malformed."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, separator, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if separator else None


class PhotoForm:
    """The one file of a multipart/form-data body, fed chunk by chunk: any other part, a
    second file or a file over MAX_IMAGE_BYTES is refused as soon as it shows."""

    def __init__(self, content_type: str):
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data":
            raise HTTPException(422, NO_PHOTO)  # no file field at all, as the earlier app said
        if not boundary:
            raise HTTPException(400, f"malformed multipart body: {ONE_FILE_FIELD}")
        self.chunks: list[bytes] = []
        self.size = 0
        self.parts = 0
        self.finished = False
        self._header: list[bytes] = []
        self._disposition = b""
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._part_begins, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_ends,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_end": self._ends})

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except MultipartParseError:
            raise HTTPException(400, f"malformed multipart body: {ONE_FILE_FIELD}") from None

    def photo(self) -> bytes:
        if not self.finished:
            raise HTTPException(400, f"incomplete multipart body: {ONE_FILE_FIELD}")
        if not self.parts:
            raise HTTPException(422, NO_PHOTO)
        if not self.size:
            raise HTTPException(400, "empty input: no image bytes")
        return b"".join(self.chunks)

    def _part_begins(self) -> None:
        self.parts += 1
        if self.parts > 1:
            raise HTTPException(400, ONE_FILE_FIELD)
        self._disposition = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header.append(data[start:end])

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        if b"".join(self._header).lower() == b"content-disposition":
            self._disposition += data[start:end]

    def _header_ends(self) -> None:
        self._header = []

    def _headers_finished(self) -> None:
        kind, options = parse_options_header(self._disposition)
        if kind != b"form-data" or options.get(b"name") != PHOTO_FIELD.encode() or b"filename" not in options:
            raise HTTPException(400, ONE_FILE_FIELD)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self.size += end - start
        if self.size > MAX_IMAGE_BYTES:
            raise HTTPException(413, too_large_message())
        self.chunks.append(data[start:end])

    def _ends(self) -> None:
        self.finished = True


async def read_photo(request: Request) -> bytes:
    """The photo of the request's form, read with a hard limit of MAX_BODY_BYTES whatever
    Content-Length says (or whether it is sent at all)."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise HTTPException(413, too_large_message())  # announced: refused before any of it is read
    form = PhotoForm(request.headers.get("content-type", ""))
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > MAX_BODY_BYTES:
            raise HTTPException(413, too_large_message())
        form.feed(chunk)
    return form.photo()


def answer_json(answer: Prediction) -> dict:
    """The earlier contract's answer, with the gradability decision."""
    confidence = None if answer.confidence is None else round(answer.confidence, 2)
    return {"prediction": answer.label, "confidence": confidence, **answer.gradability_json()}


def reason_label(code: int) -> str:
    """A refusal's reason as a Prometheus label value: the contract's name, e.g. too_dark."""
    return UngradableReason(code).name.lower()


class ScreeningMetrics:
    """The gateway's counters on GET /metrics, in a registry of the app's own; beside
    Triton's metrics, they say how often the gate refuses photos, and why."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.screened = Counter("cataract_screened_photos", "Photos answered (graded, ungradable or not checked)",
                                registry=self.registry)
        self.ungradable = Counter("cataract_ungradable_photos", "Photos the served model refused to grade, by reason",
                                  ["reason"], registry=self.registry)
        self.unchecked = Counter("cataract_unchecked_photos",
                                 "Photos answered by a model version exported before the gradability gate",
                                 registry=self.registry)
        for reason in UngradableReason:
            if reason != UngradableReason.GRADABLE:
                self.ungradable.labels(reason_label(reason))  # every reason shown, from 0

    def count(self, answer: Prediction) -> None:
        self.screened.inc()
        if answer.gradable is None:
            self.unchecked.inc()
        elif not answer.gradable:
            self.ungradable.labels(reason_label(answer.reason_code)).inc()

    def exposition(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class RequestIds:
    """ASGI middleware: every request gets an id (`request.state.request_id`), and every
    answer names it in its X-Request-ID header."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(triton_url: str, protocol: str = "grpc", credentials: Logins | None = None,
               tuning: ClientTuning = DOOR_TUNING, max_concurrent: int = MAX_CONCURRENT_REQUESTS,
               docs: bool = True) -> FastAPI:
    """The gateway; `docs`: whether /docs, /redoc and /openapi.json are served (only on
    loopback: they answer without a login)."""
    screener = AsyncCataractClient(triton_url, protocol, transport="bytes", **tuning.as_kwargs())
    in_hand = asyncio.Semaphore(max_concurrent)
    metrics = ScreeningMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await screener.close()

    documentation = {} if docs else dict(docs_url=None, redoc_url=None, openapi_url=None)
    app = FastAPI(title="cataract screening gateway", lifespan=lifespan, **documentation)
    app.add_middleware(RequestIds)

    @app.exception_handler(HTTPException)
    async def refusal(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail, "request_id": request.state.request_id},
                            status_code=exc.status_code, headers={**(exc.headers or {}), **CLOSE})

    def logged_in(request: Request) -> str | None:
        """The user of the request's login (None without credentials); runs in a thread,
        for a first login's slow hash."""
        if credentials is None:
            return None
        client = request.client.host if request.client else None
        refused = credentials.refusal(client)
        if refused:  # a guessing address: told so, and no hash is spent on it
            raise HTTPException(429, refused, headers={"Retry-After": str(REFUSAL_SECONDS)})
        login = basic_login(request.headers.get("authorization"))
        if login is None or not credentials.check(*login, client=client):
            raise HTTPException(401, "log in with a user of the credentials file", headers=LOGIN_HEADERS)
        return login[0]

    @app.post("/predict/", openapi_extra=PREDICT_FORM)
    async def predict(request: Request) -> dict:
        # Beyond the bound, refused at once: waiting would hold the connection and its memory anyway.
        if in_hand.locked():
            raise HTTPException(503, GATEWAY_BUSY)
        async with in_hand:
            user = await asyncio.to_thread(logged_in, request)  # before any of the body is read
            data = await read_photo(request)
            request_id = request.state.request_id
            try:
                answer = await screener.predict(data)
            except CataractClientError as exc:
                log.warning("request %s refused: %s: %s", request_id, type(exc).__name__, exc)
                raise HTTPException(status_for(exc), client_message(exc)) from None
        log_screened(user, hashlib.sha256(data).hexdigest(), answer.label, answer.cataract_probability,
                     answer.model_version, datetime.datetime.now(datetime.timezone.utc), request_id)
        metrics.count(answer)
        return answer_json(answer)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        """The counters, behind the login /predict/ asks for."""
        await asyncio.to_thread(logged_in, request)
        return metrics.exposition()

    last_triton_state = ["ready"]

    @app.get("/health")
    async def health():
        """Open to probes without credentials: the gateway answers, and says whether Triton
        can screen; a Triton down is this door's 503 on /predict/, not its own death."""
        state = await screener.health()
        triton = "ready" if state.model_ready else "not ready" if state.reachable else "unreachable"
        if triton != last_triton_state[0]:  # once per change, not at every probe
            log.warning("Triton at %s is %s. %s", triton_url, triton, state.problem)
            last_triton_state[0] = triton
        return {"status": "ok", "triton": triton}

    return app


def serve(triton_url: str, protocol: str, host: str, port: int, credentials: Logins | None,
          max_concurrent: int = MAX_CONCURRENT_REQUESTS) -> None:
    import uvicorn

    app = create_app(triton_url, protocol, credentials, max_concurrent=max_concurrent, docs=is_loopback(host))
    uvicorn.run(app, host=host, port=port, log_level="warning")
