"""MCP servers: their definitions, and the per-session connections that run them.

A definition comes from ``$KUMIAI_HOME/mcp_servers.json`` or the user's Claude Code
config (``~/.claude.json``), both in Claude Code's ``mcpServers`` format. The
application decides which servers a session may use (its character's
``allowed_mcps``); an :class:`McpConnections` adapter starts them, lists their tools
and runs calls, one set of server processes per session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol
from uuid import UUID

from kumiai.application.ports.tools import Tool

Transport = Literal["stdio", "http", "sse"]
Source = Literal["kumiai", "claude_code"]

TOOL_PREFIX = "mcp__"


@dataclass(frozen=True)
class McpServerDefinition:
    """One server as configured. ``env`` and ``headers`` are secrets: never log or show them."""

    name: str
    transport: Transport
    source: Source
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    disabled: bool = False


def tool_name(server: str, tool: str) -> str:
    """The name an agent calls a server's tool by, the Claude Code way."""
    return f"{TOOL_PREFIX}{server}__{tool}"


@dataclass(frozen=True)
class McpToolset:
    """The tools of a session's servers, and why any server has none to offer."""

    tools: list[Tool]
    unavailable: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class McpToolInfo:
    name: str
    description: str


class McpConnections(Protocol):
    async def toolset(
        self, session_id: UUID, working_dir: str, servers: Sequence[McpServerDefinition]
    ) -> McpToolset:
        """Start the session's servers that are not running yet and return their tools.

        Never raises for a server that fails: it is reported in ``unavailable``.
        """
        ...

    async def close_session(self, session_id: UUID) -> None:
        """Stop every server the session started."""
        ...

    async def probe(self, server: McpServerDefinition, working_dir: str) -> list[McpToolInfo]:
        """Connect to the server outside any session, list its tools and disconnect.

        Raises ``McpServerError`` when it cannot be reached.
        """
        ...

    async def aclose(self) -> None:
        """Stop every server of every session."""
        ...
