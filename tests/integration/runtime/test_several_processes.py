"""Two server processes on one database, in one test process: session ownership, the
control channel and the takeover of a dead process's sessions (the e2e tests run real
``kumiai serve`` processes; these are the fast version of the same rules)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa

from kumiai.application.services.runtime.ownership import this_host
from kumiai.core.config import Settings
from kumiai.infrastructure.database.repositories.processes import SqlProcessLeases
from tests.integration.runtime.helpers import (
    DATABASE,
    EXTRAS,
    ask_questions,
    create_specialist,
    create_team,
    messages,
    send,
    start_a_long_task,
    stream_reading,
    wait_for_event,
    wait_until_idle,
)
from tests.support.live import LiveApp, live_app
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, ToolUse
from tests.support.sse import collect

LEASE_SECONDS = 3.0


@pytest.fixture
def live_settings(live_settings: Settings) -> Settings:
    # Short leases, for a takeover within seconds; not shorter than building a second app
    # takes, since it blocks the first one's heartbeat here (one event loop for both).
    live_settings.process_lease_seconds = LEASE_SECONDS
    live_settings.process_heartbeat_seconds = 0.2
    return live_settings


@pytest.fixture
async def leases(live: LiveApp) -> AsyncIterator[SqlProcessLeases]:
    """The lease table as another server process would use it."""
    database = live.container.database
    leases = SqlProcessLeases(database.url, database.engine)
    try:
        yield leases
    finally:
        await leases.close()


async def _answered_after_a_takeover(
    live: LiveApp, claude: ScriptedAnthropic, leases: SqlProcessLeases, host: str, pid: int
) -> tuple[str, UUID, float]:
    """A specialist session owned by a process that never answers (its lease names
    ``host`` and ``pid``), sent a message through this one (which tells the owner): the
    session, the dead owner, and the seconds until this process answered it."""
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    dead = uuid4()
    await leases.join(dead, host, pid)
    assert await leases.claim(UUID(session_id), dead) == dead
    claude.enqueue(Reply.text("Taken over."))
    started = time.monotonic()
    await send(live.client, session_id, "hello")
    while "Taken over." not in await _contents(live, session_id):
        assert time.monotonic() - started < 10, "the session was never taken over"
        await asyncio.sleep(0.05)
    return session_id, dead, time.monotonic() - started


async def test_a_message_to_a_session_a_dead_process_owned_is_answered_after_the_takeover(
    live: LiveApp, claude: ScriptedAnthropic, leases: SqlProcessLeases
) -> None:
    session_id, dead, took = await _answered_after_a_takeover(live, claude, leases, "elsewhere", 1)
    assert took >= LEASE_SECONDS / 2  # not before it lapsed
    assert await _contents(live, session_id) == ["hello", "Taken over."]
    owner = await leases.live_owner(UUID(session_id), lease_seconds=LEASE_SECONDS)
    assert owner not in (None, dead)


async def test_a_process_gone_from_this_host_is_taken_over_at_the_next_heartbeat(
    live: LiveApp, claude: ScriptedAnthropic, leases: SqlProcessLeases
) -> None:
    exited = await asyncio.create_subprocess_exec("true")
    await exited.wait()  # reaped: its pid names no process now
    # Its lease is fresh (it would last LEASE_SECONDS), but its pid is gone here.
    _, _, took = await _answered_after_a_takeover(live, claude, leases, this_host(), exited.pid)
    assert took < LEASE_SECONDS  # before the lease could lapse


async def test_a_live_process_of_this_host_keeps_its_sessions_while_its_lease_lasts(
    live: LiveApp, leases: SqlProcessLeases
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    alive = uuid4()
    # This test's own pid: a live process on this host, whose lease is renewed.
    await leases.join(alive, this_host(), os.getpid())
    assert await leases.claim(UUID(session_id), alive) == alive
    for _ in range(4):  # several of the app's heartbeats (0.2 s each)
        await asyncio.sleep(0.3)
        assert await leases.renew(alive)
    owner = await leases.live_owner(UUID(session_id), lease_seconds=LEASE_SECONDS)
    assert owner == alive


async def _contents(live: LiveApp, session_id: str) -> list[str]:
    return [str(row["content"]) for row in await messages(live.client, session_id)]


async def test_a_cancel_through_another_process_stops_the_owners_turn_within_a_second(
    live: LiveApp, live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    await start_a_long_task(live, claude, session_id)
    async with live_app(live_settings, keep_data=True) as other:
        started = time.monotonic()
        response = await other.client.post(f"/api/v2/sessions/{session_id}/cancel")
        elapsed = time.monotonic() - started

    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "cancelled"
    assert elapsed < 1.0
    assert live.container.workers.running(UUID(session_id)) is None


# The web client's question form, as it sends the answers (a message).
FORM_ANSWERS = "My answers:\n\n**Database:** PostgreSQL\n\n**Extras:**\n  - Redis"


def _result_of(rows: list[dict[str, Any]], call: ToolUse) -> str:
    (result,) = [row for row in rows if row.get("tool_use_id") == call.id][1:]
    return str(result["content"])


async def test_answers_sent_to_another_process_settle_the_question_with_the_owners_outcome(
    live: LiveApp, live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    call = await ask_questions(live, claude, session_id)
    answers = f"/api/v2/sessions/{session_id}/answers"
    async with live_app(live_settings, keep_data=True) as other:
        unfit = await other.client.post(answers, json={"answers": {"Which cache?": "Redis"}})
        chosen = {DATABASE: "SQLite", EXTRAS: ["Redis"]}
        answered = await other.client.post(answers, json={"answers": chosen})
        await wait_for_event(live, session_id, "done", run_id=answered.json()["data"]["run_id"])
        again = await other.client.post(answers, json={"answers": chosen})

    assert unfit.status_code == 422, unfit.text  # the owner's refusal, as on one process
    assert answered.status_code == 200, answered.text
    assert answered.json()["data"]["tool_use_id"] == call.id
    assert answered.json()["data"]["answers"] == {DATABASE: "SQLite", EXTRAS: "Redis"}
    assert again.status_code == 409, again.text  # nothing is asked any more
    await wait_until_idle(live, session_id)
    rows = await messages(live.client, session_id)
    assert _result_of(rows, call).startswith(f'Your questions have been answered: "{DATABASE}"=')
    assert rows[-1]["content"] == "Setting it up with your choices."


async def test_the_v1_clients_answer_through_another_process_answers_the_question_not_queues(
    live: LiveApp, live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    call = await ask_questions(live, claude, session_id)
    async with live_app(live_settings, keep_data=True) as other:
        enqueued = await other.client.post(
            f"/api/v1/sessions/{session_id}/enqueue",
            json={"query": FORM_ANSWERS, "stream": True},
        )
        assert enqueued.status_code == 202, enqueued.text
        await wait_for_event(live, session_id, "done", run_id=enqueued.json()["run_id"])

    assert enqueued.json()["queued"] is False
    await wait_until_idle(live, session_id)
    rows = await messages(live.client, session_id)
    assert _result_of(rows, call).startswith(
        f'Your questions have been answered: "{DATABASE}"="PostgreSQL"'
    )
    assert [row["content"] for row in rows if row["role"] == "user"] == ["set up the service"]
    assert len(claude.requests) == 2  # the answer started no turn of its own


async def test_every_process_shows_the_running_message_of_a_turn_the_owner_runs(
    live: LiveApp, live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    sent = await start_a_long_task(live, claude, session_id)
    async with live_app(live_settings, keep_data=True) as other:
        queued = await send(other.client, session_id, "after that")
        v2 = (await other.client.get(f"/api/v2/sessions/{session_id}/queue")).json()["data"]
        v1 = (await other.client.get(f"/api/v1/sessions/{session_id}/queue-status")).json()
        await live.client.post(f"/api/v2/sessions/{session_id}/cancel")
        at_rest = (await other.client.get(f"/api/v2/sessions/{session_id}/queue")).json()["data"]

    running = v2["running"]
    assert (running["message_id"], running["run_id"]) == (sent["message_id"], sent["run_id"])
    assert running["content"] == "long task"
    assert [item["message_id"] for item in v2["messages"]] == [queued["message_id"]]
    assert v1 == {"queue_size": 1, "is_processing": True}
    assert at_rest["running"] is None


async def test_a_streamed_message_through_another_process_answers_and_streams_the_turn_on(
    live: LiveApp, live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    call = await ask_questions(live, claude, session_id)
    async with (
        live_app(live_settings, keep_data=True) as other,
        other.client.stream(
            "POST",
            f"/api/v2/sessions/{session_id}/messages",
            json={"content": "Let's use SQLite, no extras."},
            headers={"accept": "text/event-stream"},
        ) as response,
    ):
        assert response.status_code == 200
        streamed = await collect(response, until="done")

    results = [event for event in streamed if event.type == "tool_result"]
    assert [event.data["tool_use_id"] for event in results] == [call.id]
    assert results[0].data["content"].startswith(f'The user answered: "{DATABASE}"=')
    assert stream_reading(streamed)[0] == "Setting it up with your choices."


async def test_a_cancel_through_another_process_settles_the_owners_waiting_question(
    live: LiveApp, live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    call = await ask_questions(live, claude, session_id)
    async with live_app(live_settings, keep_data=True) as other:
        cancelled = await other.client.post(f"/api/v2/sessions/{session_id}/cancel")
        late = await other.client.post(
            f"/api/v2/sessions/{session_id}/answers", json={"answers": {DATABASE: "SQLite"}}
        )

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["status"] == "cancelled"
    assert late.status_code == 409, late.text  # nothing waits for answers any more
    rows = await messages(live.client, session_id)
    assert _result_of(rows, call) == (
        "The user did not answer the questions (cancelled by the user)."
    )


async def _waiting_of(app: LiveApp, session_id: str) -> tuple[Any, Any, Any]:
    """The session's ``waiting`` as this process's queue view, session and list show it."""
    path = f"/api/v2/sessions/{session_id}"
    queue = (await app.client.get(f"{path}/queue")).json()["data"]["waiting"]
    single = (await app.client.get(path)).json()["data"]["waiting"]
    listed = (await app.client.get("/api/v2/sessions")).json()["data"]
    (in_list,) = [item["waiting"] for item in listed if item["id"] == session_id]
    return queue, single, in_list


async def test_a_turn_waiting_for_a_slot_in_its_owner_says_so_through_another_process(
    live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    live_settings.max_api_turns = 1
    async with live_app(live_settings) as owner:
        team = await create_team(owner, "Dana", "Eli")
        first = await create_specialist(owner, team, "Dana")
        second = await create_specialist(owner, team, "Eli")
        await start_a_long_task(owner, claude, first)
        waiting = await send(owner.client, second, "me too")  # its owner's one slot is taken
        async with live_app(live_settings, keep_data=True) as other:
            async with asyncio.timeout(10):
                while (seen := await _waiting_of(other, second))[0]["reason"] != "slot":
                    await asyncio.sleep(0.02)
            claude.enqueue(Reply.text("at last"))
            await owner.client.post(f"/api/v2/sessions/{first}/cancel")
            await wait_for_event(owner, second, "done", run_id=waiting["run_id"])
            after = await _waiting_of(other, second)
            async with other.container.database.engine.connect() as connection:
                mark = await connection.scalar(
                    sa.text("SELECT waiting_slot FROM sessions WHERE id = :id"), {"id": second}
                )

    assert waiting["queued"] is True
    slot = {
        "reason": "slot",
        "runtime": "anthropic",
        "description": "waiting for a slot: runtime anthropic's cap of turns running at once"
        " is reached",
    }
    assert seen == (slot, slot, slot)
    assert after == (None, None, None)
    assert mark is None


async def test_an_archived_projects_session_waiting_for_a_slot_says_so_alike_in_every_process(
    live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    live_settings.max_api_turns = 1
    async with live_app(live_settings) as owner:
        created = await owner.client.post("/api/v2/sessions", json={"session_type": "assistant"})
        busy = created.json()["data"]["id"]  # outside the project: its turn keeps the slot
        team = await create_team(owner, "Dana")
        dana = await create_specialist(owner, team, "Dana")
        await start_a_long_task(owner, claude, busy)
        await send(owner.client, dana, "me too")  # waits for the owner's one slot
        async with asyncio.timeout(10):
            while (await _waiting_of(owner, dana))[0]["reason"] != "slot":
                await asyncio.sleep(0.02)
        async with live_app(live_settings, keep_data=True) as other:
            archived = await other.client.post(f"/api/v2/projects/{team.project['id']}/archive")
            in_owner, elsewhere = await _waiting_of(owner, dana), await _waiting_of(other, dana)
        await owner.client.post(f"/api/v2/sessions/{busy}/cancel")

    assert archived.status_code == 200, archived.text
    reason = {
        "reason": "project_archived",
        "runtime": None,
        "description": "the project is archived: its queues wait for it to be unarchived",
    }
    assert in_owner == (reason, reason, reason)
    assert elsewhere == in_owner
