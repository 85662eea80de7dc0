"""What the SQL repositories share: adding, getting and locking a row by id, and keyset
pagination over ``(created_at, id)``.

A repository of a table names its ``entity`` and ``table``; the lookups by id are built
once per repository class, at import (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kumiai.core.exceptions import ValidationError
from kumiai.domain.repositories import Page, PageRequest, decode_cursor, encode_cursor

T = TypeVar("T")


class SqlRepository(Generic[T]):
    """``add``, ``get``, ``get_for_update`` and ``delete`` of one soft-deletable table."""

    entity: ClassVar[type[Any]]
    table: ClassVar[sa.Table]
    _by_id: ClassVar[sa.Select[Any]]
    _live_by_id: ClassVar[sa.Select[Any]]
    _live_by_id_for_update: ClassVar[sa.Select[Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "table" not in vars(cls):  # a shared base of several repositories
            return
        cls._by_id = sa.select(cls.entity).where(cls.table.c.id == sa.bindparam("row_id"))
        cls._live_by_id = cls._by_id.where(cls.live())
        cls._live_by_id_for_update = cls._live_by_id.with_for_update().execution_options(
            populate_existing=True
        )

    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    @classmethod
    def live(cls) -> sa.ColumnElement[bool]:
        """The condition that keeps soft-deleted rows out."""
        return cls.table.c.deleted_at.is_(None)

    async def add(self, row: T) -> None:
        self._db.add(row)
        await self._db.flush()

    async def get(self, row_id: UUID, *, include_deleted: bool = False) -> T | None:
        query = self._by_id if include_deleted else self._live_by_id
        found: T | None = await self._db.scalar(query, {"row_id": row_id})
        return found

    async def get_for_update(self, row_id: UUID) -> T | None:
        """The live row, locked until the unit of work ends."""
        found: T | None = await self._db.scalar(self._live_by_id_for_update, {"row_id": row_id})
        return found

    async def delete(self, row: T) -> None:
        await self._db.delete(row)
        await self._db.flush()

    async def _all(self, query: sa.Select[Any]) -> list[T]:
        return list((await self._db.scalars(query)).all())

    async def _page(
        self,
        conditions: Sequence[sa.ColumnElement[bool]],
        page: PageRequest,
        *,
        newest_first: bool = False,
    ) -> Page[T]:
        return await paginate_by_creation(
            self._db, self.entity, self.table, conditions, page, newest_first=newest_first
        )


def _cursor_after(cursor: str) -> tuple[datetime, UUID]:
    created, identifier = decode_cursor(cursor, 2)
    try:
        return datetime.fromisoformat(str(created)), UUID(str(identifier))
    except ValueError:
        raise ValidationError("invalid cursor", details={"field": "cursor"}) from None


async def paginate_by_creation(
    db: AsyncSession,
    entity: type[T],
    table: sa.Table,
    conditions: Sequence[sa.ColumnElement[bool]],
    page: PageRequest,
    *,
    newest_first: bool = False,
) -> Page[T]:
    """One page of ``entity`` in a stable (created_at, id) order."""
    keys = (table.c.created_at, table.c.id)
    where = list(conditions)
    if page.cursor is not None:
        boundary = sa.tuple_(*keys)
        values = sa.tuple_(*(sa.literal(v) for v in _cursor_after(page.cursor)))
        where.append(boundary < values if newest_first else boundary > values)
    ordering = [key.desc() if newest_first else key.asc() for key in keys]
    query = sa.select(entity).where(*where).order_by(*ordering).limit(page.limit + 1)
    rows: list[Any] = list((await db.scalars(query)).all())
    total = await _total(db, table, conditions) if page.with_total else None
    return _page(rows, page.limit, total)


def _page(rows: list[Any], limit: int, total: int | None) -> Page[Any]:
    has_more = len(rows) > limit
    items = rows[:limit]
    cursor = None
    if has_more:
        last = items[-1]
        cursor = encode_cursor([last.created_at.isoformat(), str(last.id)])
    return Page(items=items, next_cursor=cursor, total=total, limit=limit)


async def _total(
    db: AsyncSession, table: sa.Table, conditions: Sequence[sa.ColumnElement[bool]]
) -> int:
    return int(
        await db.scalar(sa.select(sa.func.count()).select_from(table).where(*conditions)) or 0
    )
