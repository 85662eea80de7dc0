"""Why messages wait: the queue view and the session say it (a slot of a runtime, the
running turn, a cancel's hold)."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from kumiai.core.config import Settings
from tests.integration.runtime.helpers import (
    Team,
    counting_statements,
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


async def _listed(live: LiveApp, team: Team, **filters: object) -> dict[str, Any]:
    """The project's sessions as the v2 list shows them: their ``waiting``, by id."""
    response = await live.client.get(
        "/api/v2/sessions", params={"project_id": team.project["id"], **filters}
    )
    assert response.status_code == 200, response.text
    return {item["id"]: item["waiting"] for item in response.json()["data"]}


async def _held(live: LiveApp, claude: ScriptedAnthropic, session_id: str) -> None:
    """A message waits in the session's queue, held by a cancel of its running turn."""
    await start_a_long_task(live, claude, session_id)
    await send(live.client, session_id, "later")
    cancelled = await live.client.post(f"/api/v2/sessions/{session_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    async with asyncio.timeout(10):  # its worker retires: nothing of it runs any more
        while live.container.workers.draining(UUID(session_id)):
            await asyncio.sleep(0.02)


async def _waiting_for(live: LiveApp, session_id: str, reason: str) -> dict[str, Any]:
    """The queue once it says it waits for ``reason`` (a worker takes a moment to wait)."""
    async with asyncio.timeout(10):
        while True:
            queue = await _queue(live, session_id)
            if queue["waiting"] is not None and queue["waiting"]["reason"] == reason:
                return queue
            await asyncio.sleep(0.02)


async def _two_specialists_the_first_busy(
    live: LiveApp, claude: ScriptedAnthropic
) -> tuple[Team, str, str]:
    """Dana busy with a long task and Eli idle, in one team (on a cap of one API turn)."""
    team = await create_team(live, "Dana", "Eli")
    first = await create_specialist(live, team, "Dana")
    second = await create_specialist(live, team, "Eli")
    await start_a_long_task(live, claude, first)
    return team, first, second


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
        _, first, second = await _two_specialists_the_first_busy(live, claude)

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


async def test_a_list_of_sessions_says_why_each_ones_messages_wait_as_the_session_does(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana", "Eli")
    behind = await create_specialist(live, team, "Dana")
    held = await create_specialist(live, team, "Eli")
    idle = await create_specialist(live, team, "Dana")
    await _held(live, claude, held)
    await start_a_long_task(live, claude, behind)
    await send(live.client, behind, "next")

    listed = await _listed(live, team)

    assert listed[behind]["reason"] == "running_turn"
    assert listed[held]["reason"] == "held"
    assert listed[idle] is None
    assert listed[team.pm_session_id] is None
    for session_id, waiting in listed.items():
        assert waiting == (await session(live.client, session_id))["waiting"], session_id
    await live.client.post(f"/api/v2/sessions/{behind}/cancel")


async def test_a_list_reads_its_sessions_waiting_reasons_in_as_many_statements_for_four_as_for_one(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    held = [await create_specialist(live, team, "Dana") for _ in range(4)]
    for session_id in held:
        await _held(live, claude, session_id)
    specialists = {"session_type": "specialist"}

    with counting_statements(live) as one:
        first = await _listed(live, team, limit=1, **specialists)
    with counting_statements(live) as four:
        every = await _listed(live, team, limit=4, **specialists)

    assert list(first) == held[:1]
    assert list(every) == held
    assert [waiting["reason"] for waiting in every.values()] == ["held"] * 4
    assert len(four) == len(one), "\n".join(four)


async def _answers_as_its_get(
    live: LiveApp, method: str, path: str, status: int = 200, **body: object
) -> dict[str, Any] | None:
    """What an endpoint answering with a session (with ``status``) says of its
    ``waiting``, checked against ``GET /sessions/{id}`` right after."""
    response = await live.client.request(method, path, json=body or None)
    assert response.status_code == status, response.text
    answered = response.json()["data"]
    assert answered["waiting"] == (await session(live.client, answered["id"]))["waiting"], path
    return answered["waiting"]  # type: ignore[no-any-return]


async def test_every_endpoint_answering_with_a_session_says_why_its_messages_wait_as_its_get(
    live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    live_settings.max_api_turns = 1
    async with live_app(live_settings) as live:
        team, first, second = await _two_specialists_the_first_busy(live, claude)
        await send(live.client, first, "next")
        waiting = await send(live.client, second, "me too")
        await _waiting_for(live, second, "slot")
        base = "/api/v2/sessions"
        slot = {
            "reason": "slot",
            "runtime": "anthropic",
            "description": "waiting for a slot: runtime anthropic's cap of turns running at"
            " once is reached",
        }

        behind = await _answers_as_its_get(live, "PATCH", f"{base}/{first}", kanban_stage="active")
        patched = await _answers_as_its_get(live, "PATCH", f"{base}/{second}", kanban_stage="done")
        cancelled = await _answers_as_its_get(live, "POST", f"{base}/{second}/cancel")
        resumed = await _answers_as_its_get(live, "POST", f"{base}/{second}/resume")
        completed = await _answers_as_its_get(live, "POST", f"{base}/{second}/complete")
        created = await _answers_as_its_get(
            live,
            "POST",
            base,
            201,
            session_type="specialist",
            character_id=team.members["Eli"]["slug"],
            project_id=team.project["id"],
        )

        assert behind is not None and behind["reason"] == "running_turn"
        assert behind["runtime"] is None
        assert patched == slot
        assert cancelled is not None and cancelled["reason"] == "held"
        assert resumed == slot
        assert completed == slot
        assert created is None
        claude.enqueue(Reply.text("at last"))
        await live.client.post(f"{base}/{first}/cancel")
        await wait_for_event(live, second, "done", run_id=waiting["run_id"])


async def test_a_session_get_reads_the_session_and_its_waiting_reason_in_one_statement(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana", "Eli")
    held = await create_specialist(live, team, "Dana")
    idle = await create_specialist(live, team, "Eli")
    await _held(live, claude, held)

    with counting_statements(live) as waiting:
        with_queue = await session(live.client, held)
    with counting_statements(live) as quiet:
        without = await session(live.client, idle)

    assert with_queue["waiting"]["reason"] == "held"
    assert without["waiting"] is None
    assert len(waiting) == 1, "\n".join(waiting)
    assert len(quiet) == 1, "\n".join(quiet)


async def test_a_change_to_a_session_reads_its_waiting_reason_with_the_locked_row(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    held = await create_specialist(live, team, "Dana")
    await _held(live, claude, held)

    with counting_statements(live) as statements:
        patched = await live.client.patch(
            f"/api/v2/sessions/{held}", json={"kanban_stage": "active"}
        )

    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["waiting"]["reason"] == "held"
    reads = [s for s in statements if "pending_inputs" in s]
    assert len(reads) == 1, "\n".join(statements)
    assert "FOR UPDATE OF sessions" in reads[0]
