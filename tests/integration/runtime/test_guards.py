"""Runaway guards: agents cannot loop forever, and closed projects take no new work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest

from kumiai.application.ports.events import SessionEvent
from kumiai.application.services.runtime.events import Subscription
from kumiai.core.config import Settings
from tests.integration.runtime.helpers import (
    create_specialist,
    create_team,
    messages,
    send,
    settle,
    wait_for_status,
    wait_until_idle,
)
from tests.support.live import LiveApp, live_app
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic

SPAWN = "mcp__pm_management__spawn_instance"
CONTACT = "mcp__pm_management__contact_instance"
SPECIALIST_LIMIT = 1
MESSAGE_BUDGET = 3


@pytest.fixture
async def guarded(live_settings: Settings) -> AsyncIterator[LiveApp]:
    settings = live_settings.model_copy(
        update={
            "max_specialists_per_session": SPECIALIST_LIMIT,
            "agent_message_budget": MESSAGE_BUDGET,
        }
    )
    async with live_app(settings) as app:
        yield app


def _tool_results(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row["role"] == "tool_result"]


async def _next_of_type(subscription: Subscription, event_type: str) -> SessionEvent:
    async def find() -> SessionEvent:
        while (event := await subscription.next()) is not None:
            if event.type == event_type:
                return event
        raise AssertionError(f"the subscription ended before a {event_type!r} event")

    return await asyncio.wait_for(find(), timeout=10)


async def test_an_agent_cannot_contact_its_own_session(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    dana = await create_specialist(live, team, "Dana")
    claude.enqueue(
        Reply.tool_use(CONTACT, {"target_instance_id": dana, "message": "note to self"}),
        Reply.text("Right, I'll do it myself."),
    )
    await send(live.client, dana, "go")
    await wait_until_idle(live, dana)

    rows = await messages(live.client, dana)
    (result,) = _tool_results(rows)
    assert result["metadata"]["is_error"] is True
    assert "your own session" in result["content"]
    assert [row["content"] for row in rows if row["role"] == "user"] == ["go"]


async def test_a_pm_cannot_start_more_specialists_than_the_limit(
    guarded: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(guarded, "Dana")
    slug = team.members["Dana"]["slug"]
    claude.enqueue(
        Reply.tool_use(SPAWN, {"agent_id": slug, "task_description": "part one"}),
        Reply.tool_use(SPAWN, {"agent_id": slug, "task_description": "part two"}),
        Reply.text("Dana has both parts."),
        when_system_contains="You are Pat,",
    )
    claude.enqueue(Reply.text("On it."), when_system_contains="You are Dana,")
    pm_events = await guarded.container.events.subscribe(UUID(team.pm_session_id))

    await send(guarded.client, team.pm_session_id, "split the work")
    notification = await _next_of_type(pm_events, "notification")
    await wait_until_idle(guarded, team.pm_session_id)

    first, second = _tool_results(await messages(guarded.client, team.pm_session_id))
    assert first["metadata"]["is_error"] is False
    assert second["metadata"]["is_error"] is True
    assert f"already started {SPECIALIST_LIMIT} specialists" in second["content"]
    assert notification.data["priority"] == "high"
    assert f"more than {SPECIALIST_LIMIT} specialists" in notification.data["message"]
    listed = await guarded.client.get(
        "/api/v2/sessions", params={"project_id": team.project["id"], "session_type": "specialist"}
    )
    assert len(listed.json()["data"]) == SPECIALIST_LIMIT


def _script_ping_pong(claude: ScriptedAnthropic, name: str, other: str, turns: int) -> None:
    """``name`` answers every message by messaging ``other``."""
    for _ in range(turns):
        claude.enqueue(
            Reply.tool_use(CONTACT, {"target_instance_id": other, "message": "over to you"}),
            Reply.text("Passed it on."),
            when_system_contains=f"You are {name},",
        )


async def test_agents_messaging_each_other_stop_when_the_request_budget_is_spent(
    guarded: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(guarded, "Dana", "Eli")
    dana = await create_specialist(guarded, team, "Dana")
    eli = await create_specialist(guarded, team, "Eli")
    # Dana -> Eli -> Dana -> Eli spends the budget of 3; Eli's next message is refused.
    _script_ping_pong(claude, "Dana", eli, turns=2)
    _script_ping_pong(claude, "Eli", dana, turns=2)
    dana_events = await guarded.container.events.subscribe(UUID(dana))

    await send(guarded.client, dana, "start the relay")
    notification = await _next_of_type(dana_events, "notification")
    await settle(guarded, claude, [dana, eli])

    assert claude.pending == 0
    eli_results = _tool_results(await messages(guarded.client, eli))
    assert [row["metadata"]["is_error"] for row in eli_results] == [False, True]
    assert f"budget of {MESSAGE_BUDGET} messages" in eli_results[-1]["content"]
    assert f"{MESSAGE_BUDGET} messages" in notification.data["message"]
    dana_inbox = [row for row in await messages(guarded.client, dana) if row["role"] == "user"]
    assert [row["sender_session_id"] for row in dana_inbox] == [None, eli]


async def test_a_new_message_from_the_user_brings_a_fresh_budget(
    guarded: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(guarded, "Dana", "Eli")
    dana = await create_specialist(guarded, team, "Dana")
    eli = await create_specialist(guarded, team, "Eli")
    for request in ("first", "second"):
        for _ in range(MESSAGE_BUDGET):
            claude.enqueue(
                Reply.tool_use(CONTACT, {"target_instance_id": eli, "message": request}),
                when_system_contains="You are Dana,",
            )
        claude.enqueue(Reply.text("All sent."), when_system_contains="You are Dana,")
        for _ in range(MESSAGE_BUDGET):
            claude.enqueue(Reply.text("Noted."), when_system_contains="You are Eli,")

        await send(guarded.client, dana, f"tell Eli {MESSAGE_BUDGET} times")
        await settle(guarded, claude, [dana, eli])

    assert claude.pending == 0
    results = _tool_results(await messages(guarded.client, dana))
    assert len(results) == 2 * MESSAGE_BUDGET
    assert not any(row["metadata"]["is_error"] for row in results)


async def test_a_session_of_an_archived_project_refuses_new_messages(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    dana = await create_specialist(live, team, "Dana")
    archived = await live.client.post(f"/api/v2/projects/{team.project['id']}/archive")
    assert archived.status_code == 200, archived.text

    response = await live.client.post(f"/api/v2/sessions/{dana}/messages", json={"content": "hi"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert "archived" in error["message"]
    assert error["details"]["reason"] == "project_archived"
    legacy = await live.client.post(f"/api/v1/sessions/{dana}/query", json={"query": "hi"})
    assert legacy.status_code == 409
    assert "unarchive" in legacy.json()["detail"]
    assert await messages(live.client, dana) == []
    assert claude.requests == []

    await live.client.post(f"/api/v2/projects/{team.project['id']}/unarchive")
    claude.enqueue(Reply.text("Back at work."))
    await send(live.client, dana, "hello again")
    await wait_until_idle(live, dana)


async def test_the_queue_of_an_archived_project_waits_until_it_is_unarchived(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    dana = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.hang("Working on it"))
    await send(live.client, dana, "a long job")
    await claude.wait_for_requests_async(1)  # stopped before that, the hang would stay queued
    waiting = await send(live.client, dana, "and this afterwards")
    archived = await live.client.post(f"/api/v2/projects/{team.project['id']}/archive")
    assert archived.status_code == 200, archived.text
    # A resume while archived starts nothing: the accepted message keeps waiting.
    await wait_for_status(live.client, dana, "cancelled")
    await live.client.post(f"/api/v2/sessions/{dana}/resume")
    async with asyncio.timeout(10):  # until the drain found nothing it may start
        while UUID(dana) in live.container.workers._workers:
            await asyncio.sleep(0.01)
    queue = (await live.client.get(f"/api/v2/sessions/{dana}/queue")).json()["data"]
    assert [item["content"] for item in queue["messages"]] == ["and this afterwards"]
    assert len(claude.requests) == 1

    claude.enqueue(Reply.text("Done afterwards."))
    await live.client.post(f"/api/v2/projects/{team.project['id']}/unarchive")
    await wait_until_idle(live, dana)
    rows = await messages(live.client, dana)
    assert [row["content"] for row in rows if row["role"] == "user"][-1] == "and this afterwards"
    assert [row["id"] for row in rows if row["role"] == "user"][-1] == waiting["message_id"]
    assert rows[-1]["content"] == "Done afterwards."


async def test_deleting_a_project_for_good_stops_its_runs(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    dana = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.hang("Working on it"))
    events = await live.container.events.subscribe(UUID(dana))
    await send(live.client, dana, "a long job")
    await wait_for_status(live.client, dana, "thinking")

    response = await live.client.delete(f"/api/v2/projects/{team.project['id']}/permanent")
    assert response.status_code == 204
    await _next_of_type(events, "cancelled")
    assert live.container.workers.running(UUID(dana)) is None
    gone = await live.client.get(f"/api/v2/sessions/{dana}")
    assert gone.status_code == 404
