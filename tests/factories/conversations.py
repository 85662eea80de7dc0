"""Conversations as a session's persisted rows, for history and replay tests."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.domain.entities import Message, Session
from kumiai.domain.value_objects import SessionType
from kumiai.infrastructure.database import tables
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork


def numbered(rows: list[Message]) -> list[Message]:
    for index, message in enumerate(rows):
        message.sequence = index
    return rows


class _Conversation:
    def __init__(self, session: UUID, seed: int) -> None:
        self.session = session
        self.pick = random.Random(seed)
        self.rows: list[Message] = []
        self.calls = 0

    def words(self, most: int) -> str:
        return " ".join(self.pick.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(most))

    def call_ids(self, prefix: str, count: int) -> list[str]:
        ids = [f"{prefix}{self.calls + n}" for n in range(count)]
        self.calls += count
        return ids

    def user(self) -> None:
        if self.pick.random() < 0.1:
            sender = Message.user(self.session, self.words(8), uuid4(), "PM")
            self.rows.append(sender)
            return
        user = Message.user(self.session, "ask " + self.words(self.pick.randint(0, 40)))
        if self.pick.random() < 0.05 and self.rows:
            user.metadata = {"delivered_after": max(0, len(self.rows) - self.pick.randint(1, 6))}
        self.rows.append(user)

    def text(self) -> None:
        text = self.words(self.pick.randint(0, 30)) if self.pick.random() < 0.9 else "   "
        self.rows.append(Message.assistant_text(self.session, text, "run"))

    def tool_calls(self) -> None:
        ids = self.call_ids("t", self.pick.randint(1, 3))
        for call_id in ids:
            call = Message.tool_use(self.session, call_id, "Read", {"p": self.words(3)}, "run")
            self.rows.append(call)
        if self.pick.random() < 0.15:
            self.rows.append(Message.user(self.session, "queued " + self.words(3)))
        answered = ids if self.pick.random() < 0.85 else ids[:-1]
        for call_id in self.pick.sample(answered, len(answered)):
            output = self.words(self.pick.randint(0, 200))
            failed = self.pick.random() < 0.1
            self.rows.append(Message.tool_result(self.session, call_id, output, failed))
        if self.pick.random() < 0.05:
            self.rows.append(Message.tool_result(self.session, ids[0], "again", False))

    def web_call(self) -> None:
        (call_id,) = self.call_ids("s", 1)
        server = Message.tool_use(self.session, call_id, "WebSearch", {"q": "kumiai"}, "run")
        server.metadata = {**server.metadata, "server_tool": True}
        self.rows.append(server)
        if self.pick.random() < 0.2:  # a result arriving a few rows later
            self.rows.append(Message.assistant_text(self.session, self.words(3), "run"))
        if self.pick.random() < 0.2:
            self.rows.append(Message.user(self.session, "meanwhile " + self.words(3)))
        self.rows.append(Message.tool_result(self.session, call_id, self.words(20), False))

    def interrupt(self, number: int) -> None:
        """The turn ended early: its last row says so (who stopped it cycles)."""
        by = ("user", "server", "error")[number % 3]
        self.rows[-1].metadata = {
            **self.rows[-1].metadata,
            "interrupted": {"by": by, "reason": f"stopped {number}"},
        }

    def oddity(self) -> None:
        if self.pick.random() < 0.5:
            self.rows.append(Message.system(self.session, "notice"))
        else:
            self.rows.append(Message.tool_result(self.session, f"ghost{self.calls}", "?", False))


def messy_session(session: UUID, seed: int, turns: int) -> list[Message]:
    """Turns with text, parallel tool calls, web tool calls, queued and agent messages,
    unanswered, repeated and stray results, system notices, delivery points and turns
    that ended early (every seventh; without drawing from the seed's choices)."""
    conversation = _Conversation(session, seed)
    steps = [conversation.text] * 6 + [conversation.tool_calls] * 9 + [conversation.web_call] * 2
    steps += [conversation.oddity] * 3
    for number in range(turns):
        conversation.user()
        for _ in range(conversation.pick.randint(0, 3)):
            conversation.pick.choice(steps)()
        if number % 7 == 3:
            conversation.interrupt(number)
    return numbered(conversation.rows)


def tool_exchanges(session: UUID, exchanges: int, output_words: int) -> list[Message]:
    """``exchanges`` times: a question, a tool call, its output (``output N:`` and that
    many words) and an answer; four rows each."""
    rows: list[Message] = []
    for number in range(exchanges):
        call_id = f"toolu_{number}"
        output = f"output {number}: " + " ".join(["lorem"] * output_words)
        rows += [
            Message.user(session, f"question {number}"),
            Message.tool_use(session, call_id, "Read", {"file_path": f"{number}.txt"}, "run"),
            Message.tool_result(session, call_id, output, False),
            Message.assistant_text(session, f"answer {number}", "run"),
        ]
    return numbered(rows)


async def insert_rows(connection: AsyncConnection, session_id: UUID, rows: list[Message]) -> None:
    """Write numbered ``rows`` as the whole conversation of ``session_id``, in bulk."""
    await connection.execute(
        tables.messages.insert(),
        [
            {
                "id": row.id,
                "session_id": session_id,
                "role": row.role,
                "content": row.content,
                "tool_use_id": row.tool_use_id,
                "sequence": row.sequence,
                "metadata": row.metadata,
                "sender_session_id": row.sender_session_id,
                "sender_name": row.sender_name,
                "response_id": row.response_id,
            }
            for row in rows
        ],
    )
    await connection.execute(
        sa.update(tables.sessions)
        .where(tables.sessions.c.id == session_id)
        .values(next_sequence=len(rows))
    )


async def session_with_messy_history(
    database: Database, connection: AsyncConnection, turns: int
) -> UUID:
    """A ready assistant session holding ``messy_session``'s rows (seed 7)."""
    async with SqlUnitOfWork(database.session_factory) as uow:
        session = Session.create(SessionType.ASSISTANT)
        session.mark_ready()
        await uow.sessions.add(session)
        await uow.commit()
    await insert_rows(connection, session.id, messy_session(session.id, seed=7, turns=turns))
    return session.id


async def all_rows(database: Database, session_id: UUID) -> list[Message]:
    async with SqlUnitOfWork(database.session_factory) as uow:
        return (await uow.messages.page(session_id, limit=1_000_000)).items


@contextmanager
def rows_loaded() -> Iterator[list[int]]:
    """Counts the message rows the ORM builds while the block runs."""
    loaded = [0]

    def count(*_: Any) -> None:
        loaded[0] += 1

    sa.event.listen(Message, "load", count)
    try:
        yield loaded
    finally:
        sa.event.remove(Message, "load", count)
