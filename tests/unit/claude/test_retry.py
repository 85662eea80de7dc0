"""The retry policy: backoff bounds, jitter, retry-after and what counts as transient."""

from __future__ import annotations

import anthropic
import httpx2
import pytest

from kumiai.infrastructure.claude.retry import (
    RETRY_AFTER_CAP_SECONDS,
    RetryPolicy,
    StreamEndedEarlyError,
    describe,
    is_transient,
    retry_after_seconds,
)

REQUEST = httpx2.Request("POST", "http://127.0.0.1/v1/messages")


def status_error(
    status: int, error_type: str = "api_error", headers: dict[str, str] | None = None
) -> anthropic.APIStatusError:
    response = httpx2.Response(status, headers=headers or {}, request=REQUEST)
    body = {"type": "error", "error": {"type": error_type, "message": "scripted"}}
    return anthropic.APIStatusError("scripted", response=response, body=body)


def test_backoff_doubles_with_jitter_up_to_the_maximum() -> None:
    policy = RetryPolicy(max_retries=10, backoff_base=0.5, backoff_max=4.0)

    for retry_number, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (8, 4.0)]:
        delays = [policy.delay(retry_number) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)


def test_retry_after_wins_but_is_capped() -> None:
    policy = RetryPolicy(backoff_base=0.5)

    assert policy.delay(0, retry_after=3.0) == 3.0
    assert policy.delay(0, retry_after=3600) == RETRY_AFTER_CAP_SECONDS
    assert policy.delay(0, retry_after=0) <= 0.5


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(status_error(429, headers=headers)) == expected


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (status_error(429, "rate_limit_error"), True),
        (status_error(529, "overloaded_error"), True),
        (status_error(500), True),
        (status_error(408, "timeout_error"), True),
        (status_error(400, "invalid_request_error"), False),
        (status_error(401, "authentication_error"), False),
        (status_error(404, "not_found_error"), False),
        (status_error(500, headers={"x-should-retry": "false"}), False),
        (status_error(409, headers={"x-should-retry": "true"}), True),
        (status_error(200, "overloaded_error"), True),
        (status_error(200, "invalid_request_error"), False),
        (anthropic.APIConnectionError(request=REQUEST), True),
        (anthropic.APITimeoutError(request=REQUEST), True),
        (httpx2.RemoteProtocolError("peer closed connection"), True),
        (StreamEndedEarlyError("no message_stop"), True),
        (ValueError("not an API failure"), False),
    ],
)
def test_what_counts_as_transient(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_descriptions_name_the_failure() -> None:
    assert describe(status_error(529, "overloaded_error")) == "529 overloaded_error: scripted"
    assert describe(status_error(200, "overloaded_error")) == "in-stream overloaded_error: scripted"
    assert describe(anthropic.APITimeoutError(request=REQUEST)) == "the request timed out"
    assert describe(httpx2.ReadError("reset")).startswith("connection error (ReadError")
