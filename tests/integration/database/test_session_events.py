"""The persisted event log: server-wide ids, fan-out between processes through
LISTEN/NOTIFY, exact replay across restarts, retention and its ``reset``.

Each "process" is an :class:`EventHub` on a store of its own connections, as every
``kumiai serve`` process has; several of them share one database here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from kumiai.application.ports.events import Appended, NewEvent, Retention, SessionEvent
from kumiai.application.services.runtime import sink as sink_module
from kumiai.application.services.runtime.events import EventHub, Subscription
from kumiai.application.services.runtime.sink import PersistingSink
from kumiai.domain.entities import Session
from kumiai.domain.value_objects import SessionType
from kumiai.infrastructure.database.event_log import PostgresEventLog, asyncpg_dsn
from kumiai.infrastructure.database.repositories import session_events
from tests.support.database import create_scratch_database, drop_database

KEEP_EVERYTHING = Retention(max_age=timedelta(days=1), max_per_session=1_000_000)
Process = Callable[..., contextlib.AbstractAsyncContextManager[EventHub]]


@pytest.fixture(scope="module")
def events_database_url(postgres_server_url: str, migrated_template: str) -> Iterator[str]:
    url = create_scratch_database(
        postgres_server_url, prefix="kumiai_events", template=migrated_template
    )
    yield url
    drop_database(url)


@pytest.fixture
def process(events_database_url: str) -> Process:
    """Starts a hub on the shared database, like one server process."""

    @contextlib.asynccontextmanager
    async def start(**options: Any) -> AsyncIterator[EventHub]:
        hub = EventHub(store=PostgresEventLog(events_database_url), **options)
        await hub.start()
        try:
            yield hub
        finally:
            await hub.aclose()

    return start


async def _take(subscription: Subscription, count: int, timeout: float = 10) -> list[SessionEvent]:
    events: list[SessionEvent] = []
    async with asyncio.timeout(timeout):
        while len(events) < count:
            event = await subscription.next()
            assert event is not None, "the subscription was dropped"
            events.append(event)
    return events


async def _published(hub: EventHub, session: UUID, count: int, **data: Any) -> list[int]:
    """Publish ``count`` events on ``hub`` and read their ids back from its log."""
    follower = await hub.subscribe(session)
    for index in range(count):
        hub.publish(session, "step", n=index, **data)
    events = await _take(follower, count)
    follower.close()
    return [event.id for event in events]


async def test_subscribers_on_two_processes_see_every_event_of_both_in_the_same_order(
    process: Process,
) -> None:
    session = uuid4()
    async with process() as first, process() as second:
        readers = [await first.subscribe(session), await second.subscribe(session)]

        async def publish(hub: EventHub, name: str) -> None:
            for index in range(150):
                hub.publish(session, "step", source=name, n=index)
                if index % 10 == 0:
                    await asyncio.sleep(0)  # let the other writer interleave

        await asyncio.gather(publish(first, "first"), publish(second, "second"))
        seen = [await _take(reader, 300) for reader in readers]

    on_first, on_second = seen
    assert [event.id for event in on_first] == [event.id for event in on_second]
    ids = [event.id for event in on_first]
    assert ids == sorted(set(ids))
    for name in ("first", "second"):
        mine = [event.data["n"] for event in on_first if event.data["source"] == name]
        assert mine == list(range(150))  # each once, in publishing order


async def test_a_replay_after_an_id_is_exact_after_a_restart_on_another_process(
    process: Process,
) -> None:
    session = uuid4()
    async with process() as before_restart:
        ids = await _published(before_restart, session, 20)

    async with process() as after_restart:
        replay = await after_restart.subscribe(session, after=ids[4])
        after_restart.publish(session, "step", n="live")
        events = await _take(replay, 16)

    assert [event.id for event in events[:15]] == ids[5:]
    assert [event.data["n"] for event in events] == [*range(5, 20), "live"]
    assert events[-1].id > ids[-1]


async def test_deltas_waiting_for_one_write_are_stored_joined_and_replay_the_same_text(
    process: Process,
) -> None:
    session = uuid4()
    pieces = [f"word{index} " for index in range(300)]
    async with process() as hub:
        for piece in pieces:  # no await in between: all wait for the same write
            hub.publish(session, "text_delta", run_id="r1", block_index=0, text=piece)
        hub.publish(session, "done", run_id="r1")
        await hub.flush()

    async with process() as restarted:
        replay = await restarted.subscribe(session, after=0)
        delta, done = await _take(replay, 2)

    assert (delta.type, delta.data["text"]) == ("text_delta", "".join(pieces))
    assert done.type == "done"


async def test_an_event_far_larger_than_a_notification_reaches_another_process(
    process: Process,
) -> None:
    session = uuid4()
    content = "x" * 200_000  # NOTIFY refuses payloads over 8000 bytes
    async with process() as writer, process() as reader:
        follower = await reader.subscribe(session)
        writer.publish(session, "tool_result", content=content)
        (event,) = await _take(follower, 1)
    assert event.data["content"] == content


async def test_an_append_retried_after_it_committed_is_stored_once(
    events_database_url: str,
) -> None:
    session = uuid4()
    store = PostgresEventLog(events_database_url)
    await store.start(lambda *_: None, lambda: None)
    try:
        batch, key = [NewEvent(session, "step", {"n": n}) for n in (1, 2)], uuid4()
        first = await store.append(batch, key)
        retried = await store.append(batch, key)  # its connection was lost after COMMIT
        page = await store.read_after(session, 0, 10)
    finally:
        await store.aclose()
    assert [event.data["n"] for event in page.events] == [1, 2]
    assert first == {session: Appended(ids=[event.id for event in page.events], after=0)}
    assert retried == {}


async def test_replay_from_before_what_retention_kept_gets_a_reset_with_the_reason(
    process: Process, events_database_url: str
) -> None:
    session = uuid4()
    async with process() as hub:
        ids = await _published(hub, session, 30)
        store = PostgresEventLog(events_database_url)
        await store.start(lambda *_: None, lambda: None)
        try:
            pruned = await store.prune(Retention(max_age=timedelta(days=1), max_per_session=10))
        finally:
            await store.aclose()
    assert pruned >= 20

    async with process() as restarted:
        kept = await _take(await restarted.subscribe(session, after=ids[19]), 10)
        (reset,) = await _take(await restarted.subscribe(session, after=ids[5]), 1)

    assert [event.id for event in kept] == ids[20:]
    assert reset.type == "reset"
    assert reset.data["reason"] == "retention"
    assert reset.data["requested_after"] == ids[5]
    assert reset.data["resume_from"] >= ids[-1]


async def test_events_older_than_retention_are_pruned_in_the_background(
    process: Process, events_database_url: str
) -> None:
    session = uuid4()
    async with process() as hub:
        ids = await _published(hub, session, 5)
    connection = await asyncpg.connect(asyncpg_dsn(events_database_url))
    try:
        await connection.execute(
            "UPDATE session_events SET created_at = created_at - interval '2 hours'"
            " WHERE session_id = $1",
            session,
        )
        retention = Retention(max_age=timedelta(hours=1), max_per_session=1000)
        async with process(retention=retention, prune_interval=0.05) as pruning:
            async with asyncio.timeout(10):
                while await connection.fetchval(
                    "SELECT count(*) FROM session_events WHERE session_id = $1", session
                ):
                    await asyncio.sleep(0.02)
            (reset,) = await _take(await pruning.subscribe(session, after=ids[0]), 1)
    finally:
        await connection.close()
    assert (reset.type, reset.data["reason"]) == ("reset", "retention")


async def test_an_id_newer_than_any_the_log_gave_gets_a_reset(process: Process) -> None:
    session = uuid4()
    async with process() as hub:
        ids = await _published(hub, session, 2)
        (reset,) = await _take(await hub.subscribe(session, after=ids[-1] + 10**9), 1)
    assert (reset.type, reset.data["reason"]) == ("reset", "unknown_id")
    assert reset.data["resume_from"] >= ids[-1]


async def test_a_reconnect_on_the_same_process_replays_exactly_from_memory(
    process: Process,
) -> None:
    session = uuid4()
    async with process() as hub:
        ids = await _published(hub, session, 10)
        replay = await hub.subscribe(session, after=ids[6])
        assert [event.id for event in replay.ready()] == ids[7:]


async def test_a_live_subscriber_starts_after_every_event_published_before_it(
    process: Process,
) -> None:
    session = uuid4()
    async with process() as hub, process() as other:
        hub.publish(session, "step", n="before, here")
        other.publish(session, "step", n="before, on another process")
        await other.flush()
        follower = await hub.subscribe(session)
        hub.publish(session, "step", n="after")
        (event,) = await _take(follower, 1)
    assert event.data["n"] == "after"


async def test_a_subscription_made_before_a_send_starts_after_the_head_the_send_read(
    process: Process,
) -> None:
    session = uuid4()
    async with process() as hub, process() as other:
        await _published(hub, session, 1)  # this process's log follows the session
        watcher = await hub.subscribe(session)
        follower = await hub.follow_send(session)
        # What the send finds under the session's lock: another process's event...
        (head,) = await _published(other, session, 1, label="before the send")
        # ...and then its own turn, delivered here before the send says where it starts.
        hub.publish(session, "step", label="the send's turn")
        await _take(watcher, 2)
        follower.start_after(head)
        hub.publish(session, "step", label="after")
        events = await _take(follower, 2)
    assert [event.data["label"] for event in events] == ["the send's turn", "after"]


async def test_a_subscription_made_before_a_send_joins_no_delta_across_its_start(
    process: Process,
) -> None:
    session = uuid4()
    delta = {"run_id": "run", "block_index": 0}
    async with process() as hub:
        await _published(hub, session, 1)
        watcher = await hub.subscribe(session)
        follower = await hub.follow_send(session)
        hub.publish(session, "text_delta", text="before ", **delta)
        (before,) = await _take(watcher, 1)
        hub.publish(session, "text_delta", text="after", **delta)
        await _take(watcher, 1)  # both wait unread in the follower
        follower.start_after(before.id)
        (event,) = await _take(follower, 1)
    assert event.data["text"] == "after"


async def test_a_subscription_made_before_a_send_takes_a_burst_and_starts_inside_it(
    process: Process,
) -> None:
    session = uuid4()
    delta = {"run_id": "run", "block_index": 0}
    async with process(subscriber_capacity=5) as hub:
        await _published(hub, session, 1)
        watcher = await hub.subscribe(session)
        follower = await hub.follow_send(session)
        ids = []
        for n in range(20):  # more deltas than the follower may hold apart
            hub.publish(session, "text_delta", text=f"{n} ", **delta)
            ids.append((await _take(watcher, 1))[0].id)
        follower.start_after(ids[9])
        (event,) = await _take(follower, 1)
    assert event.data["text"] == "".join(f"{n} " for n in range(10, 20))
    assert event.id == ids[-1]


async def test_a_subscription_made_before_a_send_that_read_no_head_keeps_all_it_was_offered(
    process: Process,
) -> None:
    session = uuid4()
    async with process() as hub:
        await _published(hub, session, 1)
        follower = await hub.follow_send(session)
        hub.publish(session, "step", n=1)
        hub.publish(session, "step", n=2)
        await hub.flush()
        follower.start_after(None)  # an answer to the agent's question: no head read
        events = await _take(follower, 2)
    assert [event.data["n"] for event in events] == [1, 2]


async def test_new_subscriptions_made_at_once_read_their_starts_in_a_few_queries(
    process: Process, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = [uuid4() for _ in range(20)]
    queries: list[int] = []
    heads = session_events.heads

    async def counted(connection: asyncpg.Pool, session_ids: list[UUID]) -> dict[UUID, int]:
        queries.append(len(session_ids))
        return await heads(connection, session_ids)

    async with process() as hub, process() as other:
        for session in sessions:
            other.publish(session, "step", n="before")
        await other.flush()
        monkeypatch.setattr(session_events, "heads", counted)
        followers = await asyncio.gather(*(hub.subscribe(session) for session in sessions))
        for session in sessions:
            hub.publish(session, "step", n="after")
        seen = [await _take(follower, 1) for follower in followers]

    assert sum(queries) == 20
    assert len(queries) <= 2  # the first ask alone, then every ask made meanwhile
    assert [event.data["n"] for (event,) in seen] == ["after"] * 20
    assert [event.session_id for (event,) in seen] == sessions


async def test_a_process_delivers_its_own_events_without_reading_them_back(
    process: Process, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = uuid4()
    reads: list[int] = []
    read_new = session_events.read_new

    async def counted(
        connection: asyncpg.Connection, cursors: dict[UUID, int], limit: int
    ) -> list[SessionEvent]:
        reads.append(len(cursors))
        return await read_new(connection, cursors, limit)

    monkeypatch.setattr(session_events, "read_new", counted)
    async with process() as hub:
        follower = await hub.subscribe(session)
        for index in range(30):
            hub.publish(session, "step", n=index)
            if index % 3 == 0:
                await hub.flush()  # appends of one, two and three events
        events = await _take(follower, 30)

    assert [event.data["n"] for event in events] == list(range(30))
    # Its announcements may be heard before the append's answer: they wait for the ids.
    assert reads == []


class _Deaf(PostgresEventLog):
    """Hears no announcement at all."""

    def _notified(self, connection: object, pid: int, channel: str, payload: str) -> None:
        pass


class _HearsLate(PostgresEventLog):
    """Hears every announcement long after the append it announces has returned."""

    def _notified(self, connection: object, pid: int, channel: str, payload: str) -> None:
        asyncio.get_running_loop().call_later(
            0.3, super()._notified, connection, pid, channel, payload
        )


@contextlib.asynccontextmanager
async def _hub_on(store: PostgresEventLog) -> AsyncIterator[EventHub]:
    hub = EventHub(store=store)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.aclose()


async def test_a_process_delivers_its_own_events_as_their_append_returns(
    events_database_url: str,
) -> None:
    session = uuid4()
    async with _hub_on(_Deaf(events_database_url)) as hub:
        follower = await hub.subscribe(session)
        for index in range(6):
            hub.publish(session, "step", n=index)
            if index % 2 == 0:
                await hub.flush()
        events = await _take(follower, 6)
    assert [event.data["n"] for event in events] == list(range(6))


async def test_own_events_wait_for_an_earlier_event_of_another_process_heard_late(
    process: Process, events_database_url: str
) -> None:
    session = uuid4()
    async with _hub_on(_HearsLate(events_database_url)) as hub, process() as other:
        follower = await hub.subscribe(session)
        other.publish(session, "step", n="theirs, committed first")
        await other.flush()
        hub.publish(session, "step", n="mine")
        await hub.flush()
        events = await _take(follower, 2)
    assert [event.data["n"] for event in events] == ["theirs, committed first", "mine"]
    assert events[0].id < events[1].id


async def test_a_blocks_first_words_are_delivered_before_the_turn_reads_on(
    process: Process, monkeypatch: pytest.MonkeyPatch
) -> None:
    # However slow the machine, the wait ends with the write, not with its bound.
    monkeypatch.setattr(sink_module, "FIRST_WORDS_WAIT_SECONDS", 30.0)
    session = Session.create(SessionType.ASSISTANT)
    async with process() as hub:
        follower = await hub.subscribe(session.id)
        sink = PersistingSink(_no_database, hub, session, uuid4(), None)
        await sink.text_delta(0, "Hello")
        assert [event.data["text"] for event in follower.ready()] == ["Hello"]


async def test_waiting_for_a_write_gives_up_while_the_database_is_away(
    events_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresEventLog(events_database_url)
    async with _hub_on(store) as hub:
        outage = asyncio.Event()

        async def never_answers(*_: object) -> dict[UUID, Appended]:
            await outage.wait()
            raise ConnectionResetError("the database went away")

        monkeypatch.setattr(store, "append", never_answers)
        hub.publish(uuid4(), "step", n=1)
        async with asyncio.timeout(2):
            await hub.flush_within(0.05)
        monkeypatch.undo()  # the database is back: the retry goes through
        outage.set()


async def test_a_turn_stopped_as_its_first_words_are_written_stops(
    process: Process, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = Session.create(SessionType.ASSISTANT)
    # However slow the write on a loaded machine: the stop must come as it completes.
    monkeypatch.setattr(sink_module, "FIRST_WORDS_WAIT_SECONDS", 30.0)
    async with process() as hub:
        flush = hub.flush

        async def written_as_the_stop_comes() -> None:
            await flush()
            turn.cancel()  # the user stops the turn in the same turn of the loop

        monkeypatch.setattr(hub, "flush", written_as_the_stop_comes)
        sink = PersistingSink(_no_database, hub, session, uuid4(), None)
        turn = asyncio.create_task(sink.text_delta(0, "Hello"))
        with pytest.raises(asyncio.CancelledError):
            await turn


def _no_database() -> contextlib.AbstractAsyncContextManager[Any]:
    raise AssertionError("a block's first delta touches no table")


async def test_a_deleted_sessions_subscribers_still_hear_what_was_published_before(
    process: Process,
) -> None:
    session = uuid4()
    async with process() as hub:
        follower = await hub.subscribe(session)
        hub.publish(session, "cancelled", run_id="r1")
        hub.forget(session)
        (event,) = await _take(follower, 1)
    assert event.type == "cancelled"


async def test_a_writer_never_gives_again_an_id_a_database_crash_may_have_lost(
    process: Process, events_database_url: str
) -> None:
    session = uuid4()
    async with process() as before_crash:
        ids = await _published(before_crash, session, 3)
    # A crash loses the newest asynchronous commits, and the counter steps back with them.
    connection = await asyncpg.connect(asyncpg_dsn(events_database_url))
    try:
        await connection.execute("DELETE FROM session_events WHERE id >= $1", ids[1])
        await connection.execute("SELECT setval('session_events_id_seq', $1)", ids[0])
    finally:
        await connection.close()

    async with process() as after_crash:
        (new,) = await _published(after_crash, session, 1)
    assert new > ids[-1]


async def test_a_subscriber_hears_every_event_after_its_processes_lose_their_connections(
    process: Process, events_database_url: str
) -> None:
    session = uuid4()
    async with process() as writer, process() as reader:
        follower = await reader.subscribe(session)
        writer.publish(session, "step", n=0)
        await _take(follower, 1)
        connection = await asyncpg.connect(asyncpg_dsn(events_database_url))
        try:
            await connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await connection.close()
        for index in range(1, 20):
            writer.publish(session, "step", n=index)
        events = await _take(follower, 19, timeout=20)
    assert [event.data["n"] for event in events] == list(range(1, 20))


async def test_a_replay_longer_than_a_page_and_a_subscribers_queue_comes_whole(
    process: Process,
) -> None:
    session = uuid4()
    async with process() as hub:
        for index in range(2500):
            hub.publish(session, "step", n=index)
        await hub.flush()
    async with process(subscriber_capacity=100) as restarted:
        replay = await restarted.subscribe(session, after=0)
        events = await _take(replay, 2500)
    assert [event.data["n"] for event in events] == list(range(2500))
    assert not replay.dropped
