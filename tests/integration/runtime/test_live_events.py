"""The live event stream: resumable with Last-Event-ID, exactly once, with a reset."""

from __future__ import annotations

import asyncio
from uuid import UUID

from tests.integration.runtime.helpers import (
    create_specialist,
    create_team,
    follow_events,
    send,
    stream_reading,
    wait_for_subscriber,
    wait_until_idle,
)
from tests.support.live import LiveApp
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic
from tests.support.sse import collect


async def test_reconnecting_with_last_event_id_mid_run_sees_every_event_exactly_once(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.text("a fairly long streamed answer " * 4, chunks=30).slow(0.02))
    witness = asyncio.create_task(follow_events(live, session_id, params={"after": 0}))
    await wait_for_subscriber(live, session_id)
    await send(live.client, session_id, "talk to me")

    async with live.client.stream(
        "GET", f"/api/v2/sessions/{session_id}/events", params={"after": 0}
    ) as response:
        first_part = await collect(response, count=8)
    assert first_part[-1].type != "done"
    second_part = await follow_events(
        live, session_id, headers={"last-event-id": first_part[-1].id or ""}
    )

    everything = await asyncio.wait_for(witness, timeout=10)
    ids = [int(event.id or 0) for event in first_part + second_part]
    assert ids == sorted(set(ids))  # in order, none twice
    # A reader that falls behind reads adjacent deltas joined under the newest id, so
    # the two readings agree on the text and on every other event, not on delta ids.
    assert stream_reading(first_part + second_part) == stream_reading(everything)
    assert [event.type for event in everything].count("done") == 1


async def test_reconnecting_with_an_id_no_server_gave_gets_a_reset(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    live.container.events.publish(UUID(session_id), "status_changed", status="idle")
    async with live.client.stream(
        "GET",
        f"/api/v2/sessions/{session_id}/events",
        # An id of the per-process logs before events were persisted (microseconds).
        headers={"last-event-id": str(1_700_000_000_000_000)},
    ) as response:
        (event,) = await collect(response, count=1)
    assert event.type == "reset"
    assert event.data["reason"] == "unknown_id"


async def test_events_of_an_unknown_session_are_a_404(live: LiveApp) -> None:
    response = await live.client.get("/api/v2/sessions/00000000-0000-0000-0000-000000000000/events")
    assert response.status_code == 404


async def test_a_client_disconnect_never_cancels_the_run(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.text("still finishing after you left", chunks=10).slow(0.03))
    async with live.client.stream(
        "POST",
        f"/api/v2/sessions/{session_id}/messages",
        json={"content": "go"},
        headers={"accept": "text/event-stream"},
    ) as response:
        await collect(response, count=3)
    await wait_until_idle(live, session_id)
    rows = (await live.client.get(f"/api/v2/sessions/{session_id}/messages")).json()["data"]
    assert rows[-1]["content"] == "still finishing after you left"


async def test_an_open_stream_keeps_working_after_the_session_is_reset_in_place(
    live: LiveApp, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    follower = asyncio.create_task(follow_events(live, session_id, params={"after": 0}))
    await wait_for_subscriber(live, session_id)
    reset = await live.client.post(f"/api/v1/sessions/{session_id}/recreate")
    assert reset.status_code == 200
    claude.enqueue(Reply.text("fresh start"))
    await send(live.client, session_id, "hello again")
    events = await asyncio.wait_for(follower, timeout=10)
    assert [event.type for event in events][-1] == "done"
