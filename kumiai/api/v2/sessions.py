from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import Query

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.schemas import Envelope, ListEnvelope
from kumiai.api.v2.common import PageDep, list_envelope
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.messages import MessageView
from kumiai.application.dtos.sessions import SessionCreate, SessionUpdate, SessionView
from kumiai.domain.entities import MAX_SEQUENCE
from kumiai.domain.repositories import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, SessionFilter
from kumiai.domain.value_objects import SessionStatus, SessionType

router = FlatRouter(prefix="/sessions", tags=["sessions"])


@router.post("", status_code=201, responses=errors(409, 422))
async def create_session(data: SessionCreate, container: ContainerDep) -> Envelope[SessionView]:
    """Create a session, ready (`idle`).

    A PM session needs a project without a PM (it becomes that PM); a specialist needs a
    project whose team or PM includes its character. `task_id` must name a live task of
    `project_id` (422 naming `task_id` otherwise); it cannot be changed afterwards.
    """
    return Envelope(data=await container.sessions.create(data))


@router.get("", responses=errors(422))
async def list_sessions(
    page: PageDep,
    container: ContainerDep,
    *,
    project_id: UUID | None = None,
    status: SessionStatus | None = None,
    session_type: SessionType | None = None,
    character_id: UUID | None = None,
    task_id: Annotated[UUID | None, Query(description="Only sessions bound to this task.")] = None,
) -> ListEnvelope[SessionView]:
    """Live sessions, oldest first, optionally filtered."""
    filters = SessionFilter(
        project_id=project_id,
        status=status,
        session_type=session_type,
        character_id=character_id,
        task_id=task_id,
    )
    sessions = await container.sessions.list_sessions(page, filters)
    return list_envelope(sessions, SessionView.model_validate)


@router.get("/{session_id}", responses=errors(404, 422))
async def get_session(session_id: UUID, container: ContainerDep) -> Envelope[SessionView]:
    return Envelope(data=await container.sessions.get(session_id))


@router.patch("/{session_id}", responses=errors(404, 422))
async def update_session(
    session_id: UUID, changes: SessionUpdate, container: ContainerDep
) -> Envelope[SessionView]:
    """Replace `context` and/or move the session to another kanban column."""
    return Envelope(data=await container.sessions.update(session_id, changes))


@router.delete("/{session_id}", status_code=204, responses=errors(404, 422))
async def delete_session(session_id: UUID, container: ContainerDep) -> None:
    """Soft-delete: the session is stopped and hidden; a PM session stops being the PM."""
    await container.sessions.delete(session_id)


@router.post("/{session_id}/cancel", responses=errors(404, 409, 422))
async def cancel_session(
    session_id: UUID,
    container: ContainerDep,
    drop_queue: Annotated[
        bool, Query(description="Also discard the messages waiting in the queue.")
    ] = False,
) -> Envelope[SessionView]:
    """Stop the running turn (within a second) and the session.

    Queued messages stay queued unless `drop_queue` is set; 409 with `current_status`
    and `allowed` once the session has ended.
    """
    return Envelope(data=await container.sessions.cancel(session_id, drop_queue=drop_queue))


@router.post("/{session_id}/resume", responses=errors(404, 409, 422))
async def resume_session(session_id: UUID, container: ContainerDep) -> Envelope[SessionView]:
    """Reopen an ended session; 409 with `current_status` and `allowed` while it is live."""
    return Envelope(data=await container.sessions.resume(session_id))


@router.post("/{session_id}/complete", responses=errors(404, 409, 422))
async def complete_session(session_id: UUID, container: ContainerDep) -> Envelope[SessionView]:
    """Mark the work of an idle session as done (`completed`); `resume` reopens it."""
    return Envelope(data=await container.sessions.complete(session_id))


@router.get("/{session_id}/messages", responses=errors(404, 422))
async def list_messages(
    session_id: UUID,
    container: ContainerDep,
    *,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    before: Annotated[
        int | None, Query(ge=0, le=MAX_SEQUENCE, description="Only sequences below this.")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_SEQUENCE, description="Only sequences above this.")
    ] = None,
    order: Annotated[
        Literal["asc", "desc"], Query(description="`desc` starts from the newest message.")
    ] = "asc",
    cursor: Annotated[
        str | None,
        Query(max_length=512, description="`meta.next_cursor`; continues that walk."),
    ] = None,
) -> ListEnvelope[MessageView]:
    """The conversation by `sequence`, paged in either direction."""
    page = await container.messages.list_messages(
        session_id, limit=limit, before=before, after=after, order=order, cursor=cursor
    )
    return list_envelope(page, MessageView.model_validate)
