"""The model a turn asks for comes from the API's model list, and health shows it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.runtime.helpers import (
    create_specialist,
    create_team,
    send,
    wait_until_idle,
)
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, ScriptedModel

NEWER = [
    ScriptedModel("claude-sonnet-4-6", "2026-02-17T00:00:00Z", "sonnet"),
    ScriptedModel("claude-sonnet-5-5", "2026-09-01T00:00:00Z", "sonnet"),
    ScriptedModel("claude-opus-5-5", "2026-08-01T00:00:00Z", "opus"),
]


@pytest.fixture
def claude_with_models(claude: ScriptedAnthropic) -> ScriptedAnthropic:
    claude.set_models(NEWER)
    return claude


async def model_of_a_turn(live: LiveApp, claude: ScriptedAnthropic, **character: Any) -> str:
    """Send one message to a specialist made with ``character`` and return the model asked for."""
    team = await create_team(live, "Dana")
    if character:
        updated = await live.client.patch(
            f"/api/v2/characters/{team.members['Dana']['slug']}", json=character
        )
        assert updated.status_code == 200, updated.text
    session_id = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.text("Done."))
    await send(live.client, session_id, "hi")
    await wait_until_idle(live, session_id)
    [request] = claude.requests
    assert request.model is not None
    return request.model


async def test_without_a_model_choice_the_turn_uses_the_newest_sonnet(
    live: LiveApp, claude_with_models: ScriptedAnthropic
) -> None:
    assert await model_of_a_turn(live, claude_with_models) == "claude-sonnet-5-5"


async def test_a_v1_family_name_is_the_newest_model_of_that_family(
    live: LiveApp, claude_with_models: ScriptedAnthropic
) -> None:
    model = await model_of_a_turn(live, claude_with_models, default_model="opus")
    assert model == "claude-opus-5-5"


async def test_a_characters_full_model_id_is_used_as_is(
    live: LiveApp, claude_with_models: ScriptedAnthropic
) -> None:
    model = await model_of_a_turn(live, claude_with_models, default_model="claude-sonnet-4-6")
    assert model == "claude-sonnet-4-6"


async def test_the_users_preferred_family_applies_to_characters_without_a_model(
    live: LiveApp, claude_with_models: ScriptedAnthropic
) -> None:
    response = await live.client.patch("/api/v2/profile", json={"preferred_model": "opus"})
    assert response.status_code == 200, response.text
    assert await model_of_a_turn(live, claude_with_models) == "claude-opus-5-5"


async def test_health_shows_the_model_in_use(
    live: LiveApp, claude_with_models: ScriptedAnthropic
) -> None:
    response = await live.client.get("/api/health")
    assert response.status_code == 200, response.text
    assert response.json()["model"] == {
        "requested": "sonnet",
        "id": "claude-sonnet-5-5",
        "source": "model_list",
        "problem": None,
    }
    v2 = await live.client.get("/api/v2/health")
    assert v2.json()["data"]["model"]["id"] == "claude-sonnet-5-5"
