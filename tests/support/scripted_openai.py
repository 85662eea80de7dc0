"""A scripted OpenAI Responses API server for tests, as the Codex CLI speaks it.

It plays the same scripts as :mod:`tests.support.scripted_anthropic` (``Reply.text``,
``Reply.tool_use``, ``Reply.turn``, ``Reply.error``, ``Reply.hang``, ``.cut()``,
``.slow()``) and keeps its queue, routing and recordings; only the wire differs::

    with ScriptedResponses() as server:
        server.enqueue(Reply.tool_use("exec_command", {"cmd": "ls"}), Reply.text("Done."))
        ...  # codex with a model provider whose base_url is server.base_url + "/v1"
        assert server.requests[1].body["input"][-1]["type"] == "function_call_output"

``POST /v1/responses`` consumes the next reply and streams it as Responses API events
(``response.created``, ``response.output_item.added``/``done``, ``output_text`` and
``function_call_arguments`` deltas, ``response.completed`` with usage). A ``ToolUse``
becomes a ``function_call`` item whose ``call_id`` is the block's id; a name
``namespace/tool`` calls a tool of a namespace (as Codex offers MCP tools). An ``ApiError``
answers with the API's ``{"error": {...}}`` body. ``when_system_contains`` markers are
looked for in the request's ``instructions`` and developer messages.
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
    DEFAULT_MODELS,
    ApiError,
    Block,
    RecordedRequest,
    ScriptedAnthropic,
    Text,
    ToolUse,
    Turn,
    _next_id,
    _no_reply_left,
    _Playback,
    _split,
    turn_playback,
)

__all__ = ["ScriptedResponses", "codex_provider", "input_texts", "scripted_responses_server"]


class ScriptedResponses(ScriptedAnthropic):
    """OpenAI Responses API stand-in serving queued replies from a background thread."""

    def _routes(self) -> list[Route]:
        return [
            Route("/v1/responses", self._responses, methods=["POST"]),
            Route("/v1/models", self._openai_models, methods=["GET"]),
        ]

    def _routing_text(self, recorded: RecordedRequest) -> str:
        developer = [
            item
            for item in recorded.body.get("input", [])
            if isinstance(item, dict) and item.get("role") in ("developer", "system")
        ]
        return json.dumps([recorded.body.get("instructions"), developer])

    async def _responses(self, request: Request) -> _Playback | JSONResponse:
        recorded = await self._record(request)
        reply = self._take_reply(recorded)
        if reply is None:
            return _openai_error(_no_reply_left(len(self.requests)))
        if isinstance(reply, ApiError):
            return _openai_error(reply)
        return _responses_playback(reply, recorded, request.app.state.stopping)

    async def _openai_models(self, request: Request) -> JSONResponse:
        models = [
            {"id": model.id, "object": "model", "owned_by": "scripted"} for model in DEFAULT_MODELS
        ]
        return JSONResponse({"object": "list", "data": models})


def input_texts(recorded: RecordedRequest, role: str) -> list[str]:
    """The texts of the request's ``input`` messages of ``role``, in order."""
    texts = []
    for item in recorded.body.get("input", []):
        if not isinstance(item, dict) or item.get("role") != role:
            continue
        content = item.get("content")
        if isinstance(content, str):
            texts.append(content)
            continue
        for part in content or []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return texts


# --------------------------------------------------------------------------- wire format


NAMESPACE_SEPARATOR = "/"


def _event(kind: str, sequence: int, data: dict[str, Any]) -> bytes:
    payload = {"type": kind, "sequence_number": sequence, **data}
    return f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode()


def _output_item(block: Block, item_id: str) -> dict[str, Any]:
    """The finished output item for one scripted block."""
    if isinstance(block, ToolUse):
        # "namespace/name" calls a tool of a namespace (Codex offers MCP tools that way).
        namespace, _, name = block.name.rpartition(NAMESPACE_SEPARATOR)
        item = {
            "type": "function_call",
            "id": item_id,
            "call_id": block.id,
            "name": name,
            "arguments": json.dumps(block.input),
            "status": "completed",
        }
        return {**item, "namespace": namespace} if namespace else item
    if isinstance(block, Text):
        return {
            "type": "message",
            "id": item_id,
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": block.text, "annotations": []}],
        }
    raise TypeError(f"the Responses API has no scripted form for {type(block).__name__}")


