"""Why messages wait: the queue view and the session say it (a slot of a runtime, the
running turn, a cancel's hold)."""

from __future__ import annotations

import asyncio
from typing import Any

from kumiai.core.config import Settings
from tests.integration.runtime.helpers import (
    create_specialist,
    create_team,
    send,
    session,
    start_a_long_task,
    wait_for_event,
)
from tests.support.live import LiveApp, live_app
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic


async def _queue(live: LiveApp, session_id: str) -> dict[str, Any]:
    response = await live.client.get(f"/api/v2/sessions/{session_id}/queue")
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


async def _waiting_for(live: LiveApp, session_id: str, reason: str) -> dict[str, Any]:
    """The queue once it says it waits for ``reason`` (a worker takes a moment to wait)."""
    async with asyncio.timeout(10):
        while True:
            queue = await _queue(live, session_id)
            if queue["waiting"] is not None and queue["waiting"]["reason"] == reason:
                return queue
            await asyncio.sleep(0.02)


async def test_a_message_sent_during_a_turn_says_it_queues_behind_the_running_turn(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    await start_a_long_task(live, claude, session_id)

    await send(live.client, session_id, "next")

    queue = await _queue(live, session_id)
    assert queue["waiting"]["reason"] == "running_turn"
    assert queue["waiting"]["runtime"] is None
    assert (await session(live.client, session_id))["waiting"]["reason"] == "running_turn"
    await live.client.post(f"/api/v2/sessions/{session_id}/cancel")


async def test_messages_held_by_a_cancel_say_so_until_a_resume(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    await start_a_long_task(live, claude, session_id)
    later = await send(live.client, session_id, "later")

    cancelled = await live.client.post(f"/api/v2/sessions/{session_id}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    queue = await _queue(live, session_id)
    assert queue["paused"] is True
    assert queue["waiting"]["reason"] == "held"
    assert (await session(live.client, session_id))["waiting"]["reason"] == "held"
    claude.enqueue(Reply.text("resumed"))
    await live.client.post(f"/api/v2/sessions/{session_id}/resume")
    await wait_for_event(live, session_id, "done", run_id=later["run_id"])
    assert (await _queue(live, session_id))["waiting"] is None


async def test_a_session_with_nothing_waiting_has_no_waiting_reason(
    live: LiveApp, session_id: str
) -> None:
    assert (await _queue(live, session_id))["waiting"] is None
    assert (await session(live.client, session_id))["waiting"] is None


async def test_a_turn_beyond_its_runtimes_cap_says_it_waits_for_a_slot_of_that_runtime(
    live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    live_settings.max_api_turns = 1
    async with live_app(live_settings) as live:
        team = await create_team(live, "Dana", "Eli")
        first = await create_specialist(live, team, "Dana")
        second = await create_specialist(live, team, "Eli")
        await start_a_long_task(live, claude, first)

        waiting = await send(live.client, second, "me too")

        queue = await _waiting_for(live, second, "slot")
        assert waiting["queued"] is True
        assert queue["waiting"]["runtime"] == "anthropic"
        assert "anthropic" in queue["waiting"]["description"]
        assert queue["paused"] is False
        status = await session(live.client, second)
        assert status["status"] == "idle"
        assert status["waiting"]["reason"] == "slot"
        assert status["waiting"]["runtime"] == "anthropic"

        claude.enqueue(Reply.text("at last"))
        await live.client.post(f"/api/v2/sessions/{first}/cancel")
        await wait_for_event(live, second, "done", run_id=waiting["run_id"])
        assert (await _queue(live, second))["waiting"] is None
        assert (await session(live.client, second))["waiting"] is None
