"""The per-session event log: numbering, replay, reset and slow subscribers."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from kumiai.application.services.runtime.events import BufferLimits, EventHub


async def _drain(subscription, count: int) -> list:  # type: ignore[no-untyped-def]
    return [await asyncio.wait_for(subscription.next(), 1) for _ in range(count)]


class Clock:
    """A settable stand-in for the wall clock in microseconds."""

    def __init__(self, now: int = 1_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def test_events_are_numbered_per_session_just_above_the_clock() -> None:
    hub = EventHub(clock=Clock(1_000))
    first, second = uuid4(), uuid4()
    assert hub.publish(first, "a").id == 1_001
    assert hub.publish(first, "b").id == 1_002
    assert hub.publish(second, "a").id == 1_001


def test_ids_of_the_real_clock_are_safe_for_javascript() -> None:
    event = EventHub().publish(uuid4(), "x")
    assert 10**15 < event.id < 2**53


async def test_a_live_subscriber_sees_new_events_in_order() -> None:
    hub = EventHub()
    session = uuid4()
    subscription = await hub.subscribe(session)
    for name in ("run_started", "text_delta", "done"):
        hub.publish(session, name)
    events = await _drain(subscription, 3)
    assert [event.type for event in events] == ["run_started", "text_delta", "done"]
    assert events[-1].is_terminal


async def test_reconnecting_after_an_id_replays_exactly_the_missed_events() -> None:
    hub = EventHub()
    session = uuid4()
    for index in range(5):
        hub.publish(session, "text_delta", n=index)
    subscription = await hub.subscribe(session, after=hub.log(session).last_id - 2)
    hub.publish(session, "done")
    events = await _drain(subscription, 3)
    assert [event.type for event in events] == ["text_delta", "text_delta", "done"]
    assert [event.data.get("n") for event in events] == [3, 4, None]


async def test_after_zero_replays_the_whole_log_from_its_start() -> None:
    hub = EventHub()
    session = uuid4()
    subscription = await hub.subscribe(session, after=0)
    for index in range(3):
        hub.publish(session, "text_delta", n=index)
    late = await hub.subscribe(session, after=0)
    assert [event.data["n"] for event in await _drain(subscription, 3)] == [0, 1, 2]
    assert [event.data["n"] for event in await _drain(late, 3)] == [0, 1, 2]


async def test_reconnecting_past_the_replay_window_gets_a_reset() -> None:
    hub = EventHub(BufferLimits(events=3), clock=Clock(0))
    session = uuid4()
    for _ in range(10):
        hub.publish(session, "text_delta")
    subscription = await hub.subscribe(session, after=2)
    (event,) = await _drain(subscription, 1)
    assert event.type == "reset"
    assert event.data["resume_from"] == 10


async def test_the_replay_buffer_is_bounded_by_bytes_too() -> None:
    hub = EventHub(BufferLimits(events=1000, bytes=10_000), clock=Clock(0))
    session = uuid4()
    for _ in range(20):
        hub.publish(session, "tool_result", content="x" * 1_000)
    log = hub.log(session)
    assert log.buffered_bytes <= 10_000
    kept = await _drain(await hub.subscribe(session, after=log.last_id - 9), 9)
    assert [event.type for event in kept] == ["tool_result"] * 9
    (event,) = await _drain(await hub.subscribe(session, after=log.last_id - 10), 1)
    assert event.type == "reset"


def test_an_event_larger_than_the_byte_bound_is_still_kept_as_the_newest() -> None:
    hub = EventHub(BufferLimits(bytes=100))
    session = uuid4()
    hub.publish(session, "tool_result", content="x" * 1_000)
    assert hub.log(session).buffered_bytes > 100


async def test_an_id_beyond_the_newest_gets_a_reset() -> None:
    hub = EventHub()
    session = uuid4()
    event = hub.publish(session, "x")
    subscription = await hub.subscribe(session, after=event.id + 500)
    (reset,) = await _drain(subscription, 1)
    assert reset.type == "reset"


async def test_an_id_from_before_a_restart_gets_a_reset() -> None:
    clock = Clock(1_000)
    session = uuid4()
    before = EventHub(clock=clock)
    stale = [before.publish(session, "text_delta").id for _ in range(50)][4]
    clock.now += 2_000_000  # the restart took two seconds
    after = EventHub(clock=clock)
    for _ in range(60):
        after.publish(session, "text_delta")
    (event,) = await _drain(await after.subscribe(session, after=stale), 1)
    assert event.type == "reset"
    assert event.data["requested_after"] == stale


async def test_an_id_from_before_a_restart_gets_a_reset_before_any_new_event() -> None:
    session = uuid4()
    stale = EventHub().publish(session, "x").id
    (event,) = await _drain(await EventHub().subscribe(session, after=stale), 1)
    assert event.type == "reset"


async def test_a_slow_subscriber_is_dropped_without_blocking_the_publisher() -> None:
    hub = EventHub(subscriber_capacity=2)
    session = uuid4()
    slow = await hub.subscribe(session)
    for _ in range(10):
        hub.publish(session, "text_delta")
    assert slow.dropped
    assert await asyncio.wait_for(slow.next(), 1) is None
    assert hub.log(session).subscriber_count == 0


async def test_closing_a_subscription_stops_delivery() -> None:
    hub = EventHub()
    session = uuid4()
    subscription = await hub.subscribe(session)
    subscription.close()
    hub.publish(session, "x")
    try:
        await asyncio.wait_for(subscription.next(), 0.05)
    except TimeoutError:
        return
    raise AssertionError("a closed subscription received an event")


async def test_iterating_a_subscription_ends_when_it_is_dropped() -> None:
    hub = EventHub(subscriber_capacity=1)
    session = uuid4()
    subscription = await hub.subscribe(session)
    hub.publish(session, "a")
    hub.publish(session, "b")
    seen = [event async for event in subscription]
    assert seen == []
    await asyncio.sleep(0)


def test_event_ids_are_globally_unique_strings() -> None:
    hub = EventHub(clock=Clock(0))
    session = uuid4()
    event = hub.publish(session, "x")
    assert event.event_id == f"{session}:1"


def test_a_forgotten_session_numbers_on_even_if_the_clock_stepped_back() -> None:
    clock = Clock(1_000)
    hub = EventHub(clock=clock)
    session = uuid4()
    hub.publish(session, "x")
    last = hub.publish(session, "y").id
    hub.forget(session)
    clock.now = 0
    assert hub.publish(session, "z").id == last + 1


async def test_idle_logs_beyond_the_limit_are_retired_without_reusing_ids() -> None:
    hub = EventHub(max_logs=2, clock=Clock(0))
    first, second, third = uuid4(), uuid4(), uuid4()
    for session in (first, second):
        hub.publish(session, "x")
        hub.publish(session, "y")
    followed = await hub.subscribe(second)
    hub.publish(third, "x")
    assert hub.publish(first, "z").id == 3
    assert not followed.dropped
    assert hub.publish(second, "z").id == 3


async def test_a_retired_log_answers_an_old_id_with_a_reset() -> None:
    hub = EventHub(max_logs=1)
    first, second = uuid4(), uuid4()
    hub.publish(first, "x")
    hub.publish(first, "y")
    hub.publish(second, "x")
    subscription = await hub.subscribe(first, after=1)
    (event,) = await _drain(subscription, 1)
    assert event.type == "reset"


def _delta(hub: EventHub, session, text: str, block: int = 0, run: str = "r1"):  # type: ignore[no-untyped-def]
    return hub.publish(session, "text_delta", run_id=run, block_index=block, text=text)


async def test_a_reader_that_keeps_up_gets_every_delta_on_its_own() -> None:
    hub = EventHub()
    session = uuid4()
    subscription = await hub.subscribe(session)
    texts = []
    for piece in ("Hel", "lo", "!"):
        _delta(hub, session, piece)
        (event,) = await _drain(subscription, 1)
        texts.append(event.data["text"])
    assert texts == ["Hel", "lo", "!"]


async def test_unread_deltas_of_one_block_join_under_the_newest_id() -> None:
    hub = EventHub()
    session = uuid4()
    subscription = await hub.subscribe(session)
    started = hub.publish(session, "run_started", run_id="r1")
    first = [_delta(hub, session, piece) for piece in ("Hel", "lo")]
    other_block = _delta(hub, session, " there", block=1)
    second = _delta(hub, session, "!", block=1)
    done = hub.publish(session, "done", run_id="r1")

    events = await _drain(subscription, 4)

    assert [event.type for event in events] == ["run_started", "text_delta", "text_delta", "done"]
    assert [event.id for event in events] == [started.id, first[-1].id, second.id, done.id]
    assert events[1].data == {"run_id": "r1", "block_index": 0, "text": "Hello"}
    assert events[2].data == {"run_id": "r1", "block_index": 1, "text": " there!"}
    assert other_block.id < second.id
    assert subscription.ready() == []


async def test_deltas_of_different_runs_or_around_other_events_stay_apart() -> None:
    hub = EventHub()
    session = uuid4()
    subscription = await hub.subscribe(session)
    _delta(hub, session, "a", run="r1")
    _delta(hub, session, "b", run="r2")
    hub.publish(session, "usage", run_id="r2")
    _delta(hub, session, "c", run="r2")

    events = [await subscription.next(), *subscription.ready()]

    assert [(event.type, event.data.get("text")) for event in events] == [
        ("text_delta", "a"),
        ("text_delta", "b"),
        ("usage", None),
        ("text_delta", "c"),
    ]


async def test_a_burst_of_deltas_fills_one_slot_of_a_slow_reader() -> None:
    hub = EventHub(subscriber_capacity=2)
    session = uuid4()
    slow = await hub.subscribe(session)
    for _ in range(1000):
        _delta(hub, session, "x")
    assert not slow.dropped
    (event,) = await _drain(slow, 1)
    assert event.data["text"] == "x" * 1000


async def test_the_replay_buffer_keeps_each_delta() -> None:
    hub = EventHub()
    session = uuid4()
    first, second = _delta(hub, session, "a"), _delta(hub, session, "b")
    # A replay is unread too, so it joins; the buffer still resumes after either delta.
    replayed = (await hub.subscribe(session, after=0)).ready()
    assert [event.data["text"] for event in replayed] == ["ab"]
    (event,) = (await hub.subscribe(session, after=first.id)).ready()
    assert (event.id, event.data["text"]) == (second.id, "b")
