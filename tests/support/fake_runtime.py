"""A fake ``AgentRuntime`` that plays scripted turns into the real sink and toolbox.

Each turn is a list of steps (say something, call a tool, stream and hang, fail). The
fake drives the ``TurnSink`` and the ``ToolExecutor`` exactly as a runtime must: text
deltas then the finished block, a tool call before it runs and its result after. It
records every request, so a test can assert what the model was asked.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from kumiai.application.ports.agent_runtime import (
    ToolCall,
    ToolExecutor,
    ToolOutcome,
    ToolSpec,
    TurnOutcome,
    TurnRequest,
    TurnSink,
    Usage,
)
from kumiai.application.ports.tools import ToolContext

Step = Callable[[ToolExecutor, TurnSink], Awaitable[None]]

_call_ids = itertools.count(1)


def say(text: str, *, chunks: int = 1, block: int = 0) -> Step:
    """A text block, streamed in ``chunks`` deltas, then finished."""

    async def step(_: ToolExecutor, sink: TurnSink) -> None:
        size = max(1, -(-len(text) // chunks))
        for start in range(0, len(text), size):
            await sink.text_delta(block, text[start : start + size])
        await sink.text_done(block, text)
        await sink.usage(Usage(input_tokens=10, output_tokens=len(text)), "end_turn")

    return step


def call(name: str, arguments: dict[str, object] | None = None) -> Step:
    """A tool call, run through the turn's toolbox, and its result."""

    async def step(tools: ToolExecutor, sink: TurnSink) -> None:
        tool_call = ToolCall(id=f"toolu_{next(_call_ids)}", name=name, input=dict(arguments or {}))
        await sink.tool_use(tool_call)
        await sink.tool_result(tool_call, await tools.execute(tool_call))

    return step


def call_and_hang(name: str, arguments: dict[str, object] | None = None) -> Step:
    """A tool call whose tool never returns (until the turn is cancelled)."""

    async def step(_: ToolExecutor, sink: TurnSink) -> None:
        await sink.tool_use(
            ToolCall(id=f"toolu_{next(_call_ids)}", name=name, input=dict(arguments or {}))
        )
        await asyncio.Event().wait()

    return step


def stream_and_hang(text: str = "") -> Step:
    """Some text that never finishes its block: the turn waits until it is cancelled."""

    async def step(_: ToolExecutor, sink: TurnSink) -> None:
        if text:
            await sink.text_delta(0, text)
        await asyncio.Event().wait()

    return step


def fail(error: Exception) -> Step:
    """The runtime gives up with ``error``."""

    async def step(_: ToolExecutor, __: TurnSink) -> None:
        raise error

    return step


class FakeRuntime:
    """Implements ``AgentRuntime``: one scripted turn per ``run_turn``; "ok" when unscripted."""

    def __init__(self) -> None:
        self.requests: list[TurnRequest] = []
        self._turns: deque[tuple[str, list[Step]]] = deque()
        self._asked = asyncio.Condition()

    def script(self, *steps: Step, when: str = "") -> None:
        """A turn to play, as these steps in order: the next one whose system prompt
        contains ``when`` (any turn when empty)."""
        self._turns.append((when, list(steps)))

    def _next_turn(self, request: TurnRequest) -> list[Step]:
        for scripted in self._turns:
            if scripted[0] in request.system:
                self._turns.remove(scripted)
                return scripted[1]
        return [say("ok")]

    @property
    def pending(self) -> int:
        """Scripted turns not run yet."""
        return len(self._turns)

    async def run_turn(
        self, request: TurnRequest, tools: ToolExecutor, sink: TurnSink
    ) -> TurnOutcome:
        steps = self._next_turn(request)
        async with self._asked:
            self.requests.append(request)
            self._asked.notify_all()
        for step in steps:
            await step(tools, sink)
        return TurnOutcome(stop_reason="end_turn", usage=Usage(), iterations=len(steps))

    async def wait_for_requests(self, count: int, timeout: float = 5) -> None:
        """Until ``count`` turns reached the model."""
        async with asyncio.timeout(timeout), self._asked:
            await self._asked.wait_for(lambda: len(self.requests) >= count)

    def user_texts(self, index: int = -1) -> list[str]:
        """The user's text blocks in request ``index``, in order."""
        return [
            block["text"]
            for message in self.requests[index].messages
            if message["role"] == "user"
            for block in message["content"]
            if block["type"] == "text"
        ]


class RecordingTool:
    """A tool that answers ``answer`` and records each call with its context; ``during``
    runs inside the call (to look at what is stored while a tool runs)."""

    def __init__(
        self,
        name: str,
        answer: str = "done",
        *,
        is_error: bool = False,
        during: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.calls: list[tuple[dict[str, Any], ToolContext]] = []
        self._spec = ToolSpec(name, f"The {name} tool.", {"type": "object", "properties": {}})
        self._outcome = ToolOutcome(content=answer, is_error=is_error)
        self._during = during

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutcome:
        self.calls.append((arguments, context))
        if self._during is not None:
            await self._during()
        return self._outcome
