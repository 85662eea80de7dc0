"""A scripted, Anthropic-compatible HTTP server for tests.

The server listens on 127.0.0.1 (free port) so code under test can use the real
``anthropic`` SDK against it::

    with ScriptedAnthropic() as server:
        server.enqueue(
            Reply.turn(
                [Text("Reading both."), ToolUse("read_file", {"path": "a.py"})],
                stop_reason="tool_use",
            ),
            Reply.text("All done.", chunks=4),
        )
        client = AsyncAnthropic(base_url=server.base_url, api_key="test-key")
        ...
        assert server.requests[1].messages[-1]["role"] == "user"

Besides text and ``tool_use`` blocks, a turn can hold the API's own web tool blocks
(``ServerToolUse``, ``WebSearchResult``, ``WebFetchResult``), streamed as the API does.

Every ``POST /v1/messages`` consumes the next queued reply (FIFO) and answers with
SSE events when the request asked for ``stream: true``, or with one JSON message
otherwise. An empty queue answers with a 500 saying "no scripted reply left" and
``x-should-retry: false``, so a test that under-scripts fails at once instead of
after SDK retries.

``GET /v1/models`` lists ``DEFAULT_MODELS`` unless a test sets its own with
``set_models`` (or an ``ApiError`` to make the list unavailable). Those calls are
counted in ``model_list_requests``, not recorded in ``requests``, so the model lookup
a turn may make does not shift the message requests a test inspects.

``GET /api/oauth/usage`` (Claude Code's plan usage, asked with its OAuth token) answers
``DEFAULT_OAUTH_USAGE`` unless a test sets its own answer, an ``ApiError`` or raw text
with ``set_oauth_usage``; those requests are kept apart in ``oauth_usage_requests``.

Prompt sizes: the server measures a request as the JSON length of its system prompt,
tools and messages over ``chars_per_token`` (cache markers left out).
``POST /v1/messages/count_tokens`` answers that size (or 404 while
``count_tokens_available`` is false), and with ``max_prompt_tokens`` set, a larger
``POST /v1/messages`` is refused with the API's 400 "prompt is too long" error without
consuming a reply. With ``usage_reports_prompt`` set, a reply's usage reports that size
as its ``input_tokens``, as the API does.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

StopReason = Literal[
    "end_turn",
    "tool_use",
    "max_tokens",
    "stop_sequence",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
]

# Streams open with message_start, ping, content_block_start, then the first delta:
# breaking after this many events leaves the client holding exactly one delta.
FIRST_DELTA_EVENTS = 4

_DEFAULT_MODEL = "claude-scripted"
_ids = itertools.count(1)

# Benchmarks measure how late each delta arrives: every STAMP in a chunk is replaced,
# as the chunk is written, by the wall-clock time (``time.time()``, same width).
STAMP_WIDTH = 17
STAMP = "#" * STAMP_WIDTH
_STAMP_BYTES = STAMP.encode()


def _next_id(prefix: str) -> str:
    """Return a unique, recognisable id such as ``toolu_scripted_000007``."""
    return f"{prefix}_scripted_{next(_ids):06d}"


def _split(text: str, parts: int) -> list[str]:
    """Split ``text`` into at most ``parts`` non-empty, roughly equal pieces."""
    if not text:
        return []
    size = math.ceil(len(text) / max(parts, 1))
    return [text[start : start + size] for start in range(0, len(text), size)]


# --------------------------------------------------------------------------- script DSL


@dataclass(frozen=True)
class Text:
    """A text content block, streamed as ``chunks`` ``text_delta`` events."""

    text: str
    chunks: int = 3

    @classmethod
    def stamped(cls, deltas: int) -> Text:
        """``deltas`` deltas, each one STAMP: it arrives saying when it was sent."""
        return cls(STAMP * deltas, chunks=deltas)

    def content(self) -> dict[str, Any]:
        """The block as it appears in a complete message."""
        return {"type": "text", "text": self.text}

    def opening(self) -> dict[str, Any]:
        """The empty block sent in ``content_block_start``."""
        return {"type": "text", "text": ""}

    def deltas(self) -> list[dict[str, Any]]:
        """The ``delta`` payloads that rebuild the block on the client."""
        return [{"type": "text_delta", "text": piece} for piece in _split(self.text, self.chunks)]


@dataclass(frozen=True)
class ToolUse:
    """A ``tool_use`` block whose input JSON is streamed in ``chunks`` partials."""

    name: str
    input: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: _next_id("toolu"))
    chunks: int = 3

    def content(self) -> dict[str, Any]:
        """The block as it appears in a complete message."""
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input}

    def opening(self) -> dict[str, Any]:
        """The block sent in ``content_block_start``; the API always opens with empty input."""
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": {}}

    def deltas(self) -> list[dict[str, Any]]:
        """The ``input_json_delta`` payloads; each is a fragment, not valid JSON alone."""
        pieces = _split(json.dumps(self.input), self.chunks)
        return [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]


@dataclass(frozen=True)
class ServerToolUse:
    """A ``server_tool_use`` block: the API itself runs ``web_search`` or ``web_fetch``."""

    name: str
    input: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: _next_id("srvtoolu"))
    chunks: int = 2

    def content(self) -> dict[str, Any]:
        return {"type": "server_tool_use", "id": self.id, "name": self.name, "input": self.input}

    def opening(self) -> dict[str, Any]:
        return {"type": "server_tool_use", "id": self.id, "name": self.name, "input": {}}

    def deltas(self) -> list[dict[str, Any]]:
        pieces = _split(json.dumps(self.input), self.chunks)
        return [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]


@dataclass(frozen=True)
class WebSearchResult:
    """A ``web_search_tool_result`` block: ``(title, url)`` results, or an error code.

    Like every result block of the API it arrives whole in ``content_block_start``.
    """

    tool_use_id: str
    results: tuple[tuple[str, str], ...] = ()
    error_code: str | None = None

    def content(self) -> dict[str, Any]:
        if self.error_code is not None:
            found: Any = {"type": "web_search_tool_result_error", "error_code": self.error_code}
        else:
            found = [
                {
                    "type": "web_search_result",
                    "title": title,
                    "url": url,
                    "encrypted_content": f"scripted-encrypted-{index}",
                    "page_age": None,
                }
                for index, (title, url) in enumerate(self.results)
            ]
        return {"type": "web_search_tool_result", "tool_use_id": self.tool_use_id, "content": found}

    def opening(self) -> dict[str, Any]:
        return self.content()

    def deltas(self) -> list[dict[str, Any]]:
        return []


@dataclass(frozen=True)
class WebFetchResult:
    """A ``web_fetch_tool_result`` block: a fetched text document, or an error code."""

    tool_use_id: str
    url: str = ""
    text: str = ""
    title: str | None = None
    error_code: str | None = None

    def content(self) -> dict[str, Any]:
        if self.error_code is not None:
            fetched: dict[str, Any] = {
                "type": "web_fetch_tool_result_error",
                "error_code": self.error_code,
            }
        else:
            fetched = {
                "type": "web_fetch_result",
                "url": self.url,
                "retrieved_at": "2026-01-01T00:00:00Z",
                "content": {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": self.text},
                    "title": self.title,
                },
            }
        return {
            "type": "web_fetch_tool_result",
            "tool_use_id": self.tool_use_id,
            "content": fetched,
        }

    def opening(self) -> dict[str, Any]:
        return self.content()

    def deltas(self) -> list[dict[str, Any]]:
        return []


Block = Text | ToolUse | ServerToolUse | WebSearchResult | WebFetchResult


@dataclass(frozen=True)
class Usage:
    """Token counts reported for a turn."""

    input_tokens: int = 25
    output_tokens: int = 10
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


@dataclass(frozen=True)
class Interruption:
    """Where a reply stops early: after ``after_events`` body chunks, the connection is
    held open for ``hold_seconds`` (ended sooner by a client disconnect or server stop)
    and then dropped without finishing the response.

    The break is clamped so the last chunk (``message_stop``, or the end of a JSON
    body) is never sent: an interrupted reply always fails on the client.
    """

    after_events: int
    hold_seconds: float = 0.0


@dataclass(frozen=True)
class Turn:
    """A successful assistant turn, plus how it is delivered on the wire."""

    blocks: tuple[Block, ...]
    stop_reason: StopReason = "end_turn"
    stop_sequence: str | None = None
    usage: Usage = Usage()
    initial_delay: float = 0.0
    delay_per_event: float = 0.0
    interruption: Interruption | None = None
    stream_error: tuple[int, ApiError] | None = None
    """After that many SSE events, an ``error`` event (an HTTP 200 response that fails
    inside the stream, as the API reports an overload mid-reply), and the end."""

    def slow(self, delay_per_event: float, initial_delay: float = 0.0) -> Turn:
        """Wait ``initial_delay`` before the headers and ``delay_per_event`` between chunks."""
        return replace(self, delay_per_event=delay_per_event, initial_delay=initial_delay)

    def cut(self, after_events: int = FIRST_DELTA_EVENTS) -> Turn:
        """Drop the connection after ``after_events`` SSE events (mid-body for JSON)."""
        return replace(self, interruption=Interruption(after_events))

    def fails_midway(
        self, after_events: int = FIRST_DELTA_EVENTS, status: int = 529, message: str = ""
    ) -> Turn:
        """Send ``after_events`` events, then the API's in-stream ``error`` event for
        ``status`` (529: ``overloaded_error``) and end the response."""
        error = Reply.error(status, message=message or None)
        return replace(self, stream_error=(after_events, error))

    def hang(self, after_events: int = FIRST_DELTA_EVENTS, timeout: float = 30.0) -> Turn:
        """Stop after ``after_events`` events and wait for the client to give up."""
        return replace(self, interruption=Interruption(after_events, hold_seconds=timeout))

    def with_usage(self, input_tokens: int, output_tokens: int, **cache_tokens: int) -> Turn:
        """Report these token counts (cache counts as ``cache_*_input_tokens`` keywords)."""
        return replace(self, usage=Usage(input_tokens, output_tokens, **cache_tokens))


@dataclass(frozen=True)
class ApiError:
    """An HTTP error answered with the Anthropic error body.

    ``retry_after`` (seconds) is sent as ``retry-after-ms`` and ``retry-after``; the
    SDK ignores values <= 0 and falls back to its 0.5 s+ backoff, hence the 1 ms
    default. ``None`` sends neither header. ``should_retry`` sets ``x-should-retry``,
    which overrides the SDK's status-based retry decision.
    """

    status: int
    type: str
    message: str
    retry_after: float | None = 0.001
    should_retry: bool | None = None

    def body(self) -> dict[str, Any]:
        """The JSON error body the SDK turns into an ``APIStatusError``."""
        return {"type": "error", "error": {"type": self.type, "message": self.message}}

    def headers(self) -> dict[str, str]:
        """Retry hints for the SDK's retry loop."""
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            headers["retry-after-ms"] = str(max(0, round(self.retry_after * 1000)))
            headers["retry-after"] = str(math.ceil(self.retry_after))
        if self.should_retry is not None:
            headers["x-should-retry"] = "true" if self.should_retry else "false"
        return headers


