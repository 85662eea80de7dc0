"""The complete message of a streamed response, rebuilt from its raw events."""

from __future__ import annotations

from typing import Any

import pytest
from anthropic.types import RawMessageStreamEvent
from pydantic import TypeAdapter

from kumiai.infrastructure.claude.accumulate import MessageBuilder

_EVENT: TypeAdapter[RawMessageStreamEvent] = TypeAdapter(RawMessageStreamEvent)


def _event(**data: Any) -> RawMessageStreamEvent:
    return _EVENT.validate_python(data)


def _start() -> RawMessageStreamEvent:
    return _event(
        type="message_start",
        message={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 1},
        },
    )


def test_text_thinking_and_tool_input_are_joined_when_their_blocks_stop() -> None:
    builder = MessageBuilder()
    builder.add(_start())
    builder.add(
        _event(
            type="content_block_start",
            index=0,
            content_block={"type": "thinking", "thinking": "", "signature": ""},
        )
    )
    for piece in ("Let me ", "look."):
        builder.add(
            _event(
                type="content_block_delta",
                index=0,
                delta={"type": "thinking_delta", "thinking": piece},
            )
        )
    builder.add(
        _event(
            type="content_block_delta",
            index=0,
            delta={"type": "signature_delta", "signature": "sig"},
        )
    )
    builder.add(_event(type="content_block_stop", index=0))
    builder.add(
        _event(type="content_block_start", index=1, content_block={"type": "text", "text": ""})
    )
    for piece in ("Hel", "lo"):
        builder.add_text(1, piece)
    builder.add(_event(type="content_block_stop", index=1))
    builder.add(
        _event(
            type="content_block_start",
            index=2,
            content_block={"type": "tool_use", "id": "tu_1", "name": "read_file", "input": {}},
        )
    )
    for piece in ('{"path": ', '"a.txt"}'):
        builder.add(
            _event(
                type="content_block_delta",
                index=2,
                delta={"type": "input_json_delta", "partial_json": piece},
            )
        )
    builder.add(_event(type="content_block_stop", index=2))
    builder.add(
        _event(
            type="content_block_start",
            index=3,
            content_block={"type": "tool_use", "id": "tu_2", "name": "list_files", "input": {}},
        )
    )
    builder.add(_event(type="content_block_stop", index=3))
    assert builder.message is None
    builder.add(
        _event(
            type="message_delta",
            delta={"stop_reason": "tool_use", "stop_sequence": None},
            usage={"output_tokens": 42},
        )
    )
    builder.add(_event(type="message_stop"))

    message = builder.message
    assert message is not None
    thinking, text, tool, bare = message.content
    assert (thinking.thinking, thinking.signature) == ("Let me look.", "sig")  # type: ignore[union-attr]
    assert text.text == "Hello"  # type: ignore[union-attr]
    assert tool.input == {"path": "a.txt"}  # type: ignore[union-attr]
    assert bare.input == {}  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 42)


def test_an_event_before_message_start_is_refused() -> None:
    with pytest.raises(ValueError, match="message_start"):
        MessageBuilder().add(_event(type="content_block_stop", index=0))