def _item_events(index: int, block: Block, item_id: str) -> list[tuple[str, dict[str, Any]]]:
    """added, deltas and done events for one output item."""
    done = _output_item(block, item_id)
    opening = dict(done, status="in_progress")
    events: list[tuple[str, dict[str, Any]]] = []
    if isinstance(block, ToolUse):
        opening["arguments"] = ""
        events.append(("response.output_item.added", {"output_index": index, "item": opening}))
        for piece in _split(done["arguments"], block.chunks):
            events.append(
                (
                    "response.function_call_arguments.delta",
                    {"item_id": item_id, "output_index": index, "delta": piece},
                )
            )
        events.append(
            (
                "response.function_call_arguments.done",
                {"item_id": item_id, "output_index": index, "arguments": done["arguments"]},
            )
        )
    else:
        assert isinstance(block, Text)
        opening["content"] = []
        part = {"item_id": item_id, "output_index": index, "content_index": 0}
        events.append(("response.output_item.added", {"output_index": index, "item": opening}))
        events.append(
            (
                "response.content_part.added",
                part | {"part": {"type": "output_text", "text": "", "annotations": []}},
            )
        )
        for piece in _split(block.text, block.chunks):
            events.append(("response.output_text.delta", part | {"delta": piece}))
        events.append(("response.output_text.done", part | {"text": block.text}))
        events.append(
            (
                "response.content_part.done",
                part | {"part": done["content"][0]},
            )
        )
    events.append(("response.output_item.done", {"output_index": index, "item": done}))
    return events


def _response(response_id: str, model: str, status: str) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": 0,
        "model": model,
        "status": status,
        "output": [],
        "usage": None,
    }


def _stream_events(turn: Turn, response_id: str, model: str) -> list[bytes]:
    """The full event sequence for ``turn``, one entry per SSE event."""
    item_ids = [_next_id("item") for _ in turn.blocks]
    body: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": _response(response_id, model, "in_progress")}),
        ("response.in_progress", {"response": _response(response_id, model, "in_progress")}),
    ]
    for index, (block, item_id) in enumerate(zip(turn.blocks, item_ids, strict=True)):
        body.extend(_item_events(index, block, item_id))
    usage = turn.usage
    pairs = zip(turn.blocks, item_ids, strict=True)
    completed = _response(response_id, model, "completed") | {
        "output": [_output_item(block, item_id) for block, item_id in pairs],
        "usage": {
            "input_tokens": usage.input_tokens + usage.cache_read_input_tokens,
            "input_tokens_details": {"cached_tokens": usage.cache_read_input_tokens},
            "output_tokens": usage.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage.input_tokens
            + usage.cache_read_input_tokens
            + usage.output_tokens,
        },
    }
    body.append(("response.completed", {"response": completed}))
    return [_event(kind, sequence, data) for sequence, (kind, data) in enumerate(body)]


def _responses_playback(
    turn: Turn, recorded: RecordedRequest, stopping: asyncio.Event
) -> _Playback:
    headers = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
    chunks = _stream_events(turn, _next_id("resp"), recorded.model or "gpt-scripted")
    return turn_playback(turn, headers | {"x-request-id": _next_id("req")}, chunks, stopping)


def _openai_error(error: ApiError) -> JSONResponse:
    body = {
        "error": {"message": error.message, "type": error.type, "code": error.type, "param": None}
    }
    return JSONResponse(body, status_code=error.status, headers=error.headers())


def scripted_responses_server() -> Iterator[ScriptedResponses]:
    """Yield a running server and stop it afterwards; for a session-scoped fixture."""
    with ScriptedResponses() as server:
        yield server


def codex_provider(server: ScriptedResponses, key_variable: str) -> list[str]:
    """Codex ``-c`` settings that send its requests to ``server``, without retries, so an
    under-scripted test fails at once. The key is read from ``key_variable``."""
    provider = (
        f'{{name="scripted", base_url="{server.base_url}/v1", env_key="{key_variable}", '
        'wire_api="responses", request_max_retries=0, stream_max_retries=0}'
    )
    return ['model_provider="scripted"', f"model_providers.scripted={provider}"]
