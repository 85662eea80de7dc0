"""Process leases and session owners (``server_processes``, ``session_owners``).

Every time is the database's clock, so processes on hosts whose clocks disagree still
agree on whose lease has lapsed.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kumiai.domain.value_objects import PendingInputState
from kumiai.infrastructure.database.engine import to_async_url
from kumiai.infrastructure.database.tables import pending_inputs, server_processes, session_owners
from kumiai.infrastructure.database.tables import sessions as sessions_table

_NOW = sa.func.clock_timestamp()


def _lapsed(lease_seconds: float) -> sa.ColumnElement[bool]:
    return server_processes.c.heartbeat_at < _NOW - timedelta(seconds=lease_seconds)


class SqlProcessLeases:
    """The lease (join, renew, take over, leave) has a connection of its own, kept open:
    a heartbeat never waits behind the app's requests, or behind many sessions' claims,
    for a connection (a lease must not lapse because the server is busy). Claims and
    look-ups are the app's work, on its pool (``engine``)."""

    def __init__(self, url: str, engine: AsyncEngine, connect_timeout: float = 5.0) -> None:
        self._lease: AsyncEngine = create_async_engine(
            to_async_url(url),
            pool_size=1,
            max_overflow=0,
            connect_args={"timeout": connect_timeout},
        )
        self._engine = engine
        # A claim is one statement (and a read after a conflict): each its own
        # transaction, without a BEGIN and a COMMIT around them.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def close(self) -> None:
        await self._lease.dispose()

    async def join(self, process_id: UUID, host: str, pid: int) -> None:
        async with self._lease.begin() as db:
            await db.execute(sa.insert(server_processes).values(id=process_id, host=host, pid=pid))

    async def renew(self, process_id: UUID) -> bool:
        query = (
            sa.update(server_processes)
            .where(server_processes.c.id == process_id)
            .values(heartbeat_at=_NOW)
            .returning(server_processes.c.id)
        )
        async with self._lease.begin() as db:
            return (await db.execute(query)).first() is not None

    async def leave(self, process_id: UUID) -> list[UUID]:
        waiting = (
            sa.select(session_owners.c.session_id)
            .where(session_owners.c.process_id == process_id)
            .where(
                sa.exists().where(
                    pending_inputs.c.session_id == session_owners.c.session_id,
                    pending_inputs.c.state == PendingInputState.PENDING,
                )
            )
        )
        async with self._lease.begin() as db:
            given_up = list((await db.scalars(waiting)).all())
            # Its session_owners rows go with it (ON DELETE CASCADE).
            await db.execute(sa.delete(server_processes).where(server_processes.c.id == process_id))
        return given_up

    async def neighbours(self, process_id: UUID, host: str) -> list[tuple[UUID, int]]:
        query = sa.select(server_processes.c.id, server_processes.c.pid).where(
            server_processes.c.host == host, server_processes.c.id != process_id
        )
        async with self._lease.connect() as db:
            return [(row.id, row.pid) for row in await db.execute(query)]

    async def take_over_lapsed(
        self, process_id: UUID, lease_seconds: float, exited: Collection[UUID] = ()
    ) -> list[UUID]:
        lapsed = (
            sa.select(server_processes.c.id)
            .where(
                server_processes.c.id != process_id,
                sa.or_(_lapsed(lease_seconds), server_processes.c.id.in_(list(exited))),
            )
            .with_for_update(skip_locked=True)
        )
        async with self._lease.begin() as db:
            dead = list((await db.scalars(lapsed)).all())
            if not dead:
                return []
            moved = await db.scalars(
                sa.update(session_owners)
                .where(session_owners.c.process_id.in_(dead))
                .values(process_id=process_id, claimed_at=_NOW)
                .returning(session_owners.c.session_id)
            )
            taken = list(moved.all())
            await db.execute(sa.delete(server_processes).where(server_processes.c.id.in_(dead)))
        return taken

    async def claim(self, session_id: UUID, process_id: UUID) -> UUID | None:
        exists = sa.select(sa.literal(session_id), sa.literal(process_id)).where(
            sa.exists().where(sessions_table.c.id == session_id)
        )
        claim = (
            pg_insert(session_owners)
            .from_select(["session_id", "process_id"], exists)
            .on_conflict_do_nothing(index_elements=[session_owners.c.session_id])
            .returning(session_owners.c.process_id)
        )
        async with self._autocommit.connect() as db:
            try:
                owner: UUID | None = (await db.execute(claim)).scalar()
            except IntegrityError:  # this process's lease is gone: it owns nothing now
                return None
            if owner is None:  # someone owns it already, or the session is gone
                owner = await db.scalar(
                    sa.select(session_owners.c.process_id).where(
                        session_owners.c.session_id == session_id
                    )
                )
        return owner

    async def live_owner(self, session_id: UUID, lease_seconds: float) -> UUID | None:
        query = (
            sa.select(session_owners.c.process_id)
            .join(server_processes, server_processes.c.id == session_owners.c.process_id)
            .where(session_owners.c.session_id == session_id, ~_lapsed(lease_seconds))
        )
        async with self._engine.connect() as db:
            return await db.scalar(query)

    async def release(self, session_id: UUID, process_id: UUID) -> None:
        async with self._engine.begin() as db:
            await db.execute(
                sa.delete(session_owners).where(
                    session_owners.c.session_id == session_id,
                    session_owners.c.process_id == process_id,
                )
            )

    async def owned_elsewhere(self, session_ids: list[UUID], process_id: UUID) -> set[UUID]:
        if not session_ids:
            return set()
        query = sa.select(session_owners.c.session_id).where(
            session_owners.c.session_id.in_(session_ids),
            session_owners.c.process_id != process_id,
        )
        async with self._engine.connect() as db:
            return set((await db.scalars(query)).all())
