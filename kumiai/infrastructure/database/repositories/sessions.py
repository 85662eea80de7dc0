from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import sqlalchemy as sa

from kumiai.domain.entities import Session
from kumiai.domain.repositories import Page, PageRequest, SessionFilter
from kumiai.domain.value_objects import SessionStatus, SessionType
from kumiai.infrastructure.database.repositories.base import SqlRepository
from kumiai.infrastructure.database.repositories.pending_inputs import (
    IN_ARCHIVED_PROJECT,
    INPUTS_WAIT,
)
from kumiai.infrastructure.database.tables import sessions

LIVE = sessions.c.deleted_at.is_(None)

# A session GET in one round trip: the row, whether inputs of it are pending, and whether
# its live project is archived (as ``waiting_among`` reads them), built once at import.
_LIVE_WITH_WAITING = sa.select(
    Session, INPUTS_WAIT.label("waits"), IN_ARCHIVED_PROJECT.label("in_archive")
).where(sessions.c.id == sa.bindparam("session_id"), LIVE)
_LIVE_WITH_WAITING_FOR_UPDATE = _LIVE_WITH_WAITING.with_for_update(of=sessions).execution_options(
    populate_existing=True
)


class SqlSessionRepository(SqlRepository[Session]):
    entity = Session
    table = sessions

    async def get_with_waiting(
        self, session_id: UUID, *, for_update: bool = False
    ) -> tuple[Session | None, bool | None]:
        query = _LIVE_WITH_WAITING_FOR_UPDATE if for_update else _LIVE_WITH_WAITING
        row = (await self._db.execute(query, {"session_id": session_id})).first()
        if row is None:
            return None, None
        session, waits, in_archive = row
        return session, bool(in_archive) if waits else None

    async def list_page(self, page: PageRequest, filters: SessionFilter) -> Page[Session]:
        columns = sessions.c
        conditions = [LIVE] + [
            column == value
            for column, value in (
                (columns.project_id, filters.project_id),
                (columns.status, filters.status),
                (columns.session_type, filters.session_type),
                (columns.character_id, filters.character_id),
                (columns.task_id, filters.task_id),
            )
            if value is not None
        ]
        return await self._page(conditions, page)

    async def list_all(self, *, project_id: UUID | None = None) -> list[Session]:
        query = sa.select(Session).where(LIVE)
        if project_id is not None:
            query = query.where(sessions.c.project_id == project_id)
        return await self._all(query.order_by(sessions.c.created_at, sessions.c.id))

    async def list_in_status(self, statuses: Sequence[SessionStatus]) -> list[Session]:
        query = sa.select(Session).where(LIVE, sessions.c.status.in_(list(statuses)))
        return await self._all(query.order_by(sessions.c.created_at))

    async def list_for_project(self, project_id: UUID) -> list[Session]:
        return await self.list_all(project_id=project_id)

    async def count_spawned_by(self, session_id: UUID) -> int:
        spawned_by = sessions.c.context["spawned_by_session_id"].astext
        query = sa.select(sa.func.count()).where(LIVE, spawned_by == str(session_id))
        return int(await self._db.scalar(query) or 0)

    async def live_ids_bound_to(self, task_id: UUID) -> list[UUID]:
        query = (
            sa.select(sessions.c.id)
            .where(LIVE, sessions.c.task_id == task_id)
            .order_by(sessions.c.created_at, sessions.c.id)
        )
        return list((await self._db.scalars(query)).all())

    async def unbind_task(self, task_id: UUID) -> list[UUID]:
        # An ORM-enabled UPDATE, so sessions already loaded in this unit of work see it.
        statement = (
            sa.update(Session)
            .where(sessions.c.task_id == task_id)
            .values(task_id=None)
            .returning(sessions.c.id, sessions.c.deleted_at, sessions.c.created_at)
        )
        rows = (await self._db.execute(statement)).all()
        live = sorted((row.created_at, row.id) for row in rows if row.deleted_at is None)
        return [session_id for _, session_id in live]

    async def set_waiting_slot(self, session_id: UUID, runtime: str | None) -> None:
        # Only a change is written (a clear of a clear row neither locks nor touches it).
        await self._db.execute(
            sa.update(sessions)
            .where(sessions.c.id == session_id, sessions.c.waiting_slot.is_distinct_from(runtime))
            .values(waiting_slot=runtime)
        )

    async def latest_pm_session(self, project_id: UUID, character_id: UUID) -> Session | None:
        query = (
            sa.select(Session)
            .where(
                LIVE,
                sessions.c.project_id == project_id,
                sessions.c.character_id == character_id,
                sessions.c.session_type == SessionType.PM,
            )
            .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
            .limit(1)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return await self._db.scalar(query)
