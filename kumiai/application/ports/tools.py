"""Tools an agent can call. File tools live in infrastructure; orchestration tools in
the application. Both implement :class:`Tool`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from kumiai.application.ports.agent_runtime import ToolOutcome, ToolSpec


@dataclass(frozen=True)
class ToolContext:
    """Who is calling and where they may work."""

    session_id: UUID
    project_id: UUID | None
    working_dir: str
    session_type: str
    bash_enabled: bool = True


class Tool(Protocol):
    @property
    def spec(self) -> ToolSpec: ...

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutcome:
        """Run the tool. Bad arguments and refused paths are ``is_error`` outcomes."""
        ...
