"""The unit of work: one transaction per use case, committed only by services."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from kumiai.domain.repositories import (
    ActivityLogRepository,
    CharacterRepository,
    MessageRepository,
    PendingInputRepository,
    ProjectRepository,
    SessionRepository,
    SkillRepository,
    UserProfileRepository,
)


class UnitOfWork(Protocol):
    characters: CharacterRepository
    skills: SkillRepository
    projects: ProjectRepository
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


UnitOfWorkFactory = Callable[[], UnitOfWork]
