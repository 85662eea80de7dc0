"""Keyset pagination over ``(created_at, id)``, shared by the listing repositories."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from kumiai.core.exceptions import ValidationError
from kumiai.domain.repositories import Page, PageRequest, decode_cursor, encode_cursor

T = TypeVar("T")


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
