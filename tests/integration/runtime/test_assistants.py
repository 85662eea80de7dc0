"""Assistant sessions: the skill assistant's edits are indexed live; agents can notify."""

from __future__ import annotations

import asyncio

from tests.integration.runtime.helpers import (
    create_team,
    send,
    wait_for_subscriber,
    wait_until_idle,
)
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic
from tests.support.sse import Event, collect

SKILL_MD = "---\nname: Release Notes\ndescription: Write release notes\n---\nList changes.\n"


async def _follow_until_done(live: LiveApp, session_id: str) -> list[Event]:
    async with live.client.stream(
        "GET", f"/api/v2/sessions/{session_id}/events", params={"after": 0}
    ) as response:
        return await collect(response, until="done")


async def _assistant(live: LiveApp, session_type: str) -> str:
    response = await live.client.post("/api/v2/sessions", json={"session_type": session_type})
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]  # type: ignore[no-any-return]


async def test_a_skill_written_by_the_skill_assistant_is_indexed_at_once(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await _assistant(live, "skill_assistant")
    claude.enqueue(
        Reply.tool_use("Write", {"file_path": "release-notes/SKILL.md", "content": SKILL_MD}),
        Reply.text("Created the release-notes skill."),
    )
    follower = asyncio.create_task(_follow_until_done(live, session_id))
    await wait_for_subscriber(live, session_id)
    await send(live.client, session_id, "make a release notes skill")
    events = await asyncio.wait_for(follower, timeout=10)

    saved = [event for event in events if event.type == "definition_saved"]
    assert [(event.data["kind"], event.data["slug"]) for event in saved] == [
        ("skill", "release-notes")
    ]
    skill = (await live.client.get("/api/v2/skills/release-notes")).json()["data"]
    assert skill["name"] == "Release Notes"
    assert skill["description"] == "Write release notes"


async def test_a_write_outside_any_definition_folder_saves_nothing(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id = await _assistant(live, "skill_assistant")
    claude.enqueue(
        Reply.tool_use("Write", {"file_path": "notes.txt", "content": "scratch"}),
        Reply.text("Noted."),
    )
    follower = asyncio.create_task(_follow_until_done(live, session_id))
    await wait_for_subscriber(live, session_id)
    await send(live.client, session_id, "take a note")
    events = await asyncio.wait_for(follower, timeout=10)
    assert all(event.type != "definition_saved" for event in events)


async def test_an_agent_can_send_the_user_a_notification(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    claude.enqueue(
        Reply.tool_use(
            "mcp__common_tools__notify_user",
            {"title": "Build done", "message": "All green", "priority": "high"},
        ),
        Reply.text("I told you."),
    )
    follower = asyncio.create_task(_follow_until_done(live, team.pm_session_id))
    await wait_for_subscriber(live, team.pm_session_id)
    await send(live.client, team.pm_session_id, "tell me when it is done")
    events = await asyncio.wait_for(follower, timeout=10)
    await wait_until_idle(live, team.pm_session_id)
    (notification,) = [event for event in events if event.type == "notification"]
    assert notification.data["title"] == "Build done"
    assert notification.data["priority"] == "high"
    assert notification.data["project_name"] == "Apollo"
