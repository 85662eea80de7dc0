"""Messages, ordered by a per-session sequence that is gapless and race-free.

The next sequence lives on the session row. Incrementing it with
``UPDATE ... RETURNING`` takes that row's lock, so concurrent appends to one
session serialise on it, and a rolled-back append gives its number back.
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kumiai.core.exceptions import NotFoundError
from kumiai.domain.entities import Message
from kumiai.domain.repositories import Page, SortOrder, encode_cursor
from kumiai.infrastructure.database.tables import messages, sessions


class SqlMessageRepository:
    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    async def append(self, message: Message) -> Message:
        message.sequence = await self._allocate_sequence(message.session_id)
        self._db.add(message)
        await self._db.flush()
        return message

    async def _allocate_sequence(self, session_id: UUID) -> int:
        allocated = await self._db.scalar(
            sa.update(sessions)
            .where(sessions.c.id == session_id)
            .values(next_sequence=sessions.c.next_sequence + 1)
            .returning(sessions.c.next_sequence - 1)
            .execution_options(synchronize_session=False)
        )
        if allocated is None:
            raise NotFoundError("session", session_id)
        return int(allocated)

    async def page(
        self,
        session_id: UUID,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
        order: SortOrder = "asc",
    ) -> Page[Message]:
        """Up to ``limit`` messages strictly between ``after`` and ``before``.

        ``order`` is the walking direction: ``desc`` starts at the newest message
        (or just below ``before``), ``asc`` at the oldest (or just above ``after``).
        The cursor names the sequence to continue from in the same direction.
        """
        sequence = messages.c.sequence
        query = sa.select(Message).where(messages.c.session_id == session_id)
        if before is not None:
            query = query.where(sequence < before)
        if after is not None:
            query = query.where(sequence > after)
        query = query.order_by(sequence.desc() if order == "desc" else sequence.asc())
        rows = list((await self._db.scalars(query.limit(limit + 1))).all())
        items = rows[:limit]
        cursor = encode_cursor([items[-1].sequence]) if len(rows) > limit else None
        return Page(items=items, next_cursor=cursor, limit=limit)

    async def history(self, session_id: UUID) -> list[Message]:
        query = (
            sa.select(Message)
            .where(messages.c.session_id == session_id)
            .order_by(messages.c.sequence)
        )
        return list((await self._db.scalars(query)).all())

    async def count(self, session_id: UUID) -> int:
        query = sa.select(sa.func.count()).where(messages.c.session_id == session_id)
        return int(await self._db.scalar(query) or 0)

    async def delete_all(self, session_id: UUID) -> int:
        result = await self._db.execute(
            sa.delete(messages)
            .where(messages.c.session_id == session_id)
            .execution_options(synchronize_session=False)
        )
        await self._db.execute(
            sa.update(sessions)
            .where(sessions.c.id == session_id)
            .values(next_sequence=0)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
