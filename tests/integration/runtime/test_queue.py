"""The turn queue: exact (each message answered once, in order, with the history the
model saw) and durable (accepted input survives a crash and a stop)."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import httpx
import pytest

from kumiai.core.config import Settings
from kumiai.domain.entities import PendingInput
from kumiai.domain.repositories import LockedQueue
from kumiai.infrastructure.database.repositories.pending_inputs import SqlPendingInputRepository
from tests.integration.runtime.helpers import (
    create_specialist,
    create_team,
    messages,
    send,
    session,
    start_a_long_task,
    wait_for_event,
    wait_for_status,
    wait_until_idle,
)
from tests.support.live import LiveApp, live_app
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic
from tests.support.sse import Event, events

V1 = "/api/v1/sessions"


def _user_texts(request_messages: list[dict[str, Any]]) -> list[str]:
    return [
        block["text"]
        for message in request_messages
        if message["role"] == "user"
        for block in message["content"]
        if block["type"] == "text"
    ]


async def _read(response: httpx.Response, until: int, name: str) -> list[Event]:
    """Events until the ``until``-th event called ``name``."""
    seen: list[Event] = []
    async with asyncio.timeout(20):
        async for event in events(response):
            seen.append(event)
            if sum(1 for e in seen if e.type == name) == until:
                return seen
    raise AssertionError(f"the stream ended early: {[e.type for e in seen]}")


async def test_messages_sent_during_a_turn_wait_outside_the_transcript_and_are_answered_in_order(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic
) -> None:
    claude.enqueue(Reply.text("reply A", chunks=4).slow(0.3), Reply.text("reply B"))
    claude.enqueue(Reply.text("reply C"))

    async with (
        live.client.stream("GET", f"/api/v2/sessions/{session_id}/events") as v2,
        live.client.stream("GET", f"{V1}/{session_id}/stream") as v1,
    ):
        a = await send(live.client, session_id, "A")
        await wait_for_event(live, session_id, "run_started", run_id=a["run_id"])
        b = await send(live.client, session_id, "B")
        c = await send(live.client, session_id, "C")
        v2_events = await _read(v2, 3, "done")
        v1_events = await _read(v1, 3, "message_complete")

    assert (a["queued"], b["queued"], c["queued"]) == (False, True, True)
    requests = claude.requests
    assert [_user_texts(request.messages) for request in requests] == [
        ["A"],
        ["A", "B"],
        ["A", "B", "C"],
    ]
    # Consecutive turns share the history prefix, so prompt caching can work.
    assert requests[1].messages[:2] == requests[2].messages[:2]
    rows = await messages(live.client, session_id)
    assert [(row["role"], row["content"]) for row in rows] == [
        ("user", "A"),
        ("assistant", "reply A"),
        ("user", "B"),
        ("assistant", "reply B"),
        ("user", "C"),
        ("assistant", "reply C"),
    ]
    assert [row["sequence"] for row in rows] == list(range(6))
    assert [row["id"] for row in rows if row["role"] == "user"] == [
        a["message_id"],
        b["message_id"],
        c["message_id"],
    ]

    v2_order = [
        (event.type, event.data.get("message", {}).get("content"))
        for event in v2_events
        if event.type in {"message_created", "done"}
    ]
    assert v2_order == [
        ("message_created", "A"),
        ("message_created", "reply A"),
        ("done", None),
        ("message_created", "B"),
        ("message_created", "reply B"),
        ("done", None),
        ("message_created", "C"),
        ("message_created", "reply C"),
        ("done", None),
    ]
    v1_order = [
        event.data.get("content") or event.type
        for event in v1_events
        if event.type in {"user_message", "content_block", "message_complete"}
    ]
    assert v1_order == [
        "A",
        "reply A",
        "message_complete",
        "B",
        "reply B",
        "message_complete",
        "C",
        "reply C",
        "message_complete",
    ]
    sizes = [len(event.data["messages"]) for event in v1_events if event.type == "queue_status"]
    assert sizes[-1] == 0 and max(sizes) == 2


async def test_a_hundred_concurrent_sends_make_a_hundred_turns_each_answering_its_own_message(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic
) -> None:
    claude.enqueue(Reply.text("answer", chunks=4).slow(1.0))
    claude.enqueue(*[Reply.text("answer") for _ in range(99)])

    first = await send(live.client, session_id, "q0")
    await wait_for_event(live, session_id, "run_started", run_id=first["run_id"])
    rest = await asyncio.gather(*(send(live.client, session_id, f"q{n}") for n in range(1, 100)))
    await wait_until_idle(live, session_id, timeout=90)
    sent = [first, *rest]

    rows = await messages(live.client, session_id)
    assert [row["sequence"] for row in rows] == list(range(200))
    assert [row["role"] for row in rows] == ["user", "assistant"] * 100
    requests = claude.requests
    assert len(requests) == 100
    asked = [row["content"] for row in rows if row["role"] == "user"]
    for number, request in enumerate(requests):
        # Each turn sees exactly the messages whose turns started, its own last.
        assert _user_texts(request.messages) == asked[: number + 1]
    waited = {row["id"]: row["metadata"].get("queued", False) for row in rows}
    assert all(waited[item["message_id"]] is item["queued"] for item in sent)
    assert [item["queued"] for item in sent] == [False] + [True] * 99


async def test_accepted_input_of_a_crashed_server_is_answered_after_the_restart(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic, live_settings: Settings
) -> None:
    # What kill -9 during a turn leaves: the session mid-turn, one message still waiting.
    async with live.container.unit_of_work() as uow:
        stuck = await uow.sessions.get_for_update(UUID(session_id))
        assert stuck is not None
        stuck.reopen()
        stuck.start()
        waiting = PendingInput.accept(UUID(session_id), "are you still there?")
        await uow.pending.add(waiting)
        await uow.commit()

    claude.enqueue(Reply.text("Yes, back again."))
    async with live_app(live_settings) as restarted:
        await restarted.container.workers.start()  # what `kumiai serve` does at start-up
        await wait_until_idle(restarted, session_id)
        rows = await messages(restarted.client, session_id)
        assert [(row["role"], row["content"]) for row in rows] == [
            ("user", "are you still there?"),
            ("assistant", "Yes, back again."),
        ]
        assert rows[0]["id"] == str(waiting.id)
        assert (await session(restarted.client, session_id))["status"] == "idle"


async def test_v1_interrupt_stops_the_turn_and_clears_the_queue_which_stays_listable(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic
) -> None:
    await start_a_long_task(live, claude, session_id)
    await send(live.client, session_id, "and then this")

    async with live.client.stream("GET", f"{V1}/{session_id}/stream") as v1:
        response = await live.client.post(f"{V1}/{session_id}/interrupt")
        assert response.status_code == 204
        seen = await _read(v1, 1, "queue_status")
    assert seen[-1].data["messages"] == []

    status = (await live.client.get(f"{V1}/{session_id}/queue-status")).json()
    assert status == {"queue_size": 0, "is_processing": False}
    queue = (await live.client.get(f"/api/v2/sessions/{session_id}/queue")).json()["data"]
    assert queue["messages"] == []
    assert [(item["content"], item["drop_reason"]) for item in queue["dropped"]] == [
        ("and then this", "cleared by interrupt")
    ]
    assert (await session(live.client, session_id))["status"] == "idle"
    # The dropped message is never shown to the model.
    claude.enqueue(Reply.text("ok"))
    await send(live.client, session_id, "new question")
    await wait_until_idle(live, session_id)
    assert "and then this" not in _user_texts(claude.requests[-1].messages)


async def test_v2_cancel_pauses_the_queue_and_resume_drains_it(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic
) -> None:
    await start_a_long_task(live, claude, session_id)
    waiting = await send(live.client, session_id, "second")

    cancelled = await live.client.post(f"/api/v2/sessions/{session_id}/cancel")
    assert cancelled.json()["data"]["status"] == "cancelled"
    queue = (await live.client.get(f"/api/v2/sessions/{session_id}/queue")).json()["data"]
    assert queue["paused"] is True
    assert [item["content"] for item in queue["messages"]] == ["second"]

    claude.enqueue(Reply.text("answer to second"))
    resumed = await live.client.post(f"/api/v2/sessions/{session_id}/resume")
    assert resumed.status_code == 200
    await wait_for_event(live, session_id, "done", run_id=waiting["run_id"])
    rows = await messages(live.client, session_id)
    assert [row["content"] for row in rows if row["role"] != "tool_result"][-2:] == [
        "second",
        "answer to second",
    ]
    queue = (await live.client.get(f"/api/v2/sessions/{session_id}/queue")).json()["data"]
    assert queue == {**queue, "size": 0, "paused": False, "messages": [], "dropped": []}


async def test_a_new_message_after_a_cancel_runs_after_the_waiting_one(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic
) -> None:
    await start_a_long_task(live, claude, session_id)
    await send(live.client, session_id, "older")
    await live.client.post(f"/api/v2/sessions/{session_id}/cancel")

    claude.enqueue(Reply.text("answer older"), Reply.text("answer newer"))
    newer = await send(live.client, session_id, "newer")
    await wait_for_event(live, session_id, "done", run_id=newer["run_id"])
    asked = [_user_texts(request.messages)[-1] for request in claude.requests[1:]]
    assert asked == ["older", "newer"]


async def test_a_session_left_thinking_is_repaired_by_the_next_message(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic
) -> None:
    async with live.container.unit_of_work() as uow:  # what a failed settle leaves behind
        stale = await uow.sessions.get_for_update(UUID(session_id))
        assert stale is not None
        stale.reopen()
        stale.start()
        await uow.commit()

    claude.enqueue(Reply.text("Here I am."))
    sent = await send(live.client, session_id, "hello?")
    done = await wait_for_event(live, session_id, "done", run_id=sent["run_id"])
    assert done.type == "done"
    assert (await wait_for_status(live.client, session_id, "idle"))["status"] == "idle"


async def test_a_message_to_an_unknown_session_is_a_404_that_leaves_no_trace(
    live: LiveApp,
) -> None:
    unknown = "00000000-0000-4000-8000-000000000001"
    for key in ("test-key", None):
        live.container.settings.anthropic_api_key = key  # type: ignore[assignment]
        for accept in ("application/json", "text/event-stream"):
            response = await live.client.post(
                f"/api/v2/sessions/{unknown}/messages",
                json={"content": "hi"},
                headers={"accept": accept},
            )
            assert response.status_code == 404
    workers = live.container.workers
    assert workers.running(UUID(unknown)) is None
    assert UUID(unknown) not in workers._workers
    assert UUID(unknown) not in live.container.events._logs


async def test_turns_beyond_the_server_cap_wait_in_their_queues_and_all_finish(
    live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    live_settings.max_concurrent_turns = 1
    async with live_app(live_settings) as live:
        team = await create_team(live, "Dana", "Eli")
        first = await create_specialist(live, team, "Dana")
        second = await create_specialist(live, team, "Eli")
        claude.enqueue(Reply.text("one", chunks=3).slow(0.3), Reply.text("two"))
        running = await send(live.client, first, "go")
        await wait_for_event(live, first, "run_started", run_id=running["run_id"])
        waiting = await send(live.client, second, "me too")
        assert waiting["queued"] is True
        queue = (await live.client.get(f"/api/v2/sessions/{second}/queue")).json()["data"]
        assert queue["size"] == 1 and queue["running"] is None
        await wait_for_event(live, second, "done", run_id=waiting["run_id"])
        assert len(claude.requests) == 2
        assert _user_texts(claude.requests[1].messages) == ["me too"]


async def test_a_clean_shutdown_interrupts_the_turn_and_keeps_the_queue_for_the_restart(
    live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    async with live_app(live_settings) as first_run:
        team = await create_team(first_run, "Dana")
        session_id = await create_specialist(first_run, team, "Dana")
        running = await start_a_long_task(first_run, claude, session_id)
        waiting = await send(first_run.client, session_id, "after the restart")
        await first_run.container.workers.shutdown()
        ended = await wait_for_event(first_run, session_id, "error", run_id=running["run_id"])
        assert ended.data["code"] == "interrupted"
        queue = (await first_run.client.get(f"/api/v2/sessions/{session_id}/queue")).json()
        assert [item["content"] for item in queue["data"]["messages"]] == ["after the restart"]

        # Nested: leaving a live app empties the database, as between tests.
        claude.enqueue(Reply.text("Back."))
        async with live_app(live_settings) as second_run:
            await second_run.container.workers.start()
            await wait_for_event(second_run, session_id, "done", run_id=waiting["run_id"])
            rows = await messages(second_run.client, session_id)
    assert [row["content"] for row in rows if row["role"] == "user"] == [
        "long task",
        "after the restart",
    ]
    assert rows[-1]["content"] == "Back."


async def test_a_send_that_read_the_queue_before_an_input_was_queued_waits_behind_it(
    live: LiveApp, session_id: str, claude: ScriptedAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An input queued while the send waited for the session's lock (not woken yet), and
    # the send's read of the queue from before it: what a lock wait leaves the send.
    async with live.container.unit_of_work() as uow:
        await uow.pending.add(PendingInput.accept(UUID(session_id), "queued first"))
        await uow.commit()
    read_queue = SqlPendingInputRepository.locked_queue
    stale_reads = [True]

    async def read_before_it_was_queued(
        repository: SqlPendingInputRepository, asked: UUID
    ) -> LockedQueue:
        locked = await read_queue(repository, asked)
        return locked._replace(waiting=[]) if stale_reads and stale_reads.pop() else locked

    monkeypatch.setattr(SqlPendingInputRepository, "locked_queue", read_before_it_was_queued)
    claude.enqueue(Reply.text("first answered"), Reply.text("second answered"))

    sent = await send(live.client, session_id, "sent second")
    await wait_for_event(live, session_id, "done", run_id=sent["run_id"])

    assert sent["queued"] is True
    assert [_user_texts(request.messages) for request in claude.requests] == [
        ["queued first"],
        ["queued first", "sent second"],
    ]
