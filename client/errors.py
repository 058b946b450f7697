"""What can go wrong talking to the screening service, in words a user can act on.

Every exception the client library raises is a CataractClientError; raw gRPC/HTTP
errors from tritonclient are translated by `translate` so callers never see them.
"""

from __future__ import annotations

from cataract_contract import INVALID_IMAGE_MARKER, ImageError


class CataractClientError(Exception):
    """Base of every error raised by the client library.

    `retryable` means: the same photo may succeed later; nothing is wrong with it (the
    service was down, busy, not ready or slow). It is the one answer every door gives to
    "retry later or refuse the photo". The client itself resends a request only while no
    server answers (ServerUnavailableError); a user or a door may retry any retryable one.
    `reason` is the one-line why, naming no photo.
    """

    retryable = False

    @property
    def reason(self) -> str:
        return str(self)


class ServerUnavailableError(CataractClientError):
    """Nothing answers at the URL (after the configured retries)."""

    retryable = True


class ModelNotReadyError(CataractClientError):
    """The server answers but the model is missing or not (yet) ready."""

    retryable = True  # a model loads, or is exported again: the photo is not at fault


class InvalidImageError(CataractClientError, ImageError):
    """The photo cannot be used: not an image, truncated, too large, ... `source` names
    the photo (its file name, or "<bytes>"), `reason` says why; the message is both."""

    def __init__(self, source: str, reason: str):
        super().__init__(source, reason)  # both in args, so the error pickles and copies whole

    @property
    def source(self) -> str:
        return self.args[0]

    @property
    def reason(self) -> str:
        return self.args[1]

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


class InferenceError(CataractClientError):
    """The server refused or failed the request; the message is the server's reason."""


class RequestTimeoutError(CataractClientError):
    """No answer within the client's timeout. The request is never sent again: the server
    may still be working on it. Sending the photo again later is the user's choice."""

    retryable = True


class ServerBusyError(CataractClientError):
    """The server refused the request under overload: its queue was full, or the request
    waited in it its longest (the model's queue timeout, or the client's own timeout when
    shorter). Nothing was computed; sending it again later is safe."""

    retryable = True


_UNAVAILABLE_MARKERS = (
    "StatusCode.UNAVAILABLE", "failed to connect", "Connection refused", "connection refused",
    "Cannot connect", "Connect call failed", "Server disconnected", "Socket closed", "Broken pipe",
)
# Triton's refusals under a model's queue policy: the queue is full (max_queue_size), or a
# request waited its longest (default_timeout_microseconds, or the request's own `timeout`
# when shorter: allow_timeout_override; timeout_action REJECT). They
# travel as gRPC UNAVAILABLE / HTTP 503, like a server that is down, so they are recognised first.
_BUSY_MARKERS = ("Exceeds maximum queue size", "Request timeout expired")


def _message(error: BaseException) -> str:
    return getattr(error, "message", lambda: None)() or str(error) or type(error).__name__


def _status(error: BaseException) -> str:
    return str(getattr(error, "status", lambda: None)() or "")


def is_busy(error: BaseException) -> bool:
    return any(marker in _message(error) for marker in _BUSY_MARKERS)


def is_timeout(error: BaseException) -> bool:
    """No answer in time. TimeoutError is an OSError since Python 3.3 (and asyncio's is
    the same class since 3.11): it must be told apart before "server down" is."""
    return isinstance(error, TimeoutError) or "DEADLINE_EXCEEDED" in _status(error) or "Deadline Exceeded" in _message(error)


def is_unavailable(error: BaseException) -> bool:
    """True for errors that mean no server is listening (worth retrying): never for a
    timeout (the server may be working on the request) nor a busy refusal."""
    if isinstance(error, CataractClientError) or is_busy(error) or is_timeout(error):
        return False
    if isinstance(error, (ConnectionError, OSError)):
        return True
    text = f"{type(error).__name__}: {error}"
    return _status(error) == "StatusCode.UNAVAILABLE" or any(marker in text for marker in _UNAVAILABLE_MARKERS)


def translate(error: BaseException, url: str, model: str, timeout: float | None = None) -> CataractClientError:
    """A tritonclient, socket or aiohttp error as the library's own exception."""
    if isinstance(error, CataractClientError):
        return error
    message = _message(error)
    if is_busy(error):
        return ServerBusyError(f"{url} is busy: model {model} refused the request (its queue was full, or the wait too "
                               "long); try again shortly")
    if is_timeout(error):
        within = f" within {timeout:g} s" if timeout else " in time"
        return RequestTimeoutError(f"{url} did not answer model {model}{within}: the server may be overloaded "
                                   "(the request was not sent again)")
    if is_unavailable(error):
        return ServerUnavailableError(
            f"no Triton server answers at {url}: start it with `cataract serve` (or check the URL and port)"
        )
    if "unknown model" in message.lower() or "is not found" in message.lower() or ("not ready" in message.lower()):
        return ModelNotReadyError(f"model '{model}' is not available at {url}: {message.strip()}")
    if INVALID_IMAGE_MARKER in message:
        # The server's refusal names no file: what it decoded were the bytes it was sent.
        return InvalidImageError("<bytes>", message.split(INVALID_IMAGE_MARKER, 1)[1].strip())
    return InferenceError(f"{model} at {url}: {message.strip()}")
