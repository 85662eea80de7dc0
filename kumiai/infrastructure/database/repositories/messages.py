"""Messages, ordered by a per-session sequence that is gapless and race-free.

The next sequence lives on the session row. Incrementing it with
``UPDATE ... RETURNING`` (the CTE of the message's ``INSERT``) takes that row's lock,
so concurrent appends to one session serialise on it, and a rolled-back append gives
its number back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from kumiai.core.exceptions import NotFoundError, ValidationError
from kumiai.domain.entities import MAX_SEQUENCE, ActivityEntry, Message
from kumiai.domain.repositories import Page, SortOrder, decode_cursor, encode_cursor
from kumiai.domain.value_objects import MessageRole
from kumiai.infrastructure.database.repositories.activity import entry_values, recorded_with
from kumiai.infrastructure.database.repositories.pending_inputs import INPUTS_WAIT
from kumiai.infrastructure.database.tables import messages, sessions

# Columns the append's statement fills in itself.
_ALLOCATED = frozenset({"sequence", "created_at"})
_GIVEN = [column for column in messages.c if column.key not in _ALLOCATED]


def _insert_allocating(*, unless_inputs_wait: bool, recording: bool) -> sa.Select[Any]:
    """A message's INSERT, its sequence allocated by the session row's UPDATE (a CTE),
    built once: its values are bound parameters named ``given_<column>`` (a parameter
    named as a column of the table an INSERT fills would be taken for that column's
    value by the compiler). ``unless_inputs_wait``: no row is written while an input
    waits in the session's queue. ``recording``: the message's activity entry is
    inserted from its result (``recorded_with``)."""
    allocation = sessions.c.id == sa.bindparam("given_session_id", type_=sessions.c.id.type)
    if unless_inputs_wait:
        allocation = allocation & ~INPUTS_WAIT
    allocated = (
        sa.update(sessions)
        .where(allocation)
        .values(next_sequence=sessions.c.next_sequence + 1)
        .returning((sessions.c.next_sequence - 1).label("sequence"))
        .cte("allocated")
    )
    values = [sa.bindparam(f"given_{column.key}", type_=column.type) for column in _GIVEN]
    inserted = (
        sa.insert(messages)
        .from_select([*_GIVEN, messages.c.sequence], sa.select(*values, allocated.c.sequence))
        .returning(messages.c.sequence, messages.c.created_at)
        .cte("inserted")
    )
    statement = sa.select(inserted.c.sequence, inserted.c.created_at).add_cte(allocated)
    if not recording:
        return statement
    return statement.add_cte(recorded_with(inserted))


# Built once, so an append neither builds a statement nor computes its cache key again.
_INSERTS = {
    (unless_inputs_wait, recording): _insert_allocating(
        unless_inputs_wait=unless_inputs_wait, recording=recording
    )
    for unless_inputs_wait in (False, True)
    for recording in (False, True)
}


def _newest(*, before: bool, after: bool) -> sa.Select[Message]:
    """A session's newest messages, below ``before`` and above ``after`` if bounded."""
    sequence = messages.c.sequence
    query = sa.select(Message).where(messages.c.session_id == sa.bindparam("session_id"))
    if before:
        query = query.where(sequence < sa.bindparam("before", type_=sequence.type))
    if after:
        query = query.where(sequence > sa.bindparam("after", type_=sequence.type))
    return query.order_by(sequence.desc()).limit(sa.bindparam("limit", type_=sa.Integer()))


# Each turn reads its session's new rows: built once per kind of bound, like the INSERT.
_NEWEST = {
    (before, after): _newest(before=before, after=after)
    for before in (False, True)
    for after in (False, True)
}


