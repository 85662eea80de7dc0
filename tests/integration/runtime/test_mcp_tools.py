"""Agents get the tools of the MCP servers their character allows, run for real.

The server is tests/support/mcp_probe_server.py, started over stdio by the official
SDK; Claude is the scripted server. Starting a Python MCP server takes seconds on a
busy machine, hence the longer deadlines.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from kumiai.core.config import Settings
from tests.integration.runtime.helpers import (
    assert_history_pairs,
    messages,
    send,
    specialist_of_dana_with,
    wait_for_status,
    wait_until_idle,
)
from tests.support.live import LiveApp, live_app
from tests.support.mcp_probe_server import SCRIPT, stdio_entry
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, Text, ToolUse

STARTUP = 60.0


def write_servers(settings: Settings, **servers: dict[str, Any]) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "mcp_servers.json").write_text(json.dumps({"mcpServers": servers}))


def probe_processes() -> list[psutil.Process]:
    """The probe servers this test process started (and that are still alive)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if str(SCRIPT) in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


async def wait_for_no_probe(timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while probe_processes():
        if time.monotonic() > deadline:
            raise AssertionError(f"probe servers still running: {probe_processes()}")
        await asyncio.sleep(0.05)


@pytest.fixture
def probe_configured(live_settings: Settings) -> Iterator[None]:
    write_servers(live_settings, probe=stdio_entry(env={"PROBE_SECRET": "s3cr3t-value"}))
    yield


@pytest.mark.slow
@pytest.mark.usefixtures("probe_configured")
async def test_an_agent_allowed_a_server_calls_its_tool_and_gets_the_real_result(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await specialist_of_dana_with(live, allowed_mcps=["probe"])
    claude.enqueue(
        Reply.turn(
            [ToolUse("mcp__probe__echo", {"text": "hello"}), ToolUse("mcp__probe__whoami", {})],
            stop_reason="tool_use",
        ),
        Reply.text("The server answered."),
    )
    await send(live.client, session_id, "use the probe")
    await wait_until_idle(live, session_id, timeout=STARTUP)

    first, second = await claude.wait_for_requests_async(2)
    tools = {tool["name"]: tool for tool in first.tools}
    assert {"mcp__probe__echo", "mcp__probe__crash", "mcp__probe__slow"} <= set(tools)
    assert tools["mcp__probe__echo"]["input_schema"]["properties"]["text"]["type"] == "string"
    assert tools["mcp__probe__echo"]["input_schema"]["required"] == ["text"]
    assert tools["mcp__probe__echo"]["description"] == "Return the text, prefixed with 'echo: '."
    results = second.messages[-1]["content"]
    assert results[0]["content"] == "echo: hello" and results[0]["is_error"] is False
    rows = await messages(live.client, session_id)
    assert [
        row["metadata"]["tool_use"]["name"] for row in rows if "tool_use" in row["metadata"]
    ] == [
        "mcp__probe__echo",
        "mcp__probe__whoami",
    ]
    whoami = next(row for row in rows if row["role"] == "tool_result" and "cwd=" in row["content"])
    session = (await live.client.get(f"/api/v2/sessions/{session_id}")).json()["data"]
    project = (await live.client.get(f"/api/v2/projects/{session['project_id']}")).json()["data"]
    # The env reaches the server (and only the server); it runs in the session's folder.
    assert whoami["content"] == f"cwd={project['path']} secret=s3cr3t-value"
    assert rows[-1]["content"] == "The server answered."
    assert_history_pairs(rows)


@pytest.mark.slow
@pytest.mark.usefixtures("probe_configured")
async def test_an_agent_without_the_server_does_not_see_its_tools(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await specialist_of_dana_with(live, allowed_mcps=[])
    claude.enqueue(Reply.text("No MCP here."))
    await send(live.client, session_id, "hello")
    await wait_until_idle(live, session_id)

    (request,) = claude.requests
    assert not [tool for tool in request.tools if tool["name"].startswith("mcp__probe__")]
    assert probe_processes() == []


@pytest.mark.slow
@pytest.mark.usefixtures("probe_configured")
async def test_a_crashing_server_gives_an_error_result_and_is_restarted_on_next_use(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await specialist_of_dana_with(live, allowed_mcps=["probe"])
    claude.enqueue(
        Reply.tool_use("mcp__probe__crash", {}),
        Reply.tool_use("mcp__probe__echo", {"text": "again"}),
        Reply.text("Recovered."),
    )
    await send(live.client, session_id, "crash it")
    await wait_until_idle(live, session_id, timeout=STARTUP)

    rows = await messages(live.client, session_id)
    results = [row for row in rows if row["role"] == "tool_result"]
    assert results[0]["metadata"]["is_error"] is True
    assert "MCP server 'probe' stopped while running crash" in results[0]["content"]
    assert (results[1]["content"], results[1]["metadata"]["is_error"]) == ("echo: again", False)
    assert rows[-1]["content"] == "Recovered."
    assert (await wait_for_status(live.client, session_id, "idle"))["error_message"] is None


@pytest.mark.slow
@pytest.mark.usefixtures("probe_configured")
async def test_cancel_during_a_slow_mcp_call_stops_the_turn_within_a_second(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await specialist_of_dana_with(live, allowed_mcps=["probe"])
    claude.enqueue(Reply.tool_use("mcp__probe__slow", {"seconds": 60}))
    await send(live.client, session_id, "take your time")
    await wait_for_status(live.client, session_id, "working", timeout=STARTUP)

    started = time.monotonic()
    response = await live.client.post(f"/api/v2/sessions/{session_id}/cancel")
    elapsed = time.monotonic() - started

    assert response.json()["data"]["status"] == "cancelled"
    assert elapsed < 1.0
    rows = await messages(live.client, session_id)
    assert rows[-1]["role"] == "tool_result" and rows[-1]["metadata"]["is_error"] is True
    assert_history_pairs(rows)
    # The server outlives the cancelled call: the next turn reuses it.
    (server,) = probe_processes()
    claude.enqueue(Reply.tool_use("mcp__probe__echo", {"text": "still here"}), Reply.text("ok"))
    await send(live.client, session_id, "again")
    await wait_until_idle(live, session_id, timeout=STARTUP)
    assert (await messages(live.client, session_id))[-2]["content"] == "echo: still here"
    assert probe_processes() == [server]


@pytest.mark.slow
@pytest.mark.usefixtures("probe_configured")
async def test_deleting_the_session_stops_its_servers(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await specialist_of_dana_with(live, allowed_mcps=["probe"])
    claude.enqueue(Reply.tool_use("mcp__probe__echo", {"text": "x"}), Reply.text("done"))
    await send(live.client, session_id, "go")
    await wait_until_idle(live, session_id, timeout=STARTUP)
    assert len(probe_processes()) == 1

    response = await live.client.delete(f"/api/v2/sessions/{session_id}")

    assert response.status_code == 204
    await wait_for_no_probe()


@pytest.mark.slow
async def test_a_server_that_cannot_start_is_named_to_the_agent_and_the_turn_goes_on(
    live: LiveApp, live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    write_servers(live_settings, broken={"command": "/nonexistent/kumiai-mcp-server"})
    session_id = await specialist_of_dana_with(live, allowed_mcps=["broken", "unknown"])
    claude.enqueue(Reply.turn([Text("The broken server is down.")]))
    await send(live.client, session_id, "hello")
    await wait_until_idle(live, session_id, timeout=STARTUP)

    (request,) = claude.requests
    system = json.dumps(request.system)
    assert "MCP server 'broken' failed to start: command not found" in system
    assert "no MCP server named 'unknown' is configured" in system
    assert (await wait_for_status(live.client, session_id, "idle"))["status"] == "idle"


async def test_live_app_shutdown_leaves_no_server_running(
    live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    write_servers(live_settings, probe=stdio_entry())
    async with live_app(live_settings) as live:
        session_id = await specialist_of_dana_with(live, allowed_mcps=["probe"])
        claude.enqueue(Reply.tool_use("mcp__probe__echo", {"text": "x"}), Reply.text("done"))
        await send(live.client, session_id, "go")
        await wait_until_idle(live, session_id, timeout=STARTUP)
        assert len(probe_processes()) == 1
    await wait_for_no_probe(timeout=1)
