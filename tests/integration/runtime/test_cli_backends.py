"""An agent whose ``cli_backend`` is another CLI runs its turns there: the real Codex CLI
against the scripted Responses API server, stored and streamed like a Claude turn."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from kumiai.core.config import Settings
from tests.factories.definitions import make_skill
from tests.integration.cli_agents.cases import KEY_VARIABLE
from tests.integration.cli_agents.helpers import installed_cli
from tests.integration.runtime.helpers import (
    Team,
    create_specialist,
    create_team,
    messages,
    send,
    settle,
    wait_for_event,
    wait_for_status,
    wait_until_idle,
)
from tests.integration.runtime.test_mcp_tools import probe_processes, write_servers
from tests.support.live import LiveApp, live_app
from tests.support.mcp_probe_server import stdio_entry
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic
from tests.support.scripted_openai import ScriptedResponses, codex_provider, input_texts

CLI_TIMEOUT = 60
SPAWN = "mcp__pm_management__spawn_instance"


@pytest.fixture(scope="module")
def openai() -> Iterator[ScriptedResponses]:
    with ScriptedResponses() as server:
        yield server


@pytest.fixture
def live_settings(
    live_settings: Settings,
    openai: ScriptedResponses,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """The live app's settings, with Codex installed and pointed at the scripted server."""
    openai.reset()
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    monkeypatch.setenv("CODEX_HOME", str(codex_home))
    monkeypatch.setenv(KEY_VARIABLE, "test-key")
    return live_settings.model_copy(
        update={
            "codex_cli": installed_cli("codex"),
            "codex_models": ["gpt-scripted"],
            "codex_config": codex_provider(openai, KEY_VARIABLE),
        }
    )


async def _codex_team(live: LiveApp, **character: object) -> Team:
    """A project whose PM is Pat, on Claude, and whose specialist Cody is on Codex."""
    team = await create_team(live, "Cody")
    slug = team.members["Cody"]["slug"]
    response = await live.client.patch(
        f"/api/v2/characters/{slug}", json={"cli_backend": "codex", **character}
    )
    assert response.status_code == 200, response.text
    return team


async def test_a_codex_agent_s_turn_runs_in_codex_and_is_stored_like_any_other(
    live: LiveApp, openai: ScriptedResponses, claude: ScriptedAnthropic
) -> None:
    session_id = await create_specialist(live, await _codex_team(live), "Cody")
    openai.enqueue(Reply.text("Hello from Codex."))

    await send(live.client, session_id, "hi Cody")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)

    rows = await messages(live.client, session_id)
    assert [(row["role"], row["content"]) for row in rows] == [
        ("user", "hi Cody"),
        ("assistant", "Hello from Codex."),
    ]
    assert claude.requests == []
    asked = openai.requests[0]
    assert asked.model == "gpt-scripted"
    assert input_texts(asked, "user")[-1] == "hi Cody"
    assert "Cody" in "\n".join(input_texts(asked, "developer"))


async def test_a_pm_delegates_to_a_codex_specialist_whose_answer_comes_back_from_it(
    live: LiveApp, openai: ScriptedResponses, claude: ScriptedAnthropic
) -> None:
    team = await _codex_team(live)
    slug = team.members["Cody"]["slug"]
    claude.enqueue(
        Reply.tool_use(SPAWN, {"agent_id": slug, "task_description": "What is the answer?"}),
        Reply.text("I have asked Cody."),
        Reply.text("Cody says the answer is 42."),
        when_system_contains="You are Pat,",
    )
    openai.enqueue(Reply.text("The answer is 42."))

    await send(live.client, team.pm_session_id, "Find out the answer, please.")
    await settle(live, claude, [team.pm_session_id])
    listed = await live.client.get(
        "/api/v2/sessions", params={"project_id": team.project["id"], "session_type": "specialist"}
    )
    (specialist,) = listed.json()["data"]
    await wait_until_idle(live, specialist["id"], timeout=CLI_TIMEOUT)
    await wait_until_idle(live, team.pm_session_id, timeout=CLI_TIMEOUT)

    # Codex cannot call contact_pm: its answer reaches the PM as a message from Cody.
    pm_rows = await messages(live.client, team.pm_session_id)
    from_cody = [row for row in pm_rows if row["role"] == "user" and row["sender_name"]]
    assert [(row["sender_name"], row["content"]) for row in from_cody] == [
        ("Cody", "The answer is 42.")
    ]
    assert from_cody[0]["sender_session_id"] == specialist["id"]
    assert pm_rows[-1]["content"] == "Cody says the answer is 42."
    assert "What is the answer?" in input_texts(openai.requests[0], "user")[-1]


async def test_a_codex_agent_works_on_a_server_without_claude(
    live_settings: Settings, openai: ScriptedResponses
) -> None:
    without_claude = live_settings.model_copy(update={"anthropic_api_key": None})
    async with live_app(without_claude) as live:
        session_id = await create_specialist(live, await _codex_team(live), "Cody")
        openai.enqueue(Reply.text("No Claude needed."))

        await send(live.client, session_id, "hi Cody")
        await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)

        rows = await messages(live.client, session_id)
    assert rows[-1]["content"] == "No Claude needed."