ScriptedReply = Turn | ApiError

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class Reply:
    """Builders for scripted replies."""

    @staticmethod
    def text(
        text: str,
        chunks: int = 3,
        *,
        stop_reason: StopReason = "end_turn",
        stop_sequence: str | None = None,
        usage: Usage = Usage(),
    ) -> Turn:
        """A single text block split into ``chunks`` deltas."""
        return Turn((Text(text, chunks),), stop_reason, stop_sequence, usage)

    @staticmethod
    def tool_use(
        name: str,
        input: dict[str, Any],
        id: str | None = None,
        *,
        chunks: int = 3,
        usage: Usage = Usage(),
    ) -> Turn:
        """A single tool call, ending the turn with ``stop_reason="tool_use"``."""
        block = (
            ToolUse(name, input, chunks=chunks) if id is None else ToolUse(name, input, id, chunks)
        )
        return Turn((block,), "tool_use", usage=usage)

    @staticmethod
    def turn(
        blocks: Sequence[Block],
        stop_reason: StopReason = "end_turn",
        *,
        stop_sequence: str | None = None,
        usage: Usage = Usage(),
    ) -> Turn:
        """Any mix of blocks, e.g. text followed by parallel tool calls."""
        return Turn(tuple(blocks), stop_reason, stop_sequence, usage)

    @staticmethod
    def error(
        status: int,
        type: str | None = None,
        message: str | None = None,
        *,
        retry_after: float | None = 0.001,
        should_retry: bool | None = None,
    ) -> ApiError:
        """An HTTP error; ``type`` defaults to the API's usual type for ``status``."""
        error_type = type or _ERROR_TYPES.get(status, "api_error")
        text = message or f"Scripted {error_type} ({status})"
        return ApiError(status, error_type, text, retry_after, should_retry)

    @staticmethod
    def hang(text: str = "Thinking", timeout: float = 30.0) -> Turn:
        """Stream the first text delta, then wait until the client disconnects."""
        return Reply.text(text, chunks=3).hang(timeout=timeout)


