"""What every agent CLI's stream becomes: the same sink calls, in the same order.

Each CLI reports a turn differently (whole messages, text chunks, parts), but a turn is
always text blocks, tool calls and their results, and model usage. :class:`TurnWriter`
gives each block its index, persists each text block once when it closes (never once per
output line), and keeps the turn in API message form (for the resume fingerprint, and
for a retry to continue it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kumiai.application.ports.agent_runtime import ToolCall, ToolOutcome, TurnSink, Usage


@dataclass
class TurnWriter:
    sink: TurnSink
    total: Usage = field(default_factory=Usage)
    responses: int = 0
    """Model responses reported with usage: the turn's iterations."""
    produced: list[dict[str, Any]] = field(default_factory=list)
    """This turn's content in API message form: the resume fingerprint, and what a retry
    after the CLI stopped mid-turn continues."""
    _next_index: int = 0
    _open_index: int | None = None
    _open_text: str = ""
    _calls: dict[str, ToolCall] = field(default_factory=dict)

    async def delta(self, text: str) -> None:
        """More text of the open text block (opened by the first delta)."""
        if not text:
            return
        if self._open_index is None:
            self._open_index = self._take_index()
        self._open_text += text
        await self.sink.text_delta(self._open_index, text)

    async def close_text(self) -> None:
        """The open text block is complete: persist it once."""
        index, text = self._open_index, self._open_text
        self._open_index, self._open_text = None, ""
        if index is None or not text:
            return
        self.produced.append({"role": "assistant", "content": [{"type": "text", "text": text}]})
        await self.sink.text_done(index, text)

    async def text(self, text: str) -> None:
        """A whole text block, as CLIs that do not stream report it."""
        await self.close_text()
        await self.delta(text)
        await self.close_text()

    async def tool_use(self, call: ToolCall) -> None:
        """The CLI started a tool; a call already reported is not reported again."""
        if call.id in self._calls:
            return
        await self.close_text()
        self._take_index()
        self._calls[call.id] = call
        self.produced.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": call.id, "name": call.name, "input": call.input}
                ],
            }
        )
        await self.sink.tool_use(call)

    async def tool_result(self, call_id: str, outcome: ToolOutcome) -> None:
        call = self._calls.pop(call_id, None)
        if call is None:
            return
        result = {
            "type": "tool_result",
            "tool_use_id": call.id,
            "content": outcome.content,
            "is_error": outcome.is_error,
        }
        self.produced.append({"role": "user", "content": [result]})
        await self.sink.tool_result(call, outcome)

    async def tool(self, call: ToolCall, outcome: ToolOutcome) -> None:
        """A tool call reported only once it finished."""
        await self.tool_use(call)
        await self.tool_result(call.id, outcome)

    async def cut(self, reason: str) -> None:
        """The CLI stopped mid-turn: the open text block is kept as far as it got, and
        each call it had started is answered as failed with ``reason``."""
        await self.close_text()
        for call_id in list(self._calls):
            await self.tool_result(call_id, ToolOutcome(reason, is_error=True))

    async def usage(self, usage: Usage, stop_reason: str | None = None) -> None:
        await self.close_text()
        self.total += usage
        self.responses += 1
        await self.sink.usage(usage, stop_reason)

    def _take_index(self) -> int:
        self._next_index += 1
        return self._next_index - 1


def usage_from(raw: dict[str, Any], *, input_key: str, output_key: str, cached_key: str) -> Usage:
    """Usage from a CLI's report, which counts cached tokens inside its input tokens
    (KumiAI, like the Anthropic API, keeps them apart)."""

    def number(key: str) -> int:
        value = raw.get(key)
        return value if isinstance(value, int) else 0

    cached = number(cached_key)
    return Usage(
        input_tokens=max(number(input_key) - cached, 0),
        output_tokens=number(output_key),
        cache_read_input_tokens=cached,
    )
