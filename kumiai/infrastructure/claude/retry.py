"""Which Claude API failures are worth retrying, and how long to wait before each retry.

The SDK's own retries are switched off (``max_retries=0``) because they only cover the
request that opens a stream, not a stream that breaks halfway; the runtime runs one
retry loop for both and uses this module to decide.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import anthropic
import httpx2

# A server may ask for a long pause; past this the turn would look frozen, so retry
# sooner and let the next answer decide.
RETRY_AFTER_CAP_SECONDS = 60.0

# Error types the API sends inside an already-open stream (HTTP status 200) for
# conditions that pass on their own.
_TRANSIENT_STREAM_ERROR_TYPES = frozenset(
    {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}
)
_TRANSIENT_STATUSES = frozenset({408, 429})


class StreamEndedEarlyError(Exception):
    """The stream closed cleanly but without ``message_stop``: the reply is incomplete."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter."""

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 8.0

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (0 for the first retry).

        A positive ``retry_after`` from the server wins over the computed backoff.
        """
        if retry_after is not None and retry_after > 0:
            return min(retry_after, RETRY_AFTER_CAP_SECONDS)
        ceiling = min(self.backoff_max, self.backoff_base * 2.0**retry_number)
        # Jitter keeps many sessions that failed together from retrying in lockstep.
        return ceiling * (0.5 + random.random() / 2)


def is_transient(error: Exception) -> bool:
    """Whether ``error`` may go away by itself, so the same request is worth repeating."""
    if isinstance(error, anthropic.APIConnectionError | httpx2.TransportError):
        return True
    if isinstance(error, StreamEndedEarlyError):
        return True
    if isinstance(error, anthropic.APIStatusError):
        return _is_transient_status(error)
    return False


def _is_transient_status(error: anthropic.APIStatusError) -> bool:
    hint = error.response.headers.get("x-should-retry")
    if hint in ("true", "false"):
        return bool(hint == "true")
    if error.status_code == 200:
        # An ``error`` event inside a stream that opened successfully.
        return error.type in _TRANSIENT_STREAM_ERROR_TYPES
    return error.status_code in _TRANSIENT_STATUSES or error.status_code >= 500


def retry_after_seconds(error: Exception) -> float | None:
    """The wait the server asked for (``retry-after-ms`` or ``retry-after``), if any."""
    if not isinstance(error, anthropic.APIStatusError):
        return None
    headers = error.response.headers
    milliseconds = _as_float(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000
    # HTTP also allows a date here; the API sends seconds, so a date is ignored.
    return _as_float(headers.get("retry-after"))


def _as_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def error_type(error: Exception) -> str:
    """A short machine-readable name of a failure, for the ``retry`` event."""
    if isinstance(error, anthropic.APIStatusError):
        return error.type or f"http_{error.status_code}"
    if isinstance(error, StreamEndedEarlyError):
        return "stream_ended"
    if isinstance(error, anthropic.APITimeoutError | httpx2.TimeoutException):
        return "timeout"
    return "connection_error"


def describe(error: Exception) -> str:
    """A one-line, key-free description of an API failure for messages and logs."""
    if isinstance(error, anthropic.APIStatusError):
        message = error.api_message or error.message
        # Status 200 means the error arrived as an event inside an open stream.
        where = "in-stream" if error.status_code == 200 else str(error.status_code)
        return f"{where} {error.type or 'error'}: {message}"
    if isinstance(error, anthropic.APITimeoutError | httpx2.TimeoutException):
        return "the request timed out"
    if isinstance(error, anthropic.APIConnectionError | httpx2.TransportError):
        return f"connection error ({type(error).__name__}: {error})"
    return f"{type(error).__name__}: {error}"
