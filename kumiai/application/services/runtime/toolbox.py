"""The tool executor handed to the runtime: looks tools up by name and never raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from kumiai.application.ports.agent_runtime import ToolCall, ToolOutcome, ToolSpec
from kumiai.application.ports.tools import Tool, ToolContext
from kumiai.core.logging import get_logger

logger = get_logger(__name__)


class ToolBox:
    def __init__(self, tools: Sequence[Tool], context: ToolContext) -> None:
        self._tools = {tool.spec.name: tool for tool in tools}
        self._context = context

    @property
    def specs(self) -> list[ToolSpec]:
        return [tool.spec for tool in self._tools.values()]

    async def execute(self, call: ToolCall) -> ToolOutcome:
        tool = self._tools.get(call.name)
        if tool is None:
            return ToolOutcome(content=f"unknown tool: {call.name}", is_error=True)
        try:
            return await tool.run(call.input, replace(self._context, tool_use_id=call.id))
        except Exception as error:  # a broken tool must not end the turn
            logger.exception("tool_crashed", tool=call.name)
            return ToolOutcome(content=f"{call.name} failed: {error}", is_error=True)
