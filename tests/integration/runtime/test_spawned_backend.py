"""A specialist a PM spawns runs on its own character's CLI backend, not the PM's."""

from __future__ import annotations

from tests.integration.runtime.helpers import create_team, send, settle
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic

SPAWN = "mcp__pm_management__spawn_instance"


async def test_a_spawned_specialist_copies_its_characters_cli_backend(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    dana = team.members["Dana"]["slug"]
    switched = await live.client.patch(
        f"/api/v2/characters/{dana}", json={"cli_backend": "opencode"}
    )
    assert switched.status_code == 200, switched.text
    claude.enqueue(
        Reply.tool_use(SPAWN, {"agent_id": dana, "task_description": "Write notes.md"}),
        Reply.text("Dana is on it."),
        when_system_contains="You are Pat,",
    )
    # Dana's own turn runs in OpenCode (not installed for the test: it fails), never on
    # Claude.

    await send(live.client, team.pm_session_id, "Ask Dana for notes.")
    await settle(live, claude, [team.pm_session_id])
    listed = await live.client.get(
        "/api/v2/sessions", params={"project_id": team.project["id"], "session_type": "specialist"}
    )
    specialists = listed.json()["data"]
    await settle(live, claude, [specialist["id"] for specialist in specialists])

    assert [specialist["cli_backend"] for specialist in specialists] == ["opencode"]
    assert not [request for request in claude.requests if "You are Dana," in str(request.system)]
    pm = await live.client.get(f"/api/v2/sessions/{team.pm_session_id}")
    assert pm.json()["data"]["cli_backend"] == "claude"
