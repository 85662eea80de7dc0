"""v1 sessions: the board's and the chats' calls (V1_CONTRACT §2.7, §2.8).

``/sessions/launch`` is declared before the ``/{session_id}`` routes so it wins.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, status
from fastapi.responses import JSONResponse

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.v1.session_shapes import (
    CreateSession,
    Enqueued,
    LaunchSession,
    MessagePage,
    QueueStatus,
    StageChange,
    UserQuery,
    V1Session,
)
from kumiai.api.v1.unchecked import array_even_if_unavailable
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.conversation import SendMessage
from kumiai.application.dtos.sessions import SessionCreate, SessionUpdate, SessionView
from kumiai.composition import Container
from kumiai.domain.repositories import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from kumiai.domain.value_objects import SessionType

router = FlatRouter(prefix="/sessions", tags=["v1 sessions"])


@router.get("", response_model=list[V1Session])
async def list_sessions(
    container: ContainerDep, project_id: UUID | None = None
) -> list[V1Session] | JSONResponse:
    """Every live session (assistants included), or the project's; oldest first.
    ``[]`` with status 503 when the database is unavailable."""

    async def load() -> list[V1Session]:
        return await _v1(container, await container.sessions.list_all(project_id))

    return await array_even_if_unavailable(load)


@router.post("/launch", status_code=status.HTTP_201_CREATED)
async def launch_session(body: LaunchSession, container: ContainerDep) -> V1Session:
    """An assistant session; its folder is the server's choice unless ``project_path`` is set."""
    context: dict[str, Any] = {"description": body.session_description}
    if body.project_path.strip():
        context["project_path"] = body.project_path
    if body.kanban_stage is not None:
        context["kanban_stage"] = str(body.kanban_stage)
    created = await container.sessions.create(
        SessionCreate(
            session_type=SessionType(body.role), project_id=body.project_id, context=context
        )
    )
    if body.auto_start and body.session_description.strip():
        await container.conversation.send(created.id, SendMessage(content=body.session_description))
    return await _one(container, created)


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(404, 409))
async def create_session(body: CreateSession, container: ContainerDep) -> V1Session:
    """A session stored with ``context`` as given; a specialist's agent must be on the team,
    and ``task_id`` must be a live task of the project (422 otherwise)."""
    created = await container.sessions.create(
        SessionCreate(
            session_type=body.session_type,
            character_id=body.agent_id,
            project_id=body.project_id,
            task_id=body.task_id,
            context=body.context or {},
        )
    )
    return await _one(container, created)


# ":uuid": "/sessions/launch" is not a session, so GET on it is a 405, not a bad id.
@router.get("/{session_id:uuid}")
async def get_session(session_id: UUID, container: ContainerDep) -> V1Session:
    return await _one(container, await container.sessions.get(session_id))


@router.delete("/{session_id:uuid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(session_id: UUID, container: ContainerDep) -> None:
    """Stop the session and hide it."""
    await container.sessions.delete(session_id)


@router.patch("/{session_id}/stage")
async def move_to_stage(session_id: UUID, body: StageChange, container: ContainerDep) -> V1Session:
    changed = await container.sessions.update(session_id, SessionUpdate(kanban_stage=body.stage))
    return await _one(container, changed)


@router.post("/{session_id}/recreate")
async def recreate_session(session_id: UUID, container: ContainerDep) -> V1Session:
    """Start over in place: the same id, no history, ``idle``."""
    return await _one(container, await container.sessions.reset(session_id))


@router.post("/{session_id}/interrupt", status_code=status.HTTP_204_NO_CONTENT)
async def interrupt(session_id: UUID, container: ContainerDep) -> None:
    """Stop the running response (its output so far is kept) and clear the queue."""
    await container.conversation.interrupt(session_id)


@router.post("/{session_id}/enqueue", status_code=status.HTTP_202_ACCEPTED, responses=errors(409))
async def enqueue(session_id: UUID, body: UserQuery, container: ContainerDep) -> Enqueued:
    """Store ``query`` verbatim as a user message; it waits while a response runs."""
    sent = await container.conversation.send(session_id, SendMessage(content=body.query))
    return Enqueued(message_id=sent.message_id, run_id=sent.run_id, queued=sent.queued)


@router.get("/{session_id}/queue-status")
async def queue_status(session_id: UUID, container: ContainerDep) -> QueueStatus:
    queue = await container.conversation.queue(session_id)
    return QueueStatus(queue_size=queue.size, is_processing=queue.running is not None)


@router.get("/{session_id}/messages")
async def list_messages(
    session_id: UUID,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> MessagePage:
    """The newest ``limit`` messages, or with ``cursor`` the page just older; oldest first."""
    page = await container.messages.chat_page(session_id, limit=limit, cursor=cursor or None)
    return MessagePage.of(page)


async def _one(container: Container, session: SessionView) -> V1Session:
    (shaped,) = await _v1(container, [session])
    return shaped


async def _v1(container: Container, sessions: list[SessionView]) -> list[V1Session]:
    agents = await container.sessions.agents(session.character_id for session in sessions)
    return [V1Session.of(session, agents) for session in sessions]
