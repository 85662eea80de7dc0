"""Two server processes on one database: a turn run by one streams whole through the
other, and a server started later replays it exactly from an id, with no reset."""

from __future__ import annotations

import asyncio

from kumiai.core.config import Settings
from tests.integration.runtime.helpers import (
    create_specialist,
    create_team,
    follow_events,
    send,
    stream_reading,
    wait_for_subscriber,
)
from tests.support.live import LiveApp, live_app
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic

ANSWER = "every word of this answer crosses from one server process to the other"


async def test_a_turn_sent_through_one_process_streams_through_another_and_replays_after_a_restart(
    live: LiveApp, live_settings: Settings, claude: ScriptedAnthropic
) -> None:
    team = await create_team(live, "Dana")
    session_id = await create_specialist(live, team, "Dana")
    claude.enqueue(Reply.text(ANSWER, chunks=12))

    async with live_app(live_settings, keep_data=True) as other:
        follower = asyncio.create_task(follow_events(other, session_id))
        await wait_for_subscriber(other, session_id)
        await send(live.client, session_id, "tell me")
        streamed = await asyncio.wait_for(follower, timeout=20)

    ids = [int(event.id or 0) for event in streamed]
    assert ids == sorted(set(ids))  # in order, none twice
    assert stream_reading(streamed)[0] == ANSWER
    assert "run_started" in [event.type for event in streamed]

    middle = streamed[len(streamed) // 2]
    async with live_app(live_settings, keep_data=True) as restarted:
        replayed = await follow_events(restarted, session_id, headers={"last-event-id": middle.id})

    assert "reset" not in [event.type for event in replayed]
    after_middle = [event for event in streamed if int(event.id or 0) > int(middle.id or 0)]
    assert stream_reading(replayed) == stream_reading(after_middle)
