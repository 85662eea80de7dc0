"""A turn stopped while its MCP server starts stays stopped, however the two meet."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from kumiai.application.ports.mcp import McpServerDefinition
from kumiai.infrastructure.mcp.connection import McpConnection

SERVER = McpServerDefinition(
    name="slow", transport="stdio", source="kumiai", command=sys.executable, args=()
)


async def test_a_turn_stopped_as_its_server_becomes_ready_is_not_carried_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held = asyncio.Event()

    async def ready_as_the_stop_comes(_: McpConnection, ready: asyncio.Future[Any]) -> None:
        ready.set_result([])
        starting.cancel()  # the user stops the turn in the same turn of the loop
        await held.wait()  # the server runs until its owner is cancelled

    monkeypatch.setattr(McpConnection, "_own", ready_as_the_stop_comes)
    connection = McpConnection(SERVER, "/")
    starting = asyncio.create_task(connection.start(5))

    with pytest.raises(asyncio.CancelledError):
        await starting
    # Nobody holds the server any more: its owner was stopped with the turn.
    owner = connection._owner
    assert owner is not None
    with pytest.raises(asyncio.CancelledError):
        await owner
