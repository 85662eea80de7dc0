"""Builds the complete :class:`Message` of a streamed response from its raw events.

The SDK's ``messages.stream()`` helper does the same, but it also builds a typed
snapshot event for every delta it passes on, which costs more than everything else a
relayed text delta does. Reading the raw event stream (what
``messages.create(stream=True)`` returns) and accumulating here keeps the per-delta
work to appending a string to a list: text, thinking and tool-input JSON are joined
once, when their block stops.
"""

from __future__ import annotations

import json
from typing import Any

from anthropic.types import ContentBlock, Message, RawMessageStreamEvent


class MessageBuilder:
    """Feed it every event of one response; ``message`` is set once ``message_stop`` came."""

    def __init__(self) -> None:
        self._message: Message | None = None
        # Pieces of the open blocks by index, joined when the block stops.
        self._texts: dict[int, list[str]] = {}
        self._thinking: dict[int, list[str]] = {}
        self._json: dict[int, list[str]] = {}
        self.closed: set[int] = set()
        """Indexes of the blocks whose ``content_block_stop`` came."""
        self.message: Message | None = None

    def add_text(self, index: int, text: str) -> None:
        """A ``text_delta``, passed apart because it is the hot path."""
        self._texts.setdefault(index, []).append(text)

    def text_so_far(self, index: int) -> str:
        """The text of the text block at ``index``: whole once it stopped, else what came."""
        block: Any = self.block(index)
        return str(block.text) + "".join(self._texts.get(index, ()))

    @property
    def started_blocks(self) -> list[ContentBlock]:
        """The blocks the response opened so far (none before ``message_start``)."""
        return list(self._message.content) if self._message is not None else []

    def block(self, index: int) -> ContentBlock:
        """The block at ``index``; complete once its ``content_block_stop`` was added."""
        return self._started().content[index]

    def add(self, event: RawMessageStreamEvent) -> None:
        """Any other event."""
        if event.type == "message_start":
            self._message = event.message
            self._message.content = []
        elif event.type == "content_block_start":
            self._started().content.append(event.content_block)
        elif event.type == "content_block_delta":
            self._delta(event.index, event.delta)
        elif event.type == "content_block_stop":
            self._close(event.index)
            self.closed.add(event.index)
        elif event.type == "message_delta":
            self._message_delta(event)
        elif event.type == "message_stop":
            self.message = self._started()

    def _started(self) -> Message:
        if self._message is None:
            raise ValueError("a streamed response must open with message_start")
        return self._message

    def _delta(self, index: int, delta: Any) -> None:
        kind = delta.type
        if kind == "text_delta":
            self.add_text(index, delta.text)
        elif kind == "input_json_delta":
            self._json.setdefault(index, []).append(delta.partial_json)
        elif kind == "thinking_delta":
            self._thinking.setdefault(index, []).append(delta.thinking)
        elif kind == "signature_delta":
            self.block(index).signature = delta.signature  # type: ignore[union-attr]
        elif kind == "citations_delta":
            block: Any = self.block(index)
            block.citations = [*(block.citations or []), delta.citation]
        # Delta kinds this version does not know carry nothing KumiAI replays.

    def _close(self, index: int) -> None:
        block: Any = self.block(index)
        texts = self._texts.pop(index, None)
        if texts is not None and block.type == "text":
            block.text = block.text + "".join(texts)
        thinking = self._thinking.pop(index, None)
        if thinking is not None and block.type == "thinking":
            block.thinking = block.thinking + "".join(thinking)
        partial_json = self._json.pop(index, None)
        if partial_json is not None and hasattr(block, "input"):
            written = "".join(partial_json)
            # A tool called without arguments streams no JSON at all.
            block.input = json.loads(written) if written.strip() else {}

    def _message_delta(self, event: Any) -> None:
        message = self._started()
        message.stop_reason = event.delta.stop_reason
        message.stop_sequence = event.delta.stop_sequence
        usage, total = event.usage, message.usage
        # Counts on message_delta are running totals: they replace, they do not add.
        total.output_tokens = usage.output_tokens
        for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
            value = getattr(usage, name, None)
            if value is not None:
                setattr(total, name, value)
