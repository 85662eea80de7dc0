from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.orm import InstanceState, make_transient, make_transient_to_detached

from kumiai.domain.entities import ActivityEntry, Session
from kumiai.domain.repositories import Page, PageRequest, SessionFilter
from kumiai.domain.value_objects import SessionStatus, SessionType
from kumiai.infrastructure.database.repositories.activity import entry_values, recorded_with
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

# What a turn's start changes on its session's row (``session_lifecycle.start_turn``).
_STARTED = ("status", "started_at", "turn_input_id", "turn_run_id", "waiting_slot")
_NOT_STARTED = frozenset(column.key for column in sessions.c).difference(_STARTED)


def _save_start() -> sa.Select[Any]:
    """A turn's start in one round trip, built once: the session row's UPDATE (a CTE,
    returning the trigger's ``updated_at``, its values bound as ``row_<column>``) and the
    start's activity entry, inserted from its result (``recorded_with``)."""
    started = (
        sa.update(sessions)
        .where(sessions.c.id == sa.bindparam("row_id", type_=sessions.c.id.type))
        .values({key: sa.bindparam(f"row_{key}", type_=sessions.c[key].type) for key in _STARTED})
        .returning(sessions.c.updated_at)
        .cte("started")
    )
    return sa.select(started.c.updated_at).add_cte(recorded_with(started))


_SAVE_START = _save_start()


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

    async def save_start(self, session: Session, entry: ActivityEntry) -> None:
        # One statement instead of the ORM's flush (an UPDATE) and the entry's INSERT: a
        # turn starts on every send.
        if not self._only_start_unwritten(session):
            # Earlier changes go first, as ever (the start's columns with them: the
            # statement then writes those again, unchanged).
            await self._db.flush()
        values = {f"row_{key}": getattr(session, key) for key in _STARTED}
        values["row_id"] = session.id
        values.update(entry_values(entry))
        updated_at = (await self._db.execute(_SAVE_START, values)).scalar_one()
        # The row now holds what the entity says: the unit of work takes the entity for
        # loaded as it is (its next flush writes no UPDATE of it), with updated_at as the
        # trigger set it.
        make_transient(session)
        session.updated_at = updated_at
        make_transient_to_detached(session)
        self._db.add(session)

    def _only_start_unwritten(self, session: Session) -> bool:
        """Whether the only change the unit of work has not written yet is the start of
        ``session``'s turn (what ``save_start`` writes)."""
        db = self._db
        if db.new or db.deleted or any(entity is not session for entity in db.dirty):
            return False
        state: InstanceState[Session] = sa.inspect(session)
        return state.unmodified.issuperset(_NOT_STARTED)

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
