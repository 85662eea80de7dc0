"""The agent runtime is built on the first turn, once, and only closed if built."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from kumiai.application.ports.agent_runtime import (
    ToolExecutor,
    TurnOutcome,
    TurnRequest,
    TurnSink,
)
from kumiai.infrastructure.deferred_runtime import DeferredRuntime


@dataclass
class _Runtime:
    turns: int = 0
    closed: bool = False
    outcome: object = field(default_factory=object)

    async def run_turn(
        self, request: TurnRequest, tools: ToolExecutor, sink: TurnSink
    ) -> TurnOutcome:
        self.turns += 1
        return self.outcome  # type: ignore[return-value]

    async def aclose(self) -> None:
        self.closed = True


async def test_nothing_is_built_until_a_turn_and_closing_unbuilt_is_a_no_op() -> None:
    built: list[_Runtime] = []
    deferred = DeferredRuntime(lambda: built.append(_Runtime()) or built[-1])
    await deferred.aclose()
    assert built == []
    assert not deferred.built


async def test_concurrent_first_turns_build_one_runtime_and_close_it() -> None:
    built: list[_Runtime] = []
    deferred = DeferredRuntime(lambda: built.append(_Runtime()) or built[-1])
    request, tools, sink = object(), object(), object()
    outcomes = await asyncio.gather(
        *(deferred.run_turn(request, tools, sink) for _ in range(3))  # type: ignore[arg-type]
    )
    assert len(built) == 1
    assert built[0].turns == 3
    assert outcomes == [built[0].outcome] * 3
    await deferred.aclose()
    assert built[0].closed
