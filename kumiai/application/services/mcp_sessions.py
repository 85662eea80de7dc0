"""The MCP servers that run for sessions: started on a session's first need, shared by
its turns, stopped when it ends; and a server tried on its own from the settings page.

Which servers a session may use is the configuration's to say (:mod:`.mcp`); the
connections adapter runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from kumiai.application.dtos.mcp import McpTestResult, McpToolView
from kumiai.application.ports.mcp import McpConnections, McpToolset, tool_name
from kumiai.application.services.mcp import McpConfig
from kumiai.core.exceptions import McpServerError


class McpSessions:
    def __init__(self, config: McpConfig, connections: McpConnections, probe_dir: str) -> None:
        self._config = config
        self._connections = connections
        self._probe_dir = probe_dir

    async def toolset(self, session_id: UUID, working_dir: str, names: Sequence[str]) -> McpToolset:
        """The tools of the servers in ``names`` (a character's ``allowed_mcps``), started
        for the session if they are not running yet; failures are listed, never raised."""
        if not names:
            return McpToolset(tools=[])
        resolution = self._config.resolve(names)
        started = await self._connections.toolset(session_id, working_dir, resolution.servers)
        return McpToolset(
            tools=started.tools, unavailable={**resolution.unavailable, **started.unavailable}
        )

    async def unstarted(self, names: Sequence[str]) -> McpToolset:
        """No tools, and the servers in ``names`` the configuration cannot run: for a
        session whose agent CLI starts its servers itself, so none runs twice."""
        return McpToolset(tools=[], unavailable=dict(self._config.resolve(names).unavailable))

    async def close_session(self, session_id: UUID) -> None:
        """The session ended (deleted, archived): stop its servers."""
        await self._connections.close_session(session_id)

    async def aclose(self) -> None:
        """Stop every session's servers (KumiAI is shutting down)."""
        await self._connections.aclose()

    async def test(self, name: str) -> McpTestResult:
        """Start the server on its own, list its tools and stop it again."""
        server = self._config.definition(name)
        try:
            tools = await self._connections.probe(server, self._probe_dir)
        except McpServerError as error:
            return McpTestResult(ok=False, tools=[], error=error.message)
        return McpTestResult(
            ok=True,
            tools=[
                McpToolView(
                    name=tool.name,
                    agent_name=tool_name(name, tool.name),
                    description=tool.description,
                )
                for tool in tools
            ],
        )
