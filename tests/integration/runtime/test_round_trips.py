"""Streaming costs no database work per delta: a turn's round trips are fixed."""

from __future__ import annotations

from uuid import UUID

import pytest

from kumiai.core.config import Settings
from tests.integration.runtime.helpers import (
    counting_statements,
    create_specialist,
    create_team,
    wait_until_idle,
)
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic
from tests.support.sse import collect


@pytest.fixture
def live_settings(live_settings: Settings) -> Settings:
    """Turns shorter than the flush interval, however loaded the machine: a block
    that streams longer is saved while it streams (once per interval, not per delta)."""
    return live_settings.model_copy(update={"stream_flush_seconds": 60.0})


async def _turn_statements(
    live: LiveApp, claude: ScriptedAnthropic, session_id: str, deltas: int
) -> list[str]:
    claude.enqueue(Reply.text("word " * deltas, chunks=deltas))
    with counting_statements(live) as statements:
        async with live.client.stream(
            "POST",
            f"/api/v2/sessions/{session_id}/messages",
            json={"content": "go"},
            headers={"accept": "text/event-stream"},
        ) as response:
            events = await collect(response, until="done")
        await wait_until_idle(live, session_id)
    # Deltas the client had not read yet may arrive joined: count the text, not events.
    streamed = "".join(event.data["text"] for event in events if event.type == "text_delta")
    assert streamed == "word " * deltas
    return statements


async def test_a_turn_sends_as_many_statements_for_300_deltas_as_for_3(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    short = await create_specialist(live, team, "Dana")
    long = await create_specialist(live, team, "Dana")
    # The first turn of the process warms caches; measure the second of each session.
    for session_id in (short, long):
        await _turn_statements(live, claude, session_id, 2)

    few = await _turn_statements(live, claude, short, 3)
    many = await _turn_statements(live, claude, long, 300)

    assert len(few) > 0
    assert len(many) == len(few), "\n".join(many)


async def _second_turn_statements(
    live: LiveApp, claude: ScriptedAnthropic
) -> tuple[str, list[str]]:
    """A new specialist session, and the statements of its second turn (3 deltas): its
    first turn claimed the session's ownership."""
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    await _turn_statements(live, claude, session_id, 2)
    return session_id, await _turn_statements(live, claude, session_id, 3)


async def test_a_turn_its_send_started_reads_the_session_row_only_under_its_locks(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    _, statements = await _second_turn_statements(live, claude)

    rows = [s for s in statements if s.lstrip().startswith("SELECT sessions.")]
    locked_queues = [s for s in rows if "pending_inputs" in s and "FOR UPDATE" in s]
    # The send locks the row and reads the queue and the project with it; the context's
    # early read takes that row and the project from the send, and after the turn the
    # worker claims nothing: the queue was empty and no message woke the session meanwhile.
    assert len(locked_queues) == 1
    assert "FROM sessions LEFT OUTER JOIN projects" in locked_queues[0]
    # The send's lock, the settle's lock, and wait_until_idle's queue view.
    assert len(rows) == 3
    assert not [s for s in statements if s.lstrip().startswith("SELECT projects.")]
    # The user's profile comes with the send's lock too: no read of its own.
    assert "user_profiles" in locked_queues[0]
    assert not [s for s in statements if s.lstrip().startswith("SELECT user_profiles.")]


async def test_a_sessions_first_turn_in_a_process_starts_in_its_send(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")

    statements = await _turn_statements(live, claude, session_id, 2)

    # The send owns the session first (no process did), then starts the turn in its
    # transaction: nothing goes through the queue.
    assert len([s for s in statements if "INSERT INTO session_owners" in s]) == 1
    assert not [s for s in statements if s.lstrip().startswith("INSERT INTO pending_inputs")]


async def test_a_turns_messages_are_each_inserted_with_their_sequence_in_one_statement(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    session_id, statements = await _second_turn_statements(live, claude)

    inserts = [s for s in statements if "INSERT INTO messages" in s]
    # The user's message and the answer, each allocating its sequence in its INSERT.
    assert len(inserts) == 2
    assert all("UPDATE sessions SET next_sequence" in s for s in inserts)
    allocations = [s for s in statements if "SET next_sequence" in s]
    assert len(allocations) == 2, "\n".join(statements)
    # The user's message writes its activity row (message_sent) in the same statement.
    assert "INSERT INTO activity_logs" in inserts[0]
    assert len([s for s in statements if s.lstrip().startswith("INSERT INTO activity_logs")]) == 0
    pages = (await live.client.get(f"/api/v2/sessions/{session_id}/messages")).json()["data"]
    assert [(m["role"], m["sequence"]) for m in pages] == [
        ("user", 0),
        ("assistant", 1),
        ("user", 2),
        ("assistant", 3),
    ]


async def test_a_turns_start_writes_the_session_row_in_its_activity_rows_statement(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    _, statements = await _second_turn_statements(live, claude)

    status_writes = [s for s in statements if "UPDATE sessions SET status" in s]
    # The start's (the CTE of its activity row's INSERT), then the settle's.
    assert len(status_writes) == 2, "\n".join(statements)
    assert "INSERT INTO activity_logs" in status_writes[0]
    assert "INSERT INTO activity_logs" not in status_writes[1]


async def test_a_streamed_send_starts_its_stream_where_its_send_found_the_events(
    live: LiveApp, claude: ScriptedAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    await _turn_statements(live, claude, session_id, 2)  # the process now follows it
    store = live.container.events._store
    assert store is not None
    heads_read: list[object] = []
    read_head = store.head

    async def counted(session: UUID) -> int:
        heads_read.append(session)
        return await read_head(session)

    monkeypatch.setattr(store, "head", counted)
    claude.enqueue(Reply.text("again"))

    async with live.client.stream(
        "POST",
        f"/api/v2/sessions/{session_id}/messages",
        json={"content": "once more"},
        headers={"accept": "text/event-stream"},
    ) as response:
        events = await collect(response, until="done")

    assert heads_read == []  # the send's own read of the queue brought the head
    first = events[0]
    assert first.type == "message_created"
    assert first.data["message"]["content"] == "once more"
    (started,) = [event for event in events if event.type == "run_started"]
    run_ids = {event.data["run_id"] for event in events if "run_id" in event.data}
    assert run_ids == {started.data["run_id"]}, "an event of the earlier turn was streamed"
    assert "".join(e.data["text"] for e in events if e.type == "text_delta") == "again"
