"""The MCP servers of every session: started on first need, shared by the session's
turns, restarted after a crash, stopped when idle, when the session ends, or at shutdown.

Every failure reaches the agent as an ``is_error`` tool result and is logged by server
name only: a definition's ``env`` and ``headers`` are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from kumiai.application.ports.agent_runtime import ToolOutcome, ToolSpec
from kumiai.application.ports.mcp import (
    McpServerDefinition,
    McpToolInfo,
    McpToolset,
    tool_name,
)
from kumiai.application.ports.tools import Tool, ToolContext
from kumiai.core.exceptions import McpServerError
from kumiai.core.logging import get_logger

if TYPE_CHECKING:
    # The MCP SDK takes about a second to import; the pool imports it when it first
    # starts a server, so the server starts and idles without it.
    import mcp_types

    from kumiai.infrastructure.mcp.connection import McpConnection

logger = get_logger(__name__)

_CONNECTION_MODULE = "kumiai.infrastructure.mcp.connection"

# The Messages API accepts tool names of this shape only.
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
MAX_TOOL_NAME = 64
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass
class _Running:
    connection: McpConnection
    tools: list[mcp_types.Tool]
    last_used: float
    calls: int = 0


class McpSessionPool:
    """Implements :class:`kumiai.application.ports.mcp.McpConnections`."""

    def __init__(
        self,
        *,
        start_timeout: float = 30.0,
        call_timeout: float = 300.0,
        idle_timeout: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._start_timeout = start_timeout
        self._call_timeout = call_timeout
        self._idle_timeout = idle_timeout
        self._clock = clock
        self._sessions: dict[UUID, dict[str, _Running]] = {}
        self._locks: dict[tuple[UUID, str], asyncio.Lock] = {}
        self._janitor: asyncio.Task[None] | None = None
        self._closed = False

    # --- the port ---------------------------------------------------------------------

    async def toolset(
        self, session_id: UUID, working_dir: str, servers: Sequence[McpServerDefinition]
    ) -> McpToolset:
        started = await asyncio.gather(
            *(self._ensure(session_id, working_dir, server) for server in servers),
            return_exceptions=True,
        )
        tools: list[Tool] = []
        unavailable: dict[str, str] = {}
        for server, result in zip(servers, started, strict=True):
            if isinstance(result, McpServerError):
                unavailable[server.name] = result.message
            elif isinstance(result, BaseException):
                raise result
            else:
                tools.extend(self._tools_of(server, result.tools))
        return McpToolset(tools=tools, unavailable=unavailable)

    async def close_session(self, session_id: UUID) -> None:
        running = self._sessions.pop(session_id, {})
        for name in running:
            self._locks.pop((session_id, name), None)
        await asyncio.gather(*(self._stop(session_id, name, r) for name, r in running.items()))

    async def probe(self, server: McpServerDefinition, working_dir: str) -> list[McpToolInfo]:
        connection = await _connection(server, working_dir)
        try:
            tools = await connection.start(self._start_timeout)
        finally:
            await connection.stop()
        return [McpToolInfo(name=tool.name, description=tool.description or "") for tool in tools]

    async def aclose(self) -> None:
        self._closed = True
        if self._janitor is not None:
            self._janitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._janitor
        await asyncio.gather(*(self.close_session(session) for session in list(self._sessions)))

    def running(self, session_id: UUID) -> dict[str, McpConnection]:
        """The session's servers that are started, by name."""
        return {name: r.connection for name, r in self._sessions.get(session_id, {}).items()}

    # --- calls ------------------------------------------------------------------------

    async def call(
        self,
        session_id: UUID,
        server: McpServerDefinition,
        working_dir: str,
        tool: str,
        arguments: dict[str, Any],
    ) -> ToolOutcome:
        """Run one tool, restarting the server first if it crashed since its last use."""
        try:
            running = await self._ensure(session_id, working_dir, server)
        except McpServerError as error:
            return ToolOutcome(error.message, is_error=True)
        running.calls += 1
        try:
            result = await running.connection.call(tool, arguments, self._call_timeout)
        except Exception as error:  # every failure is the agent's tool result
            return self._failure(session_id, server.name, tool, error)
        finally:
            running.calls -= 1
            running.last_used = self._clock()
        return outcome_of(result)

    def _failure(self, session_id: UUID, server: str, tool: str, error: Exception) -> ToolOutcome:
        import mcp_types  # noqa: PLC0415
        from mcp import MCPError  # noqa: PLC0415

        if isinstance(error, TimeoutError):
            message = f"MCP tool {tool} on server '{server}' did not answer within " + (
                f"{self._call_timeout:g} s"
            )
        elif isinstance(error, MCPError) and error.code == mcp_types.CONNECTION_CLOSED:
            message = (
                f"MCP server '{server}' stopped while running {tool} (the connection closed); "
                "it will be restarted on the next call"
            )
        elif isinstance(error, MCPError):
            message = f"MCP server '{server}' refused {tool}: {error}"
        else:
            message = f"MCP tool {tool} on server '{server}' failed: {error}"
        logger.warning(
            "mcp_tool_failed", server=server, tool=tool, session_id=str(session_id), reason=message
        )
        return ToolOutcome(message, is_error=True)

    # --- lifecycle --------------------------------------------------------------------

    async def _ensure(
        self, session_id: UUID, working_dir: str, server: McpServerDefinition
    ) -> _Running:
        lock = self._locks.setdefault((session_id, server.name), asyncio.Lock())
        async with lock:
            servers = self._sessions.setdefault(session_id, {})
            running = servers.get(server.name)
            if (
                running is not None
                and running.connection.usable
                and running.connection.definition == server
            ):
                running.last_used = self._clock()
                return running
            if running is not None:
                # Crashed, or the user changed its definition since it started.
                del servers[server.name]
                await self._stop(session_id, server.name, running)
            return await self._start(session_id, working_dir, server)

    async def _start(
        self, session_id: UUID, working_dir: str, server: McpServerDefinition
    ) -> _Running:
        if self._closed:
            raise McpServerError(f"MCP server '{server.name}' cannot start: KumiAI is stopping")
        connection = await _connection(server, working_dir)
        try:
            tools = await connection.start(self._start_timeout)
        except McpServerError as error:
            logger.warning(
                "mcp_server_failed",
                server=server.name,
                session_id=str(session_id),
                reason=error.message,
            )
            raise
        running = _Running(connection, tools, self._clock())
        self._sessions.setdefault(session_id, {})[server.name] = running
        logger.info(
            "mcp_server_started",
            server=server.name,
            transport=server.transport,
            session_id=str(session_id),
            tools=len(tools),
        )
        self._ensure_janitor()
        return running

    async def _stop(self, session_id: UUID, name: str, running: _Running) -> None:
        await running.connection.stop()
        logger.info("mcp_server_stopped", server=name, session_id=str(session_id))

    def _ensure_janitor(self) -> None:
        if self._janitor is None or self._janitor.done():
            self._janitor = asyncio.create_task(self._expire_idle(), name="kumiai-mcp-janitor")

    async def _expire_idle(self) -> None:
        """Stop servers nobody used for ``idle_timeout``; the next use starts them again."""
        interval = max(0.05, min(self._idle_timeout / 4, 30.0))
        while self._sessions:
            await asyncio.sleep(interval)
            now = self._clock()
            for session_id, servers in list(self._sessions.items()):
                for name, running in list(servers.items()):
                    idle = running.calls == 0 and now - running.last_used >= self._idle_timeout
                    if idle and servers.get(name) is running:
                        del servers[name]
                        await self._stop(session_id, name, running)
                if not servers:
                    self._sessions.pop(session_id, None)

    # --- tools ------------------------------------------------------------------------

    def _tools_of(self, server: McpServerDefinition, tools: list[mcp_types.Tool]) -> list[Tool]:
        exposed: list[Tool] = []
        for tool in tools:
            name = tool_name(_safe(server.name), _safe(tool.name))
            if len(name) > MAX_TOOL_NAME:
                logger.warning("mcp_tool_skipped", server=server.name, tool=tool.name)
                continue
            exposed.append(McpTool(self, server, tool, name))
        return exposed


