"""The session pool stops a server nobody used for its idle time and starts it again
when the session needs it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from uuid import uuid4

import pytest

from kumiai.application.ports.mcp import McpServerDefinition
from kumiai.application.ports.tools import ToolContext
from kumiai.infrastructure.mcp.pool import McpSessionPool
from tests.support.mcp_probe_server import SCRIPT

PROBE = McpServerDefinition(
    name="probe", transport="stdio", source="kumiai", command=sys.executable, args=(str(SCRIPT),)
)


@pytest.mark.slow
async def test_an_idle_server_is_stopped_and_restarted_on_next_use(tmp_path: Path) -> None:
    pool = McpSessionPool(start_timeout=60, idle_timeout=0.3)
    session_id = uuid4()
    try:
        toolset = await pool.toolset(session_id, str(tmp_path), [PROBE])
        echo = next(tool for tool in toolset.tools if tool.spec.name == "mcp__probe__echo")
        first = pool.running(session_id)["probe"]

        async with asyncio.timeout(10):
            while pool.running(session_id):
                await asyncio.sleep(0.05)
        assert not first.usable

        context = ToolContext(session_id, None, str(tmp_path), "specialist")
        outcome = await echo.run({"text": "back"}, context)
        assert (outcome.content, outcome.is_error) == ("echo: back", False)
        assert pool.running(session_id)["probe"] is not first
    finally:
        await pool.aclose()
    assert pool.running(session_id) == {}
