"""Stopping running turns and waking queues, for services that end or reopen sessions.

Two seams: the workers run and stop turns (:class:`RunControl`); the inbox wakes a
session's queue and says why it waits (:class:`QueueWaker`). Runs must be stopped
before the caller locks the session row: the stopping turn settles its own status in its
own unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol
from uuid import UUID

from kumiai.application.dtos.conversation import WaitingView
from kumiai.application.ports.unit_of_work import UnitOfWork
from kumiai.domain.entities import Session


class RunControl(Protocol):
    async def cancel(
        self, session_id: UUID, *, drop_queue: bool = False, drop_reason: str = ...
    ) -> bool:
        """Stop the running turn (if any) and pause (or drop) the queue. True if a turn
        was stopped."""
        ...

    async def stop_session(self, session_id: UUID) -> None:
        """Stop the running turn and drop the queue: the session is going away."""
        ...

    async def release(self, session_id: UUID) -> None:
        """Free what the session's turns held (its MCP servers): the session is ending."""
        ...


class QueueWaker(Protocol):
    def wake(self, session_id: UUID) -> None:
        """Let the session's waiting messages run (again)."""
        ...

    async def why_waiting(
        self,
        uow: UnitOfWork,
        sessions: Sequence[Session],
        waiting: Mapping[UUID, bool] | None = None,
    ) -> dict[UUID, WaitingView]:
        """Why each session's waiting messages wait, for those of the sessions with
        messages waiting (the others are left out): one query, however many sessions;
        none when the caller gives ``waiting`` (what ``waiting_among`` would answer)."""
        ...
