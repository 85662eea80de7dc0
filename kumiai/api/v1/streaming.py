"""The v1 session streams: the persistent per-session stream and the legacy per-turn one.

Both speak the v1 framing (V1_CONTRACT §3.1): ``event: <name>`` plus one single-line
JSON ``data:``; the keepalive is a real ``ping`` event, since the client counts only
parsed events as a sign of life.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from sse_starlette import EventSourceResponse, ServerSentEvent

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.v1.session_shapes import UserQuery
from kumiai.api.v1.stream_events import StreamMapper
from kumiai.application.dtos.conversation import SendMessage
from kumiai.application.ports.events import SessionEvent
from kumiai.application.services.runtime.events import Subscription
from kumiai.composition import Container

router = FlatRouter(prefix="/sessions", tags=["v1 streaming"])

PING_SECONDS = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# The client remembers event ids while a chat stays open, so ids from before a restart
# must not match new ones; session event ids already never repeat, the epoch is a second
# guard for the v1 ids derived from them.
EPOCH = uuid.uuid4().hex[:8]

STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "v1 events (V1_CONTRACT §3)."}
}


@router.get("/{session_id}/stream", responses=STREAM_RESPONSE)
async def follow_session(session_id: UUID, container: ContainerDep) -> EventSourceResponse:
    """Every event of the session from now on, for as long as the client stays."""
    subscription, mapper = await _open(container, session_id)
    return _respond(_v1_events(container, session_id, subscription, mapper))


@router.post("/{session_id}/query", responses=STREAM_RESPONSE)
async def query(session_id: UUID, body: UserQuery, container: ContainerDep) -> EventSourceResponse:
    """Legacy: send a message and stream until its turn's ``message_complete``."""
    subscription, mapper = await _open(container, session_id)
    try:
        sent = await container.conversation.send(session_id, SendMessage(content=body.query))
    except BaseException:
        subscription.close()
        raise
    return _respond(_v1_events(container, session_id, subscription, mapper, until_run=sent.run_id))


async def _open(container: Container, session_id: UUID) -> tuple[Subscription, StreamMapper]:
    """Subscribe first, then read the queue, so no queue change falls in between."""
    subscription = await container.conversation.subscribe(session_id, after=None)
    try:
        queue = await container.conversation.queue(session_id)
        agent = await container.sessions.agent_of(session_id)
    except BaseException:
        subscription.close()
        raise
    return subscription, StreamMapper(agent, EPOCH, queue_size=queue.size)


async def _v1_events(
    container: Container,
    session_id: UUID,
    subscription: Subscription,
    mapper: StreamMapper,
    *,
    until_run: UUID | None = None,
) -> AsyncIterator[ServerSentEvent]:
    try:
        with container.streams.track(session_id):
            async for event in subscription:
                sender = mapper.sender_to_look_up(event)
                if sender is not None:
                    mapper.learn_sender(sender, await container.sessions.agent_of(sender))
                for name, payload in mapper.map(event):
                    yield ServerSentEvent(data=json.dumps(payload, default=str), event=name)
                if event.is_terminal and until_run is not None and _of_run(event, until_run):
                    return
    finally:
        subscription.close()


def _of_run(event: SessionEvent, run_id: UUID) -> bool:
    return event.data.get("run_id") == str(run_id)


def _respond(events: AsyncIterator[ServerSentEvent]) -> EventSourceResponse:
    # Read at call time so tests can shorten the interval.
    return EventSourceResponse(
        events, headers=SSE_HEADERS, ping=PING_SECONDS, ping_message_factory=_ping
    )


def _ping() -> ServerSentEvent:
    return ServerSentEvent(data="{}", event="ping")
