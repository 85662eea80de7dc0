"""One running MCP server, reached through the official ``mcp`` SDK client.

The SDK's transports are anyio context managers that must be entered and left by the
same task. A connection is shared by every turn of a session, and each turn is its
own task, so a connection owns a task of its own: it enters the client, lists the
tools, and holds the client open until it is told to stop. Turns call tools on the
open client from their own tasks, so cancelling a turn abandons its call at once
while the server keeps running for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import mcp_types
from mcp import Client, MCPError, StdioServerParameters, stdio_client
from mcp.client import Transport
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from kumiai.application.ports.mcp import McpServerDefinition
from kumiai.core.exceptions import McpServerError
from kumiai.infrastructure.mcp.expand import expand, expand_values

# stdio servers get two seconds to exit after their stdin closes and two more after
# SIGTERM (the SDK's own schedule); past this the owner task is cancelled outright.
STOP_GRACE_SECONDS = 6.0
# Connect/write timeout and read timeout of remote servers, as the SDK recommends.
HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)
MAX_TOOL_PAGES = 50


class McpConnection:
    """A server started for one session (or for a probe), until :meth:`stop`."""

    def __init__(self, definition: McpServerDefinition, working_dir: str) -> None:
        self.definition = definition
        self._working_dir = working_dir
        self._client: Client | None = None
        self._ready: asyncio.Future[list[mcp_types.Tool]] | None = None
        self._stopping = asyncio.Event()
        self._owner: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def usable(self) -> bool:
        """Started, not stopping, and its connection has not been seen to close."""
        return (
            self._client is not None
            and not self._closed
            and not self._stopping.is_set()
            and self._owner is not None
            and not self._owner.done()
        )

    async def start(self, limit_seconds: float) -> list[mcp_types.Tool]:
        """Start the server and return its tools; raises ``McpServerError`` on failure."""
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self._owner = asyncio.create_task(
            self._own(self._ready), name=f"kumiai-mcp-{self.definition.name}"
        )
        try:
            # Shielded, so the owner task decides how the future ends. asyncio.timeout,
            # not wait_for, which on Python 3.11 can swallow the turn's cancel as the
            # server becomes ready.
            async with asyncio.timeout(limit_seconds):
                return await asyncio.shield(self._ready)
        except asyncio.CancelledError:
            # The caller gave up (a cancelled turn): nobody will hold this server.
            self._owner.cancel()
            raise
        except TimeoutError:
            await self.stop()
            raise McpServerError(
                f"MCP server '{self.definition.name}' did not start within {limit_seconds:g} s"
            ) from None
        except McpServerError:
            await self.stop()
            raise

    async def call(
        self, tool: str, arguments: dict[str, Any], limit_seconds: float
    ) -> mcp_types.CallToolResult:
        """Run one tool; a closed connection marks this connection unusable."""
        client = self._client
        if client is None or not self.usable:
            raise McpServerError(f"MCP server '{self.definition.name}' is not running")
        try:
            async with asyncio.timeout(limit_seconds):
                return await client.call_tool(tool, arguments)
        except MCPError as error:
            if error.code == mcp_types.CONNECTION_CLOSED:
                self._closed = True
            raise

    async def stop(self) -> None:
        """Close the client (ending a stdio server's process) and wait for the owner task."""
        self._stopping.set()
        owner = self._owner
        if owner is None or owner.done():
            return
        if self._client is None:
            # Still starting: there is no session to close politely.
            owner.cancel()
        done, _ = await asyncio.wait({owner}, timeout=STOP_GRACE_SECONDS)
        if not done:
            owner.cancel()
            await asyncio.wait({owner})

    async def _own(self, ready: asyncio.Future[list[mcp_types.Tool]]) -> None:
        try:
            async with Client(_transport(self.definition, self._working_dir)) as client:
                tools = await _all_tools(client)
                self._client = client
                if not ready.done():
                    ready.set_result(tools)
                await self._stopping.wait()
        except asyncio.CancelledError:
            ready.cancel()
            raise
        except Exception as error:  # anyio groups wrap the cause; report its first leaf
            _fail(ready, McpServerError(_start_failure(self.definition.name, error)))
        finally:
            self._client = None


async def _all_tools(client: Client) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    for _ in range(MAX_TOOL_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def _fail(ready: asyncio.Future[list[mcp_types.Tool]], error: McpServerError) -> None:
    if not ready.done():
        ready.set_exception(error)


def _transport(definition: McpServerDefinition, working_dir: str) -> Transport:
    """The SDK transport for the definition, with ``${VAR}`` references expanded."""
    headers = expand_values(definition.headers)
    if definition.transport == "stdio":
        parameters = StdioServerParameters(
            command=expand(definition.command),
            args=[expand(arg) for arg in definition.args],
            env=expand_values(definition.env) or None,
            cwd=working_dir,
        )
        # The server's own log goes where KumiAI's does.
        return stdio_client(parameters, errlog=sys.stderr)
    if definition.transport == "sse":
        return sse_client(expand(definition.url), headers=headers or None)
    return _streamable_http(expand(definition.url), headers)


@contextlib.asynccontextmanager
async def _streamable_http(url: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    # The SDK leaves a client it was given open, so this one is closed here.
    async with (
        httpx2.AsyncClient(headers=headers, timeout=HTTP_TIMEOUT) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


def _start_failure(name: str, error: BaseException) -> str:
    cause = _first_leaf(error)
    if isinstance(cause, FileNotFoundError):
        reason = f"command not found ({cause.filename or cause})"
    elif isinstance(cause, MCPError) and cause.code == mcp_types.CONNECTION_CLOSED:
        reason = "the server closed the connection (it may have crashed on start)"
    else:
        reason = str(cause) or type(cause).__name__
    return f"MCP server '{name}' failed to start: {reason}"


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error
