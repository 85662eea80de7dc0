"""Sinks and tool executors that record what a runtime does, for runtime tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from kumiai.application.ports.agent_runtime import RetryNotice, ToolCall, ToolOutcome, Usage


@dataclass
class RecordingSink:
    """Keeps every sink call as a tuple, in order."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    def _record(self, *event: Any) -> None:
        self.events.append(event)
        self.started.set()

    async def text_delta(self, block_index: int, text: str) -> None:
        self._record("text_delta", block_index, text)

    async def text_done(self, block_index: int, text: str) -> None:
        self._record("text_done", block_index, text)

    async def tool_use(self, call: ToolCall) -> None:
        self._record("tool_use", call)

    async def tool_result(self, call: ToolCall, outcome: ToolOutcome) -> None:
        self._record("tool_result", call.id, outcome)

    async def usage(self, usage: Usage, stop_reason: str | None) -> None:
        self._record("usage", usage, stop_reason)

    async def retry(self, notice: RetryNotice) -> None:
        self._record(
            "retry",
            notice.attempt,
            notice.max_retries,
            notice.error_type,
            notice.corrective_message,
        )

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        return [event for event in self.events if event[0] == kind]


@dataclass
class ScriptedTools:
    """Answers each tool call with a canned outcome per tool name."""

    outcomes: dict[str, ToolOutcome] = field(default_factory=dict)
    calls: list[ToolCall] = field(default_factory=list)

    async def execute(self, call: ToolCall) -> ToolOutcome:
        self.calls.append(call)
        return self.outcomes.get(call.name, ToolOutcome(f"{call.name} ran"))