async def test_a_codex_agent_s_mcp_servers_are_started_by_codex_alone(
    live: LiveApp, live_settings: Settings, openai: ScriptedResponses
) -> None:
    write_servers(live_settings, probe=stdio_entry())
    team = await _codex_team(live, allowed_mcps=["probe", "unknown"])
    session_id = await create_specialist(live, team, "Cody")
    openai.enqueue(Reply.text("Probed."))

    await send(live.client, session_id, "hi Cody")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)

    # Codex started the server (its MCP resource tools are offered), and KumiAI, whose
    # own servers are its children, started none for the turn.
    asked = openai.requests[0]
    assert "list_mcp_resources" in str(asked.body.get("tools"))
    assert [probe for probe in probe_processes() if probe.ppid() == os.getpid()] == []
    # A server that cannot run is still named to the agent.
    assert "no MCP server named 'unknown'" in "\n".join(input_texts(asked, "developer"))


async def test_a_codex_agent_is_told_it_lacks_kumiai_s_tools_and_gets_its_skills_in_full(
    live: LiveApp, openai: ScriptedResponses
) -> None:
    skill = await make_skill(
        live.client,
        name="Haiku",
        description="Writing haiku",
        content="Count five, seven, five syllables. SKILL-BODY-MARK",
    )
    team = await _codex_team(live, skills=[skill["slug"]])
    session_id = await create_specialist(live, team, "Cody")
    openai.enqueue(Reply.text("Understood."))

    await send(live.client, session_id, "hi Cody")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)

    instructions = "\n".join(input_texts(openai.requests[0], "developer"))
    assert "You run on Codex and work with its own tools." in instructions
    assert "spawn_instance, contact_instance, contact_pm" in instructions
    assert "it is delivered to the project manager as a message from you" in instructions
    # Nothing tells it to call a tool it does not have.
    assert "mcp__common_tools__" not in instructions
    assert "SKILL-BODY-MARK" in instructions


def _replayed(request_text: str, *texts: str) -> bool:
    """Whether the texts appear in this order in a transcript prompt."""
    position = 0
    for text in texts:
        position = request_text.find(text, position)
        if position < 0:
            return False
    return True


async def test_a_cancelled_codex_turn_reads_as_interrupted_by_the_user_next_turn(
    live: LiveApp, openai: ScriptedResponses
) -> None:
    session_id = await create_specialist(live, await _codex_team(live), "Cody")
    openai.enqueue(Reply.hang(timeout=60))
    await send(live.client, session_id, "stop me")
    await openai.wait_for_requests_async(1, timeout=CLI_TIMEOUT)

    await live.client.post(f"/api/v2/sessions/{session_id}/cancel")
    await wait_for_status(live.client, session_id, "cancelled")
    rows = await messages(live.client, session_id)
    assert rows[-1]["metadata"]["interrupted"]["by"] == "user"

    openai.enqueue(Reply.text("Something else, then."))
    await send(live.client, session_id, "do something else")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)

    # The CLI starts afresh with the stored history, the marker after the stopped message.
    prompt = input_texts(openai.requests[-1], "user")[-1]
    assert _replayed(prompt, "stop me", "[Request interrupted by user]", "do something else")


async def test_a_failed_codex_turn_ends_in_error_and_reads_as_cut_by_it_next_turn(
    live: LiveApp, openai: ScriptedResponses
) -> None:
    session_id = await create_specialist(live, await _codex_team(live), "Cody")
    openai.enqueue(Reply.error(400, message="scripted refusal"))
    await send(live.client, session_id, "fail please")
    await wait_for_status(live.client, session_id, "error", timeout=CLI_TIMEOUT)
    session = (await live.client.get(f"/api/v2/sessions/{session_id}")).json()["data"]
    assert "scripted refusal" in str(session)

    openai.enqueue(Reply.text("Better now."))
    await send(live.client, session_id, "try again")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)

    prompt = input_texts(openai.requests[-1], "user")[-1]
    assert _replayed(prompt, "fail please", "[Reply interrupted by an error: Codex:", "try again")
    assert "scripted refusal" in prompt


async def test_a_codex_turn_whose_cli_crashes_retries_visibly_and_finishes(
    live: LiveApp, openai: ScriptedResponses
) -> None:
    session_id = await create_specialist(live, await _codex_team(live), "Cody")
    openai.enqueue(Reply.hang(timeout=60), Reply.text("Recovered."))
    before = {child.pid for child in psutil.Process().children()}
    sent = await send(live.client, session_id, "survive this")
    await openai.wait_for_requests_async(1, timeout=CLI_TIMEOUT)
    (codex,) = [child for child in psutil.Process().children() if child.pid not in before]

    os.killpg(codex.pid, signal.SIGKILL)  # as if it crashed

    retry = await wait_for_event(live, session_id, "retry", run_id=sent["run_id"])
    assert (retry.data["attempt"], retry.data["error_type"]) == (1, "cli_exited")
    await wait_until_idle(live, session_id, timeout=CLI_TIMEOUT)
    rows = await messages(live.client, session_id)
    assert [(row["role"], row["content"]) for row in rows] == [
        ("user", "survive this"),
        ("assistant", "Recovered."),
    ]
