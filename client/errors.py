"""What can go wrong talking to the screening service, in words a user can act on.

Every exception the client library raises is a CataractClientError; raw gRPC/HTTP
errors from tritonclient are translated by `translate` so callers never see them.
"""

from __future__ import annotations

import socket

from cataract_contract import INVALID_IMAGE_MARKER, ImageError


class CataractClientError(Exception):
    """Base of every error raised by the client library."""


class ServerUnavailableError(CataractClientError):
    """Nothing answers at the URL (after the configured retries)."""


class ModelNotReadyError(CataractClientError):
    """The server answers but the model is missing or not (yet) ready."""


class InvalidImageError(CataractClientError, ImageError):
    """The photo cannot be used: not an image, truncated, too large, ..."""


class InferenceError(CataractClientError):
    """The server refused or failed the request; the message is the server's reason."""


class RequestTimeoutError(CataractClientError):
    """No answer within the client's timeout."""


_UNAVAILABLE_MARKERS = (
    "StatusCode.UNAVAILABLE", "failed to connect", "Connection refused", "connection refused",
    "Cannot connect", "Connect call failed", "Server disconnected", "Socket closed", "Broken pipe",
)


def is_unavailable(error: BaseException) -> bool:
    """True for errors that mean no server is listening (worth retrying)."""
    if isinstance(error, (ConnectionError, socket.timeout, OSError)) and not isinstance(error, CataractClientError):
        return True
    text = f"{type(error).__name__}: {error}"
    status = getattr(error, "status", lambda: None)()
    return str(status) == "StatusCode.UNAVAILABLE" or any(marker in text for marker in _UNAVAILABLE_MARKERS)


def translate(error: BaseException, url: str, model: str) -> CataractClientError:
    """A tritonclient, socket or aiohttp error as the library's own exception."""
    if isinstance(error, CataractClientError):
        return error
    message = getattr(error, "message", lambda: None)() or str(error) or type(error).__name__
    status = str(getattr(error, "status", lambda: None)() or "")
    if is_unavailable(error):
        return ServerUnavailableError(
            f"no Triton server answers at {url}: start it with `cataract serve` (or check the URL and port)"
        )
    if "DEADLINE_EXCEEDED" in status or "Deadline Exceeded" in message or isinstance(error, TimeoutError):
        return RequestTimeoutError(f"{url} did not answer in time for model {model}: the server may be overloaded")
    if "unknown model" in message.lower() or "is not found" in message.lower() or ("not ready" in message.lower()):
        return ModelNotReadyError(f"model '{model}' is not available at {url}: {message.strip()}")
    if INVALID_IMAGE_MARKER in message:
        return InvalidImageError(message.split(INVALID_IMAGE_MARKER, 1)[1].strip())
    return InferenceError(f"{model} at {url}: {message.strip()}")
