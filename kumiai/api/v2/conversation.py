"""Talking to a session: send messages, follow live events, see the queue."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, status
from sse_starlette import EventSourceResponse, ServerSentEvent

from kumiai.api.deps import ContainerDep
from kumiai.api.schemas import Envelope
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.conversation import QueueView, SendMessage, SentMessage
from kumiai.application.services.runtime.events import SessionEvent, Subscription

router = APIRouter(prefix="/sessions", tags=["conversation"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
HEARTBEAT_SECONDS = 15

STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {}},
        "description": "With `Accept: text/event-stream`: the events of this turn, "
        "ending with its terminal event (`done`, `error` or `cancelled`).",
    }
}


def to_sse(event: SessionEvent) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps({"session_id": str(event.session_id), **event.data}, default=str),
        event=event.type,
        id=str(event.id),
    )


def _wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


async def _turn_events(subscription: Subscription, run_id: UUID) -> AsyncIterator[ServerSentEvent]:
    try:
        async for event in subscription:
            yield to_sse(event)
            if event.is_terminal and event.data.get("run_id") == str(run_id):
                return
    finally:
        subscription.close()


async def _all_events(subscription: Subscription) -> AsyncIterator[ServerSentEvent]:
    try:
        async for event in subscription:
            yield to_sse(event)
    finally:
        subscription.close()


@router.post(
    "/{session_id}/messages",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Envelope[SentMessage],
    responses={**STREAM_RESPONSE, **errors(404, 409, 413, 422)},
)
async def send_message(
    session_id: UUID, body: SendMessage, request: Request, container: ContainerDep
) -> Envelope[SentMessage] | EventSourceResponse:
    """Persist a user message and queue its turn (202), or stream that turn (SSE).

    A message sent while the session is busy waits in the queue; nothing is lost.
    """
    conversation = container.conversation
    if not _wants_stream(request):
        return Envelope(data=await conversation.send(session_id, body))
    subscription = await conversation.subscribe(session_id, after=None)
    try:
        sent = await conversation.send(session_id, body)
    except BaseException:
        subscription.close()
        raise
    return EventSourceResponse(
        _turn_events(subscription, sent.run_id), headers=SSE_HEADERS, ping=HEARTBEAT_SECONDS
    )


@router.get(
    "/{session_id}/events",
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Live events; resumable with Last-Event-ID.",
        },
        **errors(404, 422),
    },
)
async def follow_events(
    session_id: UUID,
    container: ContainerDep,
    after: Annotated[int | None, Query(ge=0, description="Replay events after this id.")] = None,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
) -> EventSourceResponse:
    """A persistent subscription to every event of the session.

    Reconnect with `Last-Event-ID` (or `?after=`) to receive exactly the missed events;
    a `reset` event means the gap is too old and the client should refetch messages.
    """
    start = last_event_id if last_event_id is not None else after
    subscription = await container.conversation.subscribe(session_id, after=start)
    return EventSourceResponse(
        _all_events(subscription), headers=SSE_HEADERS, ping=HEARTBEAT_SECONDS
    )


@router.get("/{session_id}/queue", response_model=Envelope[QueueView], responses=errors(404))
async def get_queue(session_id: UUID, container: ContainerDep) -> Envelope[QueueView]:
    """The running turn and the messages waiting behind it."""
    return Envelope(data=await container.conversation.queue(session_id))
