"""Talking to a session: send messages, follow live events, see the queue."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import Header, Query, Request, status
from sse_starlette import EventSourceResponse

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.schemas import Envelope
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.conversation import (
    AnswerQuestions,
    AnswersTaken,
    QueueView,
    SendMessage,
    SentMessage,
)
from kumiai.application.ports.events import SessionEvent
from kumiai.application.services.runtime.events import Subscription
from kumiai.application.services.streams import OpenStreams

router = FlatRouter(prefix="/sessions", tags=["conversation"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
HEARTBEAT_SECONDS = 15

STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {}},
        "description": "With `Accept: text/event-stream`: the events of this turn, "
        "ending with its terminal event (`done`, `error` or `cancelled`).",
    }
}


def encode_event(event: SessionEvent) -> bytes:
    """One event in SSE framing (JSON data never spans lines: it escapes newlines)."""
    data = json.dumps({"session_id": str(event.session_id), **event.data}, default=str)
    return f"id: {event.id}\r\nevent: {event.type}\r\ndata: {data}\r\n\r\n".encode()


def _wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


async def _batches(
    streams: OpenStreams, session_id: UUID, subscription: Subscription, run_id: UUID | None
) -> AsyncIterator[bytes]:
    """The events as they come; those already waiting go out together, in one write.

    With ``run_id``, the stream ends after that run's terminal event.
    """
    ending = str(run_id) if run_id is not None else None
    try:
        with streams.track(session_id):
            while (first := await subscription.next()) is not None:
                chunk = []
                for event in (first, *subscription.ready()):
                    chunk.append(encode_event(event))
                    terminal = event.is_terminal and ending is not None
                    if terminal and event.data.get("run_id") == ending:
                        yield b"".join(chunk)
                        return
                yield b"".join(chunk)
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
    subscription, sent = await conversation.send_and_follow(session_id, body)
    return EventSourceResponse(
        _batches(container.streams, session_id, subscription, sent.run_id),
        headers=SSE_HEADERS,
        ping=HEARTBEAT_SECONDS,
    )


@router.post("/{session_id}/answers", responses=errors(404, 409, 422))
async def answer_questions(
    session_id: UUID, body: AnswerQuestions, container: ContainerDep
) -> Envelope[AnswersTaken]:
    """Answer the agent's open `AskUserQuestion` call: the answers become its result and
    the waiting turn goes on. 409 when the session is not waiting for answers; 422 when
    an answer names no question of the call or gives several to a single-choice one."""
    return Envelope(data=await container.conversation.answer(session_id, body))


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
        _batches(container.streams, session_id, subscription, None),
        headers=SSE_HEADERS,
        ping=HEARTBEAT_SECONDS,
    )


@router.get("/{session_id}/queue", responses=errors(404))
async def get_queue(session_id: UUID, container: ContainerDep) -> Envelope[QueueView]:
    """The running turn and the messages waiting behind it."""
    return Envelope(data=await container.conversation.queue(session_id))
