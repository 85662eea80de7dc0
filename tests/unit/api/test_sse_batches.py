"""The v2 SSE body: waiting events go out in one chunk, and a turn's stream ends at
its own terminal event."""

from __future__ import annotations

import json
from uuid import uuid4

from kumiai.api.v2.conversation import _batches
from kumiai.application.services.runtime.events import EventHub
from kumiai.application.services.streams import OpenStreams


def _events(chunk: bytes) -> list[tuple[str, dict[str, object]]]:
    found = []
    for block in chunk.decode().split("\r\n\r\n"):
        if not block:
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\r\n"))
        found.append((fields["event"], json.loads(fields["data"])))
    return found


async def test_waiting_events_go_out_together_and_the_turn_ends_at_its_terminal_event() -> None:
    hub = EventHub()
    session, run = uuid4(), uuid4()
    subscription = await hub.subscribe(session)
    hub.publish(session, "run_started", run_id=str(run))
    for piece in ("Hel", "lo"):
        hub.publish(session, "text_delta", run_id=str(run), block_index=0, text=piece)
    hub.publish(session, "done", run_id=str(run))
    hub.publish(session, "status_changed", status="idle")  # after the end: not sent

    chunks = [chunk async for chunk in _batches(OpenStreams(), session, subscription, run)]

    assert len(chunks) == 1
    assert [(name, data.get("text")) for name, data in _events(chunks[0])] == [
        ("run_started", None),
        ("text_delta", "Hello"),
        ("done", None),
    ]
    assert all(data["session_id"] == str(session) for _, data in _events(chunks[0]))
    assert hub.log(session).subscriber_count == 0


async def test_another_runs_terminal_event_does_not_end_the_stream() -> None:
    hub = EventHub()
    session, run = uuid4(), uuid4()
    subscription = await hub.subscribe(session)
    hub.publish(session, "done", run_id="earlier")
    hub.publish(session, "done", run_id=str(run))

    chunks = [chunk async for chunk in _batches(OpenStreams(), session, subscription, run)]

    assert [data["run_id"] for _, data in _events(b"".join(chunks))] == ["earlier", str(run)]
