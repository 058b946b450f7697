"""`cataract gateway`: the earlier project's REST contract in front of Triton.

    POST /predict/   multipart `file` -> {"prediction": "Cataract"|"Normal", "confidence": 97.98}
    GET  /health     200 when Triton and the model are ready, else 503 (no login needed)

Front ends and scripts written for the earlier FastAPI app keep working unchanged. Each
photo goes to Triton through the project's asyncio client (the `cataract` ensemble decodes
it on the server, with the same code as training); the answer is the served model's, with
`confidence` the probability of the label given, in percent. Errors keep the earlier
contract's shape ({"detail": "..."}): 400 for a photo that cannot be used, 413 for a file
over the size limit, 503 when Triton is unreachable, busy or not ready, 504 when it does
not answer in time. With --credentials, every photo must come with a login (HTTP Basic)
of one of the file's users, the same users as the dashboard's.

Run: cataract gateway --triton-url 127.0.0.1:8001 [--port 8080] [--credentials FILE]
"""

from __future__ import annotations

import base64
import binascii
import contextlib

# Module-level imports: FastAPI resolves the endpoints' annotations from module globals.
from fastapi import Depends, FastAPI, File, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse

from cataract_contract import MAX_IMAGE_BYTES, too_large_message
from client.errors import CataractClientError, InvalidImageError, RequestTimeoutError
from client.triton_client import DOOR_TUNING, AsyncCataractClient, ClientTuning
from doors.access import Logins

# A multipart body holds the file plus its headers and boundaries.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
READ_CHUNK_BYTES = 1 << 20


def status_for(error: CataractClientError) -> int:
    """The HTTP status of a refusal. Whether the photo may succeed later is the client's
    `retryable`; which code says so is this door's: 503 (504 for no answer in time)."""
    if error.retryable:
        return 504 if isinstance(error, RequestTimeoutError) else 503
    return 400 if isinstance(error, InvalidImageError) else 502


async def read_limited(upload: UploadFile) -> bytes:
    """The upload's bytes, refusing more than MAX_IMAGE_BYTES without reading further."""
    chunks, size = [], 0
    while chunk := await upload.read(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_IMAGE_BYTES:
            raise HTTPException(413, too_large_message())
        chunks.append(chunk)
    if not size:
        raise HTTPException(400, "empty input: no image bytes")
    return b"".join(chunks)


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


def create_app(triton_url: str, protocol: str = "grpc", credentials: Logins | None = None,
               tuning: ClientTuning = DOOR_TUNING) -> FastAPI:
    screener = AsyncCataractClient(triton_url, protocol, transport="bytes", **tuning.as_kwargs())

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await screener.close()

    app = FastAPI(title="cataract screening gateway", lifespan=lifespan)
    def logged_in(request: Request) -> None:
        if credentials is None:
            return
        login = basic_login(request.headers.get("authorization"))
        if login is None or not credentials.check(*login):
            raise HTTPException(401, "log in with a user of the credentials file",
                                headers={"WWW-Authenticate": 'Basic charset="UTF-8"'})

    @app.middleware("http")
    async def refuse_large_bodies(request: Request, call_next):
        """Refuse an announced oversized body before any of it is read."""
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_IMAGE_BYTES + MULTIPART_OVERHEAD_BYTES:
            return JSONResponse({"detail": too_large_message()}, status_code=413)
        return await call_next(request)

    @app.post("/predict/", dependencies=[Depends(logged_in)])
    async def predict(file: UploadFile = File(...)) -> dict:
        data = await read_limited(file)
        try:
            answer = await screener.predict(data)
        except CataractClientError as exc:
            raise HTTPException(status_for(exc), exc.reason) from None
        return {"prediction": answer.label, "confidence": round(answer.confidence, 2)}

    @app.get("/health")
    async def health():
        """Open to probes without credentials: it tells whether screening works, nothing else."""
        state = await screener.health()
        body = {"status": "ok" if state.model_ready else "unavailable", "live": state.live, "ready": state.ready,
                "model_ready": state.model_ready}
        return JSONResponse(body, status_code=200 if state.model_ready else 503)

    return app


def serve(triton_url: str, protocol: str, host: str, port: int, credentials: Logins | None) -> None:
    import uvicorn

    uvicorn.run(create_app(triton_url, protocol, credentials), host=host, port=port, log_level="warning")
