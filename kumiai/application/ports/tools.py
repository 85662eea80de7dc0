"""Tools an agent can call. File tools live in infrastructure; orchestration tools in
the application. Both implement :class:`Tool`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from kumiai.application.ports.agent_runtime import ToolOutcome, ToolSpec


@dataclass(frozen=True)
class ChainRef:
    """The user message that set off the running turn, directly or through messages
    agents sent each other, and how much of that chain's budget of agent-to-agent
    messages was spent when this turn's input was sent."""

    origin_session_id: UUID
    origin_message_id: UUID
    spent: int = 0


@dataclass(frozen=True)
class ToolContext:
    """Who is calling, where they may work, and on behalf of which user message."""

    session_id: UUID
    project_id: UUID | None
    working_dir: str
    session_type: str
    bash_enabled: bool = True
    chain: ChainRef | None = None
    """The running turn's chain; None outside a turn."""
    tool_use_id: str | None = None
    """The call being run (set per call by the turn's toolbox)."""


class Tool(Protocol):
    @property
    def spec(self) -> ToolSpec: ...

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutcome:
        """Run the tool. Bad arguments and refused paths are ``is_error`` outcomes."""
        ...
