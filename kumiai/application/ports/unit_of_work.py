"""The unit of work: one transaction per use case, committed only by services.

A use case that only reads asks for ``read_only=True``: its statements then run
without a transaction around them (no BEGIN and ROLLBACK round trips), and it can
neither flush nor commit.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

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


class UnitOfWork(Protocol):
    characters: DefinitionRepository[Character]
    skills: DefinitionRepository[Skill]
    projects: ProjectRepository
    tasks: TaskRepository
    sessions: SessionRepository
    messages: MessageRepository
    pending: PendingInputRepository
    activity: ActivityLogRepository
    profiles: UserProfileRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...