# --------------------------------------------------------------------------- model list


@dataclass(frozen=True)
class ScriptedModel:
    """One entry of ``GET /v1/models``; ``created_at`` is an RFC 3339 date."""

    id: str
    created_at: str
    line: str | None = None
    lifecycle: Literal["active", "deprecated", "retired"] = "active"

    def info(self) -> dict[str, Any]:
        return {
            "type": "model",
            "id": self.id,
            "display_name": self.id,
            "created_at": self.created_at,
            "line": self.line,
            "lifecycle": self.lifecycle,
        }


DEFAULT_MODELS = (
    ScriptedModel("claude-haiku-4-5-20251001", "2025-10-01T00:00:00Z", "haiku"),
    ScriptedModel("claude-opus-4-6", "2026-02-05T00:00:00Z", "opus"),
    ScriptedModel("claude-sonnet-4-6", "2026-02-17T00:00:00Z", "sonnet"),
)


# Claude Code's plan usage as the API reports it: percentages, with the window's reset.
DEFAULT_OAUTH_USAGE: dict[str, Any] = {
    "five_hour": {"utilization": 37.0, "resets_at": "2026-03-09T15:00:00+00:00"},
    "seven_day": {"utilization": 62.5, "resets_at": "2026-03-12T08:00:00+00:00"},
    "seven_day_sonnet": {"utilization": 12.0, "resets_at": "2026-03-12T08:00:00+00:00"},
    "seven_day_opus": None,
}

