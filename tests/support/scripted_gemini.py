"""A scripted Gemini API server for tests, as the Gemini CLI speaks it.

It plays the same scripts as :mod:`tests.support.scripted_anthropic` and keeps its queue,
routing and recordings; only the wire differs::

    with ScriptedGemini() as server:
        server.enqueue(Reply.tool_use("write_file", {"file_path": "a.txt", "content": "x"}))
        ...  # gemini with GOOGLE_GEMINI_BASE_URL=server.base_url

``POST /v1beta/models/<model>:streamGenerateContent`` consumes the next reply and streams
it as server-sent ``GenerateContentResponse`` chunks: one per text delta, one per tool
call (a ``functionCall`` part), and a last one with the finish reason and usage.
``:generateContent`` answers the whole reply as one response, and ``:countTokens`` a size.
An ``ApiError`` answers with Google's ``{"error": {"code", "message", "status"}}`` body.
``when_system_contains`` markers are looked for in the request's ``systemInstruction``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.scripted_anthropic import (
    ApiError,
    Block,
    RecordedRequest,
    ScriptedAnthropic,
    Text,
    ToolUse,
    Turn,
    _no_reply_left,
    _Playback,
    _split,
    turn_playback,
)

__all__ = ["ScriptedGemini", "contents_texts", "scripted_gemini_server"]

_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}


class ScriptedGemini(ScriptedAnthropic):
    """Gemini API stand-in serving queued replies from a background thread."""

    def _routes(self) -> list[Route]:
        return [Route("/v1beta/models/{call:path}", self._models_call, methods=["POST"])]

    def _routing_text(self, recorded: RecordedRequest) -> str:
        return json.dumps(recorded.body.get("systemInstruction"))

    async def _models_call(self, request: Request) -> _Playback | JSONResponse:
        call = request.path_params["call"]
        model, _, method = call.partition(":")
        if method == "countTokens":
            return JSONResponse({"totalTokens": 10})
        recorded = await self._record(request)
        reply = self._take_reply(recorded)
        if reply is None:
            return _gemini_error(_no_reply_left(len(self.requests)))
        if isinstance(reply, ApiError):
            return _gemini_error(reply)
        if method == "streamGenerateContent":
            return _stream_playback(reply, model, request.app.state.stopping)
        body = _chunk(model, [part for block in reply.blocks for part in _parts(block)], reply)
        return JSONResponse(body)


def contents_texts(recorded: RecordedRequest, role: str) -> list[str]:
    """The texts of the request's ``contents`` of ``role`` (``user`` or ``model``)."""
    return [
        str(part["text"])
        for content in recorded.body.get("contents", [])
        if content.get("role") == role
        for part in content.get("parts", [])
        if "text" in part
    ]


# --------------------------------------------------------------------------- wire format


def _parts(block: Block) -> list[dict[str, Any]]:
    if isinstance(block, ToolUse):
        return [{"functionCall": {"id": block.id, "name": block.name, "args": block.input}}]
    if isinstance(block, Text):
        return [{"text": piece} for piece in _split(block.text, block.chunks)]
    raise TypeError(f"the Gemini API has no scripted form for {type(block).__name__}")


def _chunk(model: str, parts: list[dict[str, Any]], ending: Turn | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": model}
    if ending is not None:
        candidate["finishReason"] = "MAX_TOKENS" if ending.stop_reason == "max_tokens" else "STOP"
        usage = ending.usage
        chunk["usageMetadata"] = {
            "promptTokenCount": usage.input_tokens + usage.cache_read_input_tokens,
            "cachedContentTokenCount": usage.cache_read_input_tokens,
            "candidatesTokenCount": usage.output_tokens,
            "totalTokenCount": usage.input_tokens
            + usage.cache_read_input_tokens
            + usage.output_tokens,
        }
    return chunk


def _stream_events(turn: Turn, model: str) -> list[bytes]:
    """One SSE chunk per text piece and per call; the last one ends the response."""
    parts = [part for block in turn.blocks for part in _parts(block)]
    chunks = [_chunk(model, [part], None) for part in parts]
    chunks.append(_chunk(model, [], turn))
    return [f"data: {json.dumps(chunk)}\r\n\r\n".encode() for chunk in chunks]


def _stream_playback(turn: Turn, model: str, stopping: asyncio.Event) -> _Playback:
    headers = {"content-type": "text/event-stream", "cache-control": "no-cache"}
    return turn_playback(turn, headers, _stream_events(turn, model), stopping)


def _gemini_error(error: ApiError) -> JSONResponse:
    status = _STATUS.get(error.status, "INTERNAL" if error.status >= 500 else "FAILED_PRECONDITION")
    body = {"error": {"code": error.status, "message": error.message, "status": status}}
    return JSONResponse(body, status_code=error.status, headers=error.headers())


def scripted_gemini_server() -> Iterator[ScriptedGemini]:
    """Yield a running server and stop it afterwards; for a session-scoped fixture."""
    with ScriptedGemini() as server:
        yield server