class McpTool:
    """One tool of one server, as an agent sees it."""

    def __init__(
        self, pool: McpSessionPool, server: McpServerDefinition, tool: mcp_types.Tool, name: str
    ) -> None:
        self._pool = pool
        self._server = server
        self._tool = tool.name
        self.spec = ToolSpec(
            name=name,
            description=tool.description or tool.title or f"{tool.name} (MCP server {server.name})",
            input_schema=dict(tool.input_schema) if tool.input_schema else _EMPTY_SCHEMA,
        )

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutcome:
        return await self._pool.call(
            context.session_id, self._server, context.working_dir, self._tool, arguments
        )


async def _connection(server: McpServerDefinition, working_dir: str) -> McpConnection:
    """A connection to ``server``; the first one imports the SDK in a worker thread, so
    the event loop keeps serving meanwhile."""
    module = sys.modules.get(_CONNECTION_MODULE)
    if module is None:
        module = await asyncio.to_thread(importlib.import_module, _CONNECTION_MODULE)
    connection: McpConnection = module.McpConnection(server, working_dir)
    return connection


def _safe(name: str) -> str:
    return _UNSAFE_NAME_CHARS.sub("_", name)


def outcome_of(result: mcp_types.CallToolResult) -> ToolOutcome:
    """The text the model reads for a tool's result; binary parts are described, not sent."""
    parts = [_describe(block) for block in result.content]
    if not any(parts) and result.structured_content is not None:
        parts = [json.dumps(result.structured_content, ensure_ascii=False)]
    return ToolOutcome("\n".join(part for part in parts if part), is_error=bool(result.is_error))


def _describe(block: Any) -> str:
    import mcp_types  # noqa: PLC0415

    if isinstance(block, mcp_types.TextContent):
        return block.text
    if isinstance(block, mcp_types.ImageContent | mcp_types.AudioContent):
        return f"[{block.type}: {block.mime_type}, {_decoded_size(block.data)} bytes]"
    if isinstance(block, mcp_types.ResourceLink):
        return f"[resource: {block.uri}]"
    if isinstance(block, mcp_types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, mcp_types.TextResourceContents):
            return resource.text
        return f"[resource: {resource.uri}, {_decoded_size(resource.blob)} bytes]"
    return ""


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except ValueError:
        return len(data)