OAuthUsage = dict[str, Any] | ApiError | str


def _model_page(models: Sequence[ScriptedModel], request: Request) -> dict[str, Any]:
    """One page of the list, newest first, paged by ``limit`` and ``after_id`` as the API."""
    ordered = sorted(models, key=lambda model: model.created_at, reverse=True)
    after = request.query_params.get("after_id")
    if after is not None:
        ids = [model.id for model in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    limit = int(request.query_params.get("limit", "20"))
    page = ordered[:limit]
    return {
        "data": [model.info() for model in page],
        "has_more": len(ordered) > limit,
        "first_id": page[0].id if page else None,
        "last_id": page[-1].id if page else None,
    }


# --------------------------------------------------------------------------- recording


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (header names lower-cased)."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def model(self) -> str | None:
        """The requested model."""
        return self.body.get("model")

    @property
    def system(self) -> Any:
        """The system prompt: a string or a list of text blocks."""
        return self.body.get("system")

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation history as sent."""
        messages: list[dict[str, Any]] = self.body.get("messages", [])
        return messages

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tool definitions as sent."""
        tools: list[dict[str, Any]] = self.body.get("tools", [])
        return tools


def conversation_read(request_messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What the model read, as (role, text) pairs: the API runtime sends the history as
    messages; Claude Code, starting afresh, as a transcript inside the first prompt."""
    pairs = [
        (message["role"], block["text"])
        for message in request_messages
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "text"
    ]
    if "<conversation_transcript>" not in pairs[-1][1]:
        return [(role, text.strip()) for role, text in pairs]
    text = pairs[-1][1]
    transcript, newest = text.split("<conversation_transcript>\n", 1)[1].split(
        "\n</conversation_transcript>\n\n"
    )
    lines = []
    for entry in transcript.split("\n\n["):
        role, _, said = entry.lstrip("[").partition("]\n")
        lines.append((role, said.strip()))
    return [*lines, ("user", newest.strip())]


# --------------------------------------------------------------------------- wire format


def _sse(event: str, data: dict[str, Any]) -> bytes:
    """Encode one server-sent event the way the API does."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _message(turn: Turn, message_id: str, model: str) -> dict[str, Any]:
    """The complete message object for ``turn``."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [block.content() for block in turn.blocks],
        "stop_reason": turn.stop_reason,
        "stop_sequence": turn.stop_sequence,
        "usage": asdict(turn.usage),
    }


def _block_events(index: int, block: Block) -> list[bytes]:
    """start, deltas and stop events for one content block."""
    start = {"type": "content_block_start", "index": index, "content_block": block.opening()}
    deltas = [
        _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        for delta in block.deltas()
    ]
    stop = {"type": "content_block_stop", "index": index}
    return [_sse("content_block_start", start), *deltas, _sse("content_block_stop", stop)]


def _stream_events(turn: Turn, message_id: str, model: str) -> list[bytes]:
    """The full SSE event sequence for ``turn``, one entry per event."""
    # Like the API, message_start carries no content yet and a provisional output count;
    # message_delta then reports the stop reason and the cumulative output tokens.
    opening = _message(turn, message_id, model) | {
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": asdict(turn.usage) | {"output_tokens": 1},
    }
    closing = {
        "type": "message_delta",
        "delta": {"stop_reason": turn.stop_reason, "stop_sequence": turn.stop_sequence},
        "usage": {"output_tokens": turn.usage.output_tokens},
    }
    events = [
        _sse("message_start", {"type": "message_start", "message": opening}),
        _sse("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(turn.blocks):
        events.extend(_block_events(index, block))
    events.append(_sse("message_delta", closing))
    events.append(_sse("message_stop", {"type": "message_stop"}))
    return events


# --------------------------------------------------------------------------- playback

# uvicorn can only be made to drop a connection mid-response by the app returning with
# the response unfinished, which it logs as an error. This flag lives in the request's
# own task, so only deliberate cuts are silenced and genuine errors still show.
_cutting_on_purpose: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "scripted_anthropic_cut", default=False
)


class _SilenceDeliberateCuts(logging.Filter):
    """Drop uvicorn's "unfinished response" error when a script asked for the cut."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _cutting_on_purpose.get()


_CUT_FILTER = _SilenceDeliberateCuts()


async def _pause(abort: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``abort`` fires first; return True when aborted."""
    if abort.is_set():
        return True
    if seconds <= 0:
        return False
    try:
        await asyncio.wait_for(abort.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def _until_disconnect(receive: Receive) -> None:
    """Return once the client has gone (the request body is already consumed)."""
    while (await receive())["type"] != "http.disconnect":
        continue


async def _abort_on_disconnect_or_stop(
    receive: Receive, stopping: asyncio.Event, abort: asyncio.Event
) -> None:
    """Set ``abort`` when the client disconnects or the server is stopping."""
    waiters = {
        asyncio.create_task(_until_disconnect(receive)),
        asyncio.create_task(stopping.wait()),
    }
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    abort.set()


@dataclass(frozen=True)
class _Playback:
    """An ASGI response sending pre-rendered chunks on a script's schedule."""

    status: int
    headers: list[tuple[bytes, bytes]]
    chunks: list[bytes]
    stopping: asyncio.Event
    initial_delay: float = 0.0
    delay_per_event: float = 0.0
    interruption: Interruption | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        abort = asyncio.Event()
        watcher = asyncio.create_task(_abort_on_disconnect_or_stop(receive, self.stopping, abort))
        try:
            finished = await self._play(send, abort)
        finally:
            watcher.cancel()
        if not finished:
            _cutting_on_purpose.set(True)

    def _chunks_to_send(self) -> list[bytes]:
        """All chunks, or those before the break; the last chunk is never sent on a break."""
        if self.interruption is None:
            return self.chunks
        return self.chunks[: min(self.interruption.after_events, len(self.chunks) - 1)]

    async def _play(self, send: Send, abort: asyncio.Event) -> bool:
        """Send the response; return False when it was left unfinished."""
        if await _pause(abort, self.initial_delay):
            return False
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        for index, chunk in enumerate(self._chunks_to_send()):
            if index and await _pause(abort, self.delay_per_event):
                return False
            await send({"type": "http.response.body", "body": _stamped(chunk), "more_body": True})
        if self.interruption is not None:
            await _pause(abort, self.interruption.hold_seconds)
            return False
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return True


def _stamped(chunk: bytes) -> bytes:
    """The chunk with every STAMP replaced by the time now."""
    if _STAMP_BYTES not in chunk:
        return chunk
    return chunk.replace(_STAMP_BYTES, f"{time.time():0{STAMP_WIDTH}.6f}".encode())


def _encode_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """ASGI wants raw header pairs."""
    return [(name.encode(), value.encode()) for name, value in headers.items()]


# --------------------------------------------------------------------------- server


@dataclass
class _Running:
    """What exists only while the server runs."""

    server: uvicorn.Server
    stopping: asyncio.Event
    thread: threading.Thread = field(init=False)
    loop: asyncio.AbstractEventLoop | None = None


class ScriptedAnthropic:
    """Anthropic Messages API stand-in serving queued replies from a background thread.

    All public methods are thread-safe: tests enqueue and inspect from their own thread
    (or event loop) while the server runs its own event loop.
    """

    def __init__(self, *, startup_timeout: float = 5.0) -> None:
        self._startup_timeout = startup_timeout
        self._lifecycle = threading.Lock()
        self._state = threading.Condition()  # guards the queue and the recordings
        self._replies: deque[ScriptedReply] = deque()
        # Replies reserved for requests whose system prompt contains a marker, so
        # concurrent agents (a PM and its specialists) each get their own script.
        self._routed: dict[str, deque[ScriptedReply]] = {}
        self._requests: list[RecordedRequest] = []
        self._models: Sequence[ScriptedModel] | ApiError = DEFAULT_MODELS
        self._model_list_requests = 0
        self._oauth_usage: OAuthUsage = DEFAULT_OAUTH_USAGE
        self._oauth_usage_requests: list[RecordedRequest] = []
        self._running: _Running | None = None
        self._port: int | None = None
        self.max_prompt_tokens: int | None = None
        self.chars_per_token = 4
        self.count_tokens_available = True
        self.usage_reports_prompt = False

    # lifecycle -------------------------------------------------------------

    def start(self) -> Self:
        """Start serving on a free loopback port; return once it accepts connections."""
        with self._lifecycle:
            if self._running is not None:
                return self
            logging.getLogger("uvicorn.error").addFilter(_CUT_FILTER)
            stopping = asyncio.Event()
            config = uvicorn.Config(
                self._build_app(stopping),
                host="127.0.0.1",
                port=0,
                lifespan="off",
                log_level="warning",
                # Keep uvicorn from reconfiguring the test process's logging.
                log_config=None,
            )
            running = _Running(uvicorn.Server(config), stopping)
            running.thread = threading.Thread(
                target=asyncio.run,
                args=(self._serve(running),),
                name="scripted-anthropic",
                daemon=True,
            )
            running.thread.start()
            self._port = self._wait_until_listening(running)
            self._running = running
        return self

    def stop(self) -> None:
        """Stop the server, releasing hung or slow replies; queue and recordings stay."""
        with self._lifecycle:
            running, self._running, self._port = self._running, None, None
            if running is None:
                return
            running.server.should_exit = True
            if running.loop is not None and running.thread.is_alive():
                running.loop.call_soon_threadsafe(running.stopping.set)
            running.thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, for ``AsyncAnthropic(base_url=...)``."""
        if self._port is None:
            raise RuntimeError("ScriptedAnthropic is not started; call start() first")
        return f"http://127.0.0.1:{self._port}"

    async def _serve(self, running: _Running) -> None:
        """Runs in the server thread: remember the loop so stop() can reach it, then serve."""
        running.loop = asyncio.get_running_loop()
        await running.server.serve()

    def _wait_until_listening(self, running: _Running) -> int:
        """Block until uvicorn listens and return its port."""
        deadline = time.monotonic() + self._startup_timeout
        while not running.server.started:
            if not running.thread.is_alive():
                raise RuntimeError("ScriptedAnthropic server thread died during startup")
            if time.monotonic() > deadline:
                running.server.should_exit = True
                raise TimeoutError("ScriptedAnthropic server did not start in time")
            time.sleep(0.005)
        return int(running.server.servers[0].sockets[0].getsockname()[1])

    # script and recordings --------------------------------------------------

    def enqueue(self, *replies: ScriptedReply, when_system_contains: str | None = None) -> None:
        """Queue replies; each ``POST /v1/messages`` consumes the next one.

        With ``when_system_contains``, the replies only serve requests whose system
        prompt contains that text; such routed replies win over the shared queue.
        """
        with self._state:
            if when_system_contains is None:
                self._replies.extend(replies)
            else:
                self._routed.setdefault(when_system_contains, deque()).extend(replies)

    @property
    def pending(self) -> int:
        """How many queued replies have not been consumed yet."""
        with self._state:
            return len(self._replies) + sum(len(queue) for queue in self._routed.values())

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._state:
            return list(self._requests)

    def reset(self) -> None:
        """Forget queued replies, recorded requests and a test's own model list."""
        with self._state:
            self._replies.clear()
            self._routed.clear()
            self._requests.clear()
            self._models = DEFAULT_MODELS
            self._model_list_requests = 0
            self._oauth_usage = DEFAULT_OAUTH_USAGE
            self._oauth_usage_requests.clear()
            self.max_prompt_tokens = None
            self.chars_per_token = 4
            self.count_tokens_available = True
            self.usage_reports_prompt = False

    def set_models(self, models: Sequence[ScriptedModel] | ApiError) -> None:
        """Serve these models on ``GET /v1/models``, or answer it with this error."""
        with self._state:
            self._models = models if isinstance(models, ApiError) else tuple(models)

    def set_oauth_usage(self, answer: OAuthUsage) -> None:
        """Answer ``GET /api/oauth/usage`` with this JSON, this error, or this raw text."""
        with self._state:
            self._oauth_usage = answer

    @property
    def oauth_usage_requests(self) -> list[RecordedRequest]:
        """Every ``GET /api/oauth/usage`` received so far."""
        with self._state:
            return list(self._oauth_usage_requests)

    @property
    def model_list_requests(self) -> int:
        """How many ``GET /v1/models`` pages were asked for."""
        with self._state:
            return self._model_list_requests

    def prompt_tokens(self, body: dict[str, Any]) -> int:
        """The size of a request as this server measures it (see the module docstring)."""
        read = {key: body.get(key) for key in ("system", "tools", "messages")}
        return max(1, len(json.dumps(_without_cache_markers(read))) // self.chars_per_token)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``count`` requests arrived; raise TimeoutError otherwise.

        Blocks the calling thread: from async tests use ``wait_for_requests_async``.
        """
        with self._state:
            if not self._state.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(
                    f"expected {count} request(s) within {timeout}s, got {len(self._requests)}"
                )
            return list(self._requests)

    async def wait_for_requests_async(
        self,
        count: int,
        # Bounded like wait_for_requests, so a request that never comes fails the test
        # instead of hanging it.
        timeout: float = 5.0,
    ) -> list[RecordedRequest]:
        """``wait_for_requests`` without blocking the caller's event loop."""
        return await asyncio.to_thread(self.wait_for_requests, count, timeout)

    def _routing_text(self, recorded: RecordedRequest) -> str:
        """What ``when_system_contains`` markers are looked for in: the system prompt."""
        return json.dumps(recorded.system)

    def _take_reply(self, recorded: RecordedRequest) -> ScriptedReply | None:
        system = self._routing_text(recorded)
        with self._state:
            for marker, queue in self._routed.items():
                if queue and marker in system:
                    return queue.popleft()
            return self._replies.popleft() if self._replies else None

    async def _record(self, request: Request) -> RecordedRequest:
        raw = await request.body()
        recorded = RecordedRequest(
            path=request.url.path,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=json.loads(raw) if raw else {},
        )
        with self._state:
            self._requests.append(recorded)
            self._state.notify_all()
        return recorded

    # HTTP -------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        """The provider API this server speaks; any other path answers 404."""
        return [
            Route("/v1/messages", self._messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
            Route("/v1/models", self._list_models, methods=["GET"]),
            Route("/api/oauth/usage", self._oauth_usage_answer, methods=["GET"]),
        ]

    def _build_app(self, stopping: asyncio.Event) -> Starlette:
        every_method = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        app = Starlette(
            routes=[
                *self._routes(),
                Route("/{path:path}", self._unknown_path, methods=every_method),
            ]
        )
        # Kept on the app rather than read from self, which stop() clears while
        # requests may still be in flight.
        app.state.stopping = stopping
        return app

    async def _messages(self, request: Request) -> _Playback | JSONResponse:
        recorded = await self._record(request)
        limit, size = self.max_prompt_tokens, self.prompt_tokens(recorded.body)
        if limit is not None and size > limit:
            return _error_response(_prompt_too_long(size, limit))
        reply = self._take_reply(recorded)
        if reply is None:
            return _error_response(_no_reply_left(len(self.requests)))
        if isinstance(reply, ApiError):
            return _error_response(reply)
        if self.usage_reports_prompt:
            reply = replace(reply, usage=replace(reply.usage, input_tokens=size))
        return _playback(reply, recorded, request.app.state.stopping)

    async def _count_tokens(self, request: Request) -> JSONResponse:
        if not self.count_tokens_available:
            return await self._unknown_path(request)
        recorded = await self._record(request)
        size = self.prompt_tokens(recorded.body)
        return JSONResponse({"input_tokens": size}, headers={"request-id": _next_id("req")})

    async def _list_models(self, request: Request) -> JSONResponse:
        with self._state:
            self._model_list_requests += 1
            models = self._models
        if isinstance(models, ApiError):
            return _error_response(models)
        return JSONResponse(_model_page(models, request), headers={"request-id": _next_id("req")})

    async def _oauth_usage_answer(self, request: Request) -> Response:
        recorded = RecordedRequest(
            path=request.url.path,
            headers={name.lower(): value for name, value in request.headers.items()},
            body={},
        )
        with self._state:
            self._oauth_usage_requests.append(recorded)
            answer = self._oauth_usage
        if isinstance(answer, ApiError):
            return _error_response(answer)
        if isinstance(answer, str):
            return Response(answer, media_type="application/json")
        return JSONResponse(answer, headers={"request-id": _next_id("req")})

    async def _unknown_path(self, request: Request) -> JSONResponse:
        await self._record(request)
        message = f"ScriptedAnthropic does not implement {request.method} {request.url.path}"
        return _error_response(ApiError(404, "not_found_error", message, should_retry=False))


def _playback(turn: Turn, recorded: RecordedRequest, stopping: asyncio.Event) -> _Playback:
    """Render ``turn`` as SSE or as one JSON message, as the request asked."""
    message_id, model = _next_id("msg"), recorded.model or _DEFAULT_MODEL
    if recorded.body.get("stream"):
        headers = {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
        }
        chunks = _stream_events(turn, message_id, model)
        if turn.stream_error is not None:
            after_events, error = turn.stream_error
            chunks = [*chunks[:after_events], _sse("error", error.body())]
    else:
        body = json.dumps(_message(turn, message_id, model)).encode()
        headers = {"content-type": "application/json", "content-length": str(len(body))}
        # Two halves, so an interrupted JSON reply can stop in the middle of the body.
        chunks = [body[: len(body) // 2], body[len(body) // 2 :]]
    return turn_playback(turn, headers | {"request-id": _next_id("req")}, chunks, stopping)


def turn_playback(
    turn: Turn, headers: dict[str, str], chunks: list[bytes], stopping: asyncio.Event
) -> _Playback:
    """A 200 response sending ``chunks`` on ``turn``'s schedule (delays, cut or hang)."""
    return _Playback(
        status=200,
        headers=_encode_headers(headers),
        chunks=chunks,
        stopping=stopping,
        initial_delay=turn.initial_delay,
        delay_per_event=turn.delay_per_event,
        interruption=turn.interruption,
    )


def _without_cache_markers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_cache_markers(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_without_cache_markers(item) for item in value]
    return value


def _prompt_too_long(size: int, limit: int) -> ApiError:
    """The API's answer to a request larger than the context window."""
    message = f"prompt is too long: {size} tokens > {limit} maximum"
    return ApiError(400, "invalid_request_error", message, retry_after=None)


def _no_reply_left(request_number: int) -> ApiError:
    """The loud failure for a request the test did not script."""
    message = (
        f"ScriptedAnthropic: no scripted reply left for request #{request_number}; "
        "enqueue one reply per expected POST /v1/messages"
    )
    return ApiError(500, "api_error", message, retry_after=None, should_retry=False)


def _error_response(error: ApiError) -> JSONResponse:
    headers = error.headers() | {"request-id": _next_id("req")}
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def scripted_anthropic_server() -> Iterator[ScriptedAnthropic]:
    """Yield a running server and stop it afterwards; meant for a conftest fixture::

        @pytest.fixture(scope="session")
        def anthropic_server() -> Iterator[ScriptedAnthropic]:
            yield from scripted_anthropic_server()

    Call ``server.reset()`` between tests when sharing one server.
    """
    with ScriptedAnthropic() as server:
        yield server
