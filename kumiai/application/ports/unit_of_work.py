"""The unit of work: one transaction per use case, committed only by services.

A use case that only reads asks for ``read_only=True``: its statements then run
without a transaction around them (no BEGIN and ROLLBACK round trips), and it can
neither flush nor commit.

Live events about what a unit of work changes are handed to it (``publish``) and go out
only after its commit, in the order they were given: a client never hears of a change
that was rolled back, and never before it can read it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol
from uuid import UUID

from kumiai.domain.entities import Character, Skill
from kumiai.domain.repositories import (
    ActivityLogRepository,
    DefinitionRepository,
    MessageRepository,
    PendingInputRepository,
    ProjectRepository,
    SessionRepository,
    TaskRepository,
    UserProfileRepository,
)


class UnitOfWork(AbstractAsyncContextManager["UnitOfWork", None], Protocol):
    """Entered, it opens the transaction; exited, it rolls back whatever was not
    committed."""

    characters: DefinitionRepository[Character]
    skills: DefinitionRepository[Skill]
    projects: ProjectRepository
    tasks: TaskRepository
    sessions: SessionRepository
    messages: MessageRepository
    pending: PendingInputRepository
    activity: ActivityLogRepository
    profiles: UserProfileRepository

    async def commit(self) -> None:
        """Commit, then publish the events handed to ``publish`` since the last commit."""
        ...

    def publish(self, session_id: UUID, event_type: str, **data: Any) -> None:
        """Announce a live event on the session once this unit of work commits (never,
        if it does not)."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...
