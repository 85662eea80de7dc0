"""Session queues: pending inputs ordered by a server-wide identity column."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kumiai.domain.entities import PendingInput, Project, Session, UserProfile
from kumiai.domain.repositories import LockedQueue
from kumiai.domain.value_objects import PendingInputState
from kumiai.infrastructure.database.tables import (
    pending_inputs,
    projects,
    session_events,
    sessions,
    user_profiles,
)

_PENDING = pending_inputs.c.state == PendingInputState.PENDING
_LIVE_PROJECT = projects.c.deleted_at.is_(None)
# What a session's waiting reason is read from, correlated with its ``sessions`` row:
# whether inputs of it wait, and whether its live project is archived.
INPUTS_WAIT = sa.exists().where(pending_inputs.c.session_id == sessions.c.id, _PENDING)
IN_ARCHIVED_PROJECT = sa.func.coalesce(
    sa.select(projects.c.archived_at.is_not(None))
    .where(projects.c.id == sessions.c.project_id, _LIVE_PROJECT)
    .scalar_subquery(),
    False,
)
# The head of the session's event log comes along (so a send that streams its turn
# needs no read of its own to start the stream after what came before).
_EVENT_HEAD = sa.func.coalesce(
    sa.select(sa.func.max(session_events.c.id))
    .where(session_events.c.session_id == sessions.c.id)
    .scalar_subquery(),
    0,
)
# The session (locked; the outer joins are never locked), its live project, the user's
# profile and its event head, with one row per pending input. The inputs and the project
# are read as the statement found them when it began, also when it waited for the lock
# (only the locked row is read again): so an input queued or dropped meanwhile can be
# missing or still listed. The writes that act on the queue check it again in statements
# of their own, which start after the lock (``remove``,
# ``SqlMessageRepository.append_unless_inputs_wait``). Nothing changes a project under
# its sessions' row locks (an archive does not take them), so a read of it after the
# lock would race the same changes anyway.
_LOCKED_QUEUE = (
    sa.select(Session, Project, PendingInput, UserProfile, _EVENT_HEAD)
    .select_from(sessions)
    .outerjoin(projects, sa.and_(projects.c.id == sessions.c.project_id, _LIVE_PROJECT))
    .outerjoin(pending_inputs, sa.and_(pending_inputs.c.session_id == sessions.c.id, _PENDING))
    .outerjoin(user_profiles, sa.true())  # one row at most (a singleton index)
    .where(sessions.c.id == sa.bindparam("session_id"), sessions.c.deleted_at.is_(None))
    .order_by(pending_inputs.c.position)
    .with_for_update(of=sessions)
    .execution_options(populate_existing=True)
)


# Takes an input off the queue only if it still waits: built once, like the reads.
_REMOVE_WAITING = (
    sa.delete(pending_inputs)
    .where(pending_inputs.c.id == sa.bindparam("item_id"), _PENDING)
    .returning(pending_inputs.c.id)
)


class SqlPendingInputRepository:
    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    async def add(self, item: PendingInput) -> None:
        self._db.add(item)
        await self._db.flush()

    async def waiting(self, session_id: UUID) -> list[PendingInput]:
        query = (
            sa.select(PendingInput)
            .where(pending_inputs.c.session_id == session_id, _PENDING)
            .order_by(pending_inputs.c.position)
        )
        return list((await self._db.scalars(query)).all())

    async def locked_queue(self, session_id: UUID) -> LockedQueue:
        rows = (await self._db.execute(_LOCKED_QUEUE, {"session_id": session_id})).all()
        if not rows:
            return LockedQueue(None, None, [], None, 0)
        session, project, _, profile, event_head = rows[0]
        waiting = [item for _, _, item, _, _ in rows if item is not None]
        return LockedQueue(session, project, waiting, profile, event_head)

    async def next_waiting(self, session_id: UUID) -> PendingInput | None:
        query = (
            sa.select(PendingInput)
            .where(pending_inputs.c.session_id == session_id, _PENDING)
            .order_by(pending_inputs.c.position)
            .limit(1)
        )
        return (await self._db.scalars(query)).first()

    async def dropped(self, session_id: UUID, limit: int) -> list[PendingInput]:
        query = (
            sa.select(PendingInput)
            .where(
                pending_inputs.c.session_id == session_id,
                pending_inputs.c.state == PendingInputState.DROPPED,
            )
            .order_by(pending_inputs.c.position.desc())
            .limit(limit)
        )
        return list((await self._db.scalars(query)).all())

    async def remove(self, item: PendingInput) -> bool:
        await self._db.flush()  # what the unit of work changed before goes first, as ever
        removed = await self._db.scalar(_REMOVE_WAITING, {"item_id": item.id})
        if removed is None:
            return False
        self._db.expunge(item)  # its row is gone: the unit of work forgets it
        return True

    async def waiting_among(self, session_ids: Collection[UUID]) -> dict[UUID, bool]:
        if not session_ids:
            return {}
        query = sa.select(sessions.c.id, IN_ARCHIVED_PROJECT).where(
            sessions.c.id.in_(list(session_ids)), INPUTS_WAIT
        )
        return {
            session_id: bool(in_archive) for session_id, in_archive in await self._db.execute(query)
        }

    async def sessions_waiting(self) -> list[UUID]:
        oldest = sa.func.min(pending_inputs.c.position)
        query = (
            sa.select(pending_inputs.c.session_id)
            .join(sessions, sessions.c.id == pending_inputs.c.session_id)
            .where(_PENDING, sessions.c.deleted_at.is_(None))
            .group_by(pending_inputs.c.session_id)
            .order_by(oldest)
        )
        return list((await self._db.scalars(query)).all())
