"""The end-to-end PM scenario: a PM delegates to two specialists who report back."""

from __future__ import annotations

from pathlib import Path

from tests.integration.runtime.conftest import BOTH_RUNTIMES
from tests.integration.runtime.helpers import (
    assert_history_pairs,
    create_specialist,
    create_team,
    messages,
    send,
    session,
    settle,
    wait_until_idle,
)
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, ToolUse

PM = "You are Pat,"
SPAWN = "mcp__pm_management__spawn_instance"
CONTACT_PM = "mcp__common_tools__contact_pm"


def _script_specialist(claude: ScriptedAnthropic, name: str, filename: str) -> None:
    claude.enqueue(
        Reply.tool_use("Write", {"file_path": filename, "content": f"written by {name}"}),
        Reply.tool_use(CONTACT_PM, {"message": f"{filename} is written"}),
        Reply.text("Reported to the PM."),
        when_system_contains=f"You are {name},",
    )


@BOTH_RUNTIMES
async def test_a_pm_delegates_to_two_specialists_who_report_back(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana", "Eli")
    claude.enqueue(
        Reply.tool_use("mcp__pm_management__list_team_members", {}),
        Reply.turn(
            [
                ToolUse(
                    SPAWN,
                    {"agent_id": team.members["Dana"]["slug"], "task_description": "Write dana.md"},
                ),
                ToolUse(
                    SPAWN,
                    {"agent_id": team.members["Eli"]["slug"], "task_description": "Write eli.md"},
                ),
            ],
            stop_reason="tool_use",
        ),
        Reply.text("I've asked Dana and Eli to write their files."),
        Reply.text("One of them has reported."),
        Reply.text("Both files are written: dana.md and eli.md."),
        when_system_contains=PM,
    )
    _script_specialist(claude, "Dana", "dana.md")
    _script_specialist(claude, "Eli", "eli.md")

    await send(live.client, team.pm_session_id, "Please get both files written.")
    await wait_until_idle(live, team.pm_session_id, timeout=20)
    listed = await live.client.get(
        "/api/v2/sessions", params={"project_id": team.project["id"], "session_type": "specialist"}
    )
    specialists = listed.json()["data"]
    assert len(specialists) == 2
    await settle(live, claude, [team.pm_session_id, *[s["id"] for s in specialists]])

    project = Path(team.project["path"])
    assert (project / "dana.md").read_text() == "written by Dana"
    assert (project / "eli.md").read_text() == "written by Eli"
    assert claude.pending == 0

    pm_rows = await messages(live.client, team.pm_session_id)
    assert_history_pairs(pm_rows)
    user_rows = [row for row in pm_rows if row["role"] == "user"]
    assert user_rows[0]["sender_name"] is None
    assert sorted(row["sender_name"] for row in user_rows[1:]) == ["Dana", "Eli"]
    assert {row["content"] for row in user_rows[1:]} == {"dana.md is written", "eli.md is written"}
    assert pm_rows[-1]["content"] == "Both files are written: dana.md and eli.md."
    spawned = [row for row in pm_rows if row["role"] == "tool_result"][1:]
    assert all(not row["metadata"]["is_error"] for row in spawned)

    for specialist in specialists:
        assert specialist["context"]["spawned_by_session_id"] == team.pm_session_id
        rows = await messages(live.client, specialist["id"])
        assert_history_pairs(rows)
        assert rows[0]["sender_session_id"] == team.pm_session_id
        assert rows[0]["sender_name"] == "Pat"
        assert (await session(live.client, specialist["id"]))["status"] == "idle"
    assert (await session(live.client, team.pm_session_id))["status"] == "idle"


# On the API runtime only: the refusal is the tool's own, and an MCP tool's refusal on
# Claude Code (a spawn among them) is test_pm_tasks' two-runtime case.
async def test_a_pm_cannot_spawn_someone_outside_its_team(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    claude.enqueue(
        Reply.tool_use(SPAWN, {"agent_id": "stranger", "task_description": "x"}),
        Reply.text("Understood."),
    )
    await send(live.client, team.pm_session_id, "get a stranger")
    await wait_until_idle(live, team.pm_session_id)
    result = next(
        row
        for row in await messages(live.client, team.pm_session_id)
        if row["role"] == "tool_result"
    )
    assert result["metadata"]["is_error"] is True
    assert "not on this project's team" in result["content"]


async def test_a_specialist_can_message_another_session_of_its_project(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana", "Eli")
    dana = await create_specialist(live, team, "Dana")
    eli = await create_specialist(live, team, "Eli")
    claude.enqueue(
        Reply.tool_use(
            "mcp__pm_management__contact_instance",
            {"target_instance_id": eli, "message": "need the API spec"},
        ),
        Reply.text("Asked Eli."),
        when_system_contains="You are Dana,",
    )
    claude.enqueue(Reply.text("Here it is."), when_system_contains="You are Eli,")
    await send(live.client, dana, "coordinate with Eli")
    await settle(live, claude, [dana, eli])
    eli_rows = await messages(live.client, eli)
    assert eli_rows[0]["content"] == "need the API spec"
    assert eli_rows[0]["sender_session_id"] == dana
