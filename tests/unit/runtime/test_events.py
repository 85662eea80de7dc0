"""The per-session event log: numbering, replay, reset and slow subscribers."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from kumiai.application.services.runtime.events import EventHub


async def _drain(subscription, count: int) -> list:  # type: ignore[no-untyped-def]
    return [await asyncio.wait_for(subscription.next(), 1) for _ in range(count)]


async def test_events_are_numbered_per_session_from_one() -> None:
    hub = EventHub()
    first, second = uuid4(), uuid4()
    assert hub.publish(first, "a").id == 1
    assert hub.publish(first, "b").id == 2
    assert hub.publish(second, "a").id == 1


async def test_a_live_subscriber_sees_new_events_in_order() -> None:
    hub = EventHub()
    session = uuid4()
    subscription = hub.subscribe(session)
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
    subscription = hub.subscribe(session, after=3)
    hub.publish(session, "done")
    events = await _drain(subscription, 3)
    assert [event.id for event in events] == [4, 5, 6]


async def test_reconnecting_past_the_replay_window_gets_a_reset() -> None:
    hub = EventHub(buffer_size=3)
    session = uuid4()
    for _ in range(10):
        hub.publish(session, "text_delta")
    subscription = hub.subscribe(session, after=2)
    (event,) = await _drain(subscription, 1)
    assert event.type == "reset"
    assert event.data["resume_from"] == 10


async def test_an_id_from_before_a_restart_gets_a_reset() -> None:
    hub = EventHub()
    session = uuid4()
    hub.publish(session, "x")
    subscription = hub.subscribe(session, after=500)
    (event,) = await _drain(subscription, 1)
    assert event.type == "reset"


async def test_a_slow_subscriber_is_dropped_without_blocking_the_publisher() -> None:
    hub = EventHub(subscriber_capacity=2)
    session = uuid4()
    slow = hub.subscribe(session)
    for _ in range(10):
        hub.publish(session, "text_delta")
    assert slow.dropped
    assert await asyncio.wait_for(slow.next(), 1) is None
    assert hub.log(session).subscriber_count == 0


async def test_closing_a_subscription_stops_delivery() -> None:
    hub = EventHub()
    session = uuid4()
    subscription = hub.subscribe(session)
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
    subscription = hub.subscribe(session)
    hub.publish(session, "a")
    hub.publish(session, "b")
    seen = [event async for event in subscription]
    assert seen == []
    await asyncio.sleep(0)


def test_event_ids_are_globally_unique_strings() -> None:
    hub = EventHub()
    session = uuid4()
    event = hub.publish(session, "x")
    assert event.event_id == f"{session}:1"


def test_a_forgotten_session_starts_numbering_afresh() -> None:
    hub = EventHub()
    session = uuid4()
    hub.publish(session, "x")
    hub.forget(session)
    assert hub.publish(session, "y").id == 1


def test_idle_logs_beyond_the_limit_are_retired_without_reusing_ids() -> None:
    hub = EventHub(max_logs=2)
    first, second, third = uuid4(), uuid4(), uuid4()
    for session in (first, second):
        hub.publish(session, "x")
        hub.publish(session, "y")
    followed = hub.subscribe(second)
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
    subscription = hub.subscribe(first, after=1)
    (event,) = await _drain(subscription, 1)
    assert event.type == "reset"