class SqlMessageRepository:
    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    async def get(self, message_id: UUID) -> Message | None:
        return await self._db.get(Message, message_id)

    async def append(self, message: Message, recorded: ActivityEntry | None = None) -> Message:
        """Insert ``message`` with the session's next sequence, allocated in the same
        statement (one round trip): the allocating ``UPDATE`` is the ``INSERT``'s CTE."""
        if not await self._insert(message, recorded, unless_inputs_wait=False):
            raise NotFoundError("session", message.session_id)
        return message

    async def append_unless_inputs_wait(self, message: Message, recorded: ActivityEntry) -> bool:
        # A statement of its own sees every input committed before it; the caller's
        # earlier read of the queue may not have (see the port).
        return await self._insert(message, recorded, unless_inputs_wait=True)

    async def _insert(
        self, message: Message, recorded: ActivityEntry | None, *, unless_inputs_wait: bool
    ) -> bool:
        await self._db.flush()  # what the unit of work changed before goes first, as ever
        values = {f"given_{column.key}": getattr(message, column.key) for column in _GIVEN}
        if recorded is not None:
            values.update(entry_values(recorded))
        statement = _INSERTS[unless_inputs_wait, recorded is not None]
        row = (await self._db.execute(statement, values)).one_or_none()
        if row is None:
            return False
        message.sequence, message.created_at = row
        # The row exists now: the session tracks the entity as persistent (no second INSERT).
        make_transient_to_detached(message)
        self._db.add(message)
        return True

    async def page(
        self,
        session_id: UUID,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
        order: SortOrder = "asc",
        cursor: str | None = None,
        roles: Sequence[MessageRole] | None = None,
    ) -> Page[Message]:
        """Up to ``limit`` messages strictly between ``after`` and ``before``.

        ``order`` is the walking direction: ``desc`` starts at the newest message
        (or just below ``before``), ``asc`` at the oldest (or just above ``after``).
        A ``cursor`` replaces all three: it holds the direction, the last sequence
        returned and the far bound, so a walk continues exactly where it stopped.
        ``roles`` filters every page of the walk the same way, so pages stay full.
        """
        walk = _resume(cursor) if cursor is not None else _Walk(order, before, after)
        sequence = messages.c.sequence
        query = sa.select(Message).where(messages.c.session_id == session_id)
        if walk.before is not None:
            query = query.where(sequence < walk.before)
        if walk.after is not None:
            query = query.where(sequence > walk.after)
        if roles is not None:
            query = query.where(messages.c.role.in_(list(roles)))
        query = query.order_by(sequence.desc() if walk.order == "desc" else sequence.asc())
        rows = list((await self._db.scalars(query.limit(limit + 1))).all())
        items = rows[:limit]
        next_cursor = walk.cursor_after(items[-1].sequence) if len(rows) > limit else None
        return Page(items=items, next_cursor=next_cursor, limit=limit)

    async def newest(
        self,
        session_id: UUID,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
    ) -> list[Message]:
        # Walks the (session_id, sequence) unique index backwards: cost ~ limit.
        query = _NEWEST[before is not None, after is not None]
        values = {"session_id": session_id, "limit": limit, "before": before, "after": after}
        return list((await self._db.scalars(query, values)).all())

    async def unanswered_tool_uses(self, session_id: UUID) -> list[Message]:
        # A call is open when neither a result nor a repeat of the call follows it; only
        # rows with a tool_use_id are visited, through (session_id, tool_use_id).
        later = messages.alias("later")
        answered = sa.exists().where(
            later.c.session_id == messages.c.session_id,
            later.c.tool_use_id == messages.c.tool_use_id,
            later.c.sequence > messages.c.sequence,
            (later.c.role == MessageRole.TOOL_RESULT) | _is_tool_use(later),
        )
        query = (
            sa.select(Message)
            .where(
                messages.c.session_id == session_id,
                messages.c.tool_use_id.is_not(None),
                _is_tool_use(messages),
                ~answered,
            )
            .order_by(messages.c.sequence)
        )
        return list((await self._db.scalars(query)).all())

    async def tool_results(self, session_id: UUID, tool_use_ids: Sequence[str]) -> list[Message]:
        return await self._with_tool_use_ids(
            session_id, tool_use_ids, messages.c.role == MessageRole.TOOL_RESULT
        )

    async def tool_uses(self, session_id: UUID, tool_use_ids: Sequence[str]) -> list[Message]:
        return await self._with_tool_use_ids(session_id, tool_use_ids, _is_tool_use(messages))

    async def _with_tool_use_ids(
        self, session_id: UUID, tool_use_ids: Sequence[str], kind: sa.ColumnElement[bool]
    ) -> list[Message]:
        """The session's rows of one ``kind`` that carry one of ``tool_use_ids``, in order."""
        if not tool_use_ids:
            return []
        query = (
            sa.select(Message)
            .where(
                messages.c.session_id == session_id,
                messages.c.tool_use_id.in_(list(tool_use_ids)),
                kind,
            )
            .order_by(messages.c.sequence)
        )
        return list((await self._db.scalars(query)).all())

    async def merge_metadata(self, message_id: UUID, patch: dict[str, Any]) -> None:
        # jsonb || keeps concurrent writers of other keys intact, unlike read-modify-write.
        await self._db.execute(
            sa.update(messages)
            .where(messages.c.id == message_id)
            .values(metadata=messages.c.metadata.op("||")(sa.literal(patch, type_=JSONB)))
            .execution_options(synchronize_session=False)
        )

    async def rewrite_text(self, message_id: UUID, content: str, *, partial: bool) -> None:
        # One statement: the text of a block still streaming is rewritten in place.
        unflagged = messages.c.metadata.op("-")(sa.literal("partial"))
        metadata = (
            unflagged.op("||")(sa.literal({"partial": True}, type_=JSONB)) if partial else unflagged
        )
        await self._db.execute(
            sa.update(messages)
            .where(messages.c.id == message_id)
            .values(content=content, metadata=metadata)
            .execution_options(synchronize_session=False)
        )

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


def _is_tool_use(table: sa.FromClause) -> sa.ColumnElement[bool]:
    """``Message.is_tool_use`` in SQL: an assistant row whose metadata holds a call."""
    call = sa.func.jsonb_typeof(table.c.metadata["tool_use"])
    return (table.c.role == MessageRole.ASSISTANT) & (call == "object")


# A cursor stores "no bound" as -1: sequences start at 0, so it never names a real row.
_NO_BOUND = -1


@dataclass(frozen=True)
class _Walk:
    """Where a message walk stands: its direction and the open interval still to visit."""

    order: SortOrder
    before: int | None
    after: int | None

    def cursor_after(self, last_sequence: int) -> str:
        far = self.before if self.order == "asc" else self.after
        return encode_cursor([self.order, last_sequence, _NO_BOUND if far is None else far])


def _bound(value: object) -> int:
    """A sequence bound read back from a cursor: an int the column can hold, or -1."""
    if type(value) is not int or not _NO_BOUND <= value <= MAX_SEQUENCE:
        raise ValidationError("invalid cursor", details={"field": "cursor"})
    return value


def _resume(cursor: str) -> _Walk:
    order, last_value, far_value = decode_cursor(cursor, 3)
    if order not in ("asc", "desc"):
        raise ValidationError("invalid cursor", details={"field": "cursor"})
    last, far = _bound(last_value), _bound(far_value)
    far_bound = None if far == _NO_BOUND else far
    if order == "asc":
        return _Walk("asc", before=far_bound, after=last)
    return _Walk("desc", before=last, after=far_bound)
