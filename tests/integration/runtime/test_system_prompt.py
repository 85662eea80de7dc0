"""What the agent is told about the user reaches Claude in the system prompt."""

from __future__ import annotations

import json

from tests.integration.runtime.helpers import create_specialist, create_team, send, wait_until_idle
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic


async def test_the_profile_name_description_and_preferences_reach_every_agent(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    description = "I maintain a bakery's website.\nPlease answer briefly."
    profile = await live.client.patch(
        "/api/v2/profile",
        json={
            "display_name": "Mika",
            "description": description,
            "preferences": {"language": "Japanese"},
        },
    )
    assert profile.status_code == 200, profile.text
    team = await create_team(live, "Dana")
    specialist = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.text("Hello Mika."), Reply.text("Welcome, Mika."))

    for session_id in (specialist, team.pm_session_id):
        await send(live.client, session_id, "hi")
        await wait_until_idle(live, session_id)

    assert len(claude.requests) == 2
    for request in claude.requests:
        system = json.dumps(request.system, ensure_ascii=False)
        assert "The user's name is Mika." in system
        assert json.dumps(description)[1:-1] in system
        assert "Japanese" in system


async def test_a_blank_description_adds_nothing_to_the_prompt(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    await live.client.patch("/api/v2/profile", json={"description": "   "})
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.text("Hello."))
    await send(live.client, session_id, "hi")
    await wait_until_idle(live, session_id)
    assert "About the user" not in json.dumps(claude.requests[0].system)
