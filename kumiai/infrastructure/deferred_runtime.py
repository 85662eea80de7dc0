"""An agent runtime built on its first turn.

The runtimes' SDKs (``anthropic``, ``claude_agent_sdk``) take about a second of CPU and
tens of MB to import. Nothing before the first turn needs them, so the server starts
and idles without them; the first turn imports them in a worker thread, so the event
loop keeps serving other requests meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from kumiai.application.ports.agent_runtime import (
    AgentRuntime,
    ToolExecutor,
    TurnOutcome,
    TurnRequest,
    TurnSink,
)


class ClosableRuntime(AgentRuntime, Protocol):
    async def aclose(self) -> None: ...


class DeferredRuntime:
    """Implements :class:`AgentRuntime` by building ``factory()``'s runtime when first used."""

    def __init__(self, factory: Callable[[], ClosableRuntime]) -> None:
        self._factory = factory
        self._runtime: ClosableRuntime | None = None
        self._building: asyncio.Lock | None = None

    @property
    def built(self) -> bool:
        return self._runtime is not None

    async def runtime(self) -> ClosableRuntime:
        if self._runtime is None:
            # Created here, inside the loop that uses it.
            self._building = self._building or asyncio.Lock()
            async with self._building:
                if self._runtime is None:
                    self._runtime = await asyncio.to_thread(self._factory)
        return self._runtime

    async def run_turn(
        self, request: TurnRequest, tools: ToolExecutor, sink: TurnSink
    ) -> TurnOutcome:
        return await (await self.runtime()).run_turn(request, tools, sink)

    async def aclose(self) -> None:
        if self._runtime is not None:
            await self._runtime.aclose()
