"""Repository interfaces. Implementations live in ``kumiai.infrastructure.database``.

Entities returned by a repository are tracked by the unit of work that produced
them: changing an entity and committing the unit of work persists the change, so
there is no ``update`` method. Listing methods never return soft-deleted rows
unless asked.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol, TypeVar
from uuid import UUID

from kumiai.domain.entities import (
    ActivityEntry,
    Definition,
    Message,
    PendingInput,
    Project,
    Session,
    Task,
    UserProfile,
)
from kumiai.domain.repositories.pagination import Page, PageRequest
from kumiai.domain.value_objects import (
    EventType,
    MessageRole,
    SessionStatus,
    SessionType,
    TaskStatus,
)


@dataclass(frozen=True)
class DefinitionFilter:
    """Filters for characters and skills: one tag and free text over name/description."""

    tag: str | None = None
    q: str | None = None


@dataclass(frozen=True)
class SessionFilter:
    project_id: UUID | None = None
    status: SessionStatus | None = None
    session_type: SessionType | None = None
    character_id: UUID | None = None
    task_id: UUID | None = None


@dataclass(frozen=True)
class ActivityFilter:
    project_id: UUID | None = None
    session_id: UUID | None = None
    event_type: EventType | None = None


SortOrder = Literal["asc", "desc"]

D = TypeVar("D", bound=Definition)


class DefinitionRepository(Protocol[D]):
    """The rows indexing one kind of definition folder (characters or skills)."""

    async def add(self, definition: D, /) -> None: ...
    async def get(self, definition_id: UUID, /) -> D | None:
        """The live definition with that id."""
        ...

    async def get_by_slug(self, slug: str, /, *, include_deleted: bool = False) -> D | None: ...
    async def get_many(self, ids: Sequence[UUID], /) -> list[D]:
        """The definitions with those ids, deleted ones included (history keeps its authors)."""
        ...

    async def get_many_by_slug(self, slugs: Sequence[str], /) -> list[D]:
        """The live definitions with those slugs."""
        ...

    async def slug_taken(self, slug: str, /) -> bool:
        """Whether any row, deleted ones too, holds ``slug``: a slug is never reused."""
        ...

    async def name_taken(self, name: str, /, *, exclude_id: UUID | None = None) -> bool:
        """Whether a live definition other than ``exclude_id`` is named ``name``."""
        ...

    async def list_page(self, page: PageRequest, filters: DefinitionFilter, /) -> Page[D]: ...
    async def list_live(self) -> list[D]:
        """Every live definition, oldest first."""
        ...

    async def delete(self, definition: D, /) -> None: ...


class ProjectRepository(Protocol):
    async def add(self, project: Project) -> None: ...
    async def get(self, project_id: UUID, *, include_deleted: bool = False) -> Project | None: ...
    async def get_for_update(self, project_id: UUID) -> Project | None:
        """The live project, row-locked until the unit of work ends."""
        ...

    async def path_in_use(self, path: str, *, exclude_id: UUID | None = None) -> bool: ...
    async def list_page(
        self, page: PageRequest, *, archived: bool | None = False, include_deleted: bool = False
    ) -> Page[Project]: ...
    async def list_all(self, *, include_archived: bool = False) -> list[Project]: ...
    async def delete(self, project: Project) -> None: ...


class TaskRepository(Protocol):
    async def add(self, task: Task) -> None: ...
    async def get(self, task_id: UUID, *, include_deleted: bool = False) -> Task | None: ...
    async def get_for_update(self, task_id: UUID) -> Task | None:
        """The live task, row-locked until the unit of work ends."""
        ...

    async def lock_if_free(self, task_id: UUID) -> Task | None:
        """The live task, row-locked until the unit of work ends; None, without waiting,
        when another transaction holds its lock."""
        ...

    async def get_for_share(self, task_id: UUID) -> Task | None:
        """The live task, locked against changes and deletion (not against other readers)
        until the unit of work ends: what binding a session to it needs."""
        ...

    async def list_page(
        self, project_id: UUID, page: PageRequest, *, status: TaskStatus | None = None
    ) -> Page[Task]:
        """The project's live tasks, oldest first."""
        ...

    async def list_for_project(self, project_id: UUID, *, for_update: bool = False) -> list[Task]:
        """Every live task of the project, oldest first, unpaged; row-locked if asked."""
        ...


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...
    async def get(self, session_id: UUID, *, include_deleted: bool = False) -> Session | None: ...
    async def get_for_update(self, session_id: UUID) -> Session | None: ...
    async def get_with_waiting(
        self, session_id: UUID, *, for_update: bool = False
    ) -> tuple[Session | None, bool | None]:
        """The live session (row-locked if asked) and, if it has pending inputs, whether
        its (live) project is archived (None when nothing waits): read together in one
        round trip, as ``PendingInputRepository.waiting_among`` tells it of the session."""
        ...

    async def list_page(self, page: PageRequest, filters: SessionFilter) -> Page[Session]: ...
    async def list_all(self, *, project_id: UUID | None = None) -> list[Session]: ...
    async def list_in_status(self, statuses: Sequence[SessionStatus]) -> list[Session]: ...
    async def list_for_project(self, project_id: UUID) -> list[Session]: ...
    async def count_spawned_by(self, session_id: UUID) -> int:
        """Live sessions whose ``context.spawned_by_session_id`` is ``session_id``."""
        ...

    async def live_ids_bound_to(self, task_id: UUID) -> list[UUID]:
        """The live sessions bound to the task, oldest first."""
        ...

    async def unbind_task(self, task_id: UUID) -> list[UUID]:
        """Clear ``task_id`` on every session bound to the task, deleted ones included;
        returns the live sessions that were bound, oldest first."""
        ...

    async def latest_pm_session(self, project_id: UUID, character_id: UUID) -> Session | None:
        """The newest live PM session of the project run by the character, row-locked."""
        ...

    async def save_start(self, session: Session, entry: ActivityEntry) -> None:
        """Write the turn ``session`` has just started (its status, ``started_at``, the
        turn's input and run, ``waiting_slot``) and ``entry``, the start's activity row,
        in one statement; whatever else the unit of work changed is written first."""
        ...

    async def set_waiting_slot(self, session_id: UUID, runtime: str | None) -> None:
        """Record the runtime whose slot the session's next turn waits for (None: none)."""
        ...

    async def delete(self, session: Session) -> None: ...


class MessageRepository(Protocol):
    async def get(self, message_id: UUID) -> Message | None: ...

    async def append(self, message: Message, recorded: ActivityEntry | None = None) -> Message:
        """Persist ``message`` with the next gapless sequence of its session, and with it
        ``recorded``, the message's activity entry, if given (in the same statement)."""
        ...

    async def append_unless_inputs_wait(self, message: Message, recorded: ActivityEntry) -> bool:
        """:meth:`append`, unless an input waits in the session's queue: then nothing is
        written and False. A caller holding the session row's lock may have read the
        queue before the lock was granted (a statement's rows are those of its start,
        only the locked row is read again), and so missed an input queued meanwhile;
        this statement starts after the lock and sees it."""
        ...

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
        """A page walking ``order``; a ``cursor`` continues an earlier walk and wins over
        ``before``/``after``/``order``. ``roles`` keeps only messages with those roles."""
        ...

    async def newest(
        self,
        session_id: UUID,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
    ) -> list[Message]:
        """Up to ``limit`` messages strictly between sequences ``after`` and ``before``
        (when given), newest first.

        Reads only those rows, however long the session: a turn's history is read
        backwards, a page at a time, until it covers the context window."""
        ...

    async def unanswered_tool_uses(self, session_id: UUID) -> list[Message]:
        """The session's tool calls no later tool result answers, in order (see
        ``entities.unanswered_tool_uses``), read without loading the conversation."""
        ...

    async def tool_results(self, session_id: UUID, tool_use_ids: Sequence[str]) -> list[Message]:
        """The session's tool results answering any of ``tool_use_ids``, in order."""
        ...

    async def tool_uses(self, session_id: UUID, tool_use_ids: Sequence[str]) -> list[Message]:
        """The session's tool calls with any of ``tool_use_ids``, in order."""
        ...

    async def count(self, session_id: UUID) -> int: ...
    async def delete_all(self, session_id: UUID) -> int: ...
    async def merge_metadata(self, message_id: UUID, patch: dict[str, Any]) -> None:
        """Add keys to a message's metadata in place (usage, delivery point)."""
        ...

    async def rewrite_text(self, message_id: UUID, content: str, *, partial: bool) -> None:
        """Replace the text of a block's row, which says whether the block is unfinished
        (``metadata.partial``): how a streaming block is kept while it streams."""
        ...


class LockedQueue(NamedTuple):
    """A session's queue as its row lock's holder reads it."""

    session: Session | None
    """None when there is no live session of that id (then the rest is empty)."""
    project: Project | None
    """The session's live project; None for none."""
    waiting: list[PendingInput]
    """Its pending inputs (as ``waiting``), first to run first."""
    profile: UserProfile | None
    """The user's profile (None before its first use), which every turn's context
    needs: read here, a statement less before the turn."""
    event_head: int
    """The newest id of the session's events as the read found them (0 for none):
    whatever the lock's holder goes on to publish, the turn it starts included, has a
    higher id."""


class PendingInputRepository(Protocol):
    """Each session's queue of messages waiting for their turn, in acceptance order."""

    async def add(self, item: PendingInput) -> None:
        """Queue ``item`` behind everything already accepted (the server assigns its position)."""
        ...

    async def waiting(self, session_id: UUID) -> list[PendingInput]:
        """The session's pending inputs, first to run first."""
        ...

    async def locked_queue(self, session_id: UUID) -> LockedQueue:
        """The live session, row-locked until the unit of work ends, its live project,
        its pending inputs, the user's profile and the head of its event log, read
        together in one round trip."""
        ...

    async def next_waiting(self, session_id: UUID) -> PendingInput | None: ...
    async def waiting_among(self, session_ids: Collection[UUID]) -> dict[UUID, bool]:
        """Those of the sessions that have pending inputs, each with whether its (live)
        project is archived: one round trip, whatever the number of sessions."""
        ...

    async def dropped(self, session_id: UUID, limit: int) -> list[PendingInput]:
        """The newest ``limit`` inputs the user took off the queue, newest first."""
        ...

    async def remove(self, item: PendingInput) -> bool:
        """Take ``item`` off the queue because it enters the transcript; False, with
        nothing removed, when it no longer waits (dropped by a cancel, or taken, since
        the caller read the queue: see ``MessageRepository.append_unless_inputs_wait``)."""
        ...

    async def sessions_waiting(self) -> list[UUID]:
        """Live sessions that have pending inputs, in the order their oldest was accepted."""
        ...


class ActivityLogRepository(Protocol):
    async def add(self, entry: ActivityEntry) -> None: ...
    async def list_page(
        self, page: PageRequest, filters: ActivityFilter
    ) -> Page[ActivityEntry]: ...


class UserProfileRepository(Protocol):
    async def get(self) -> UserProfile | None:
        """The singleton profile; None until it was first created."""
        ...

    async def get_or_create(self) -> UserProfile:
        """The singleton profile; created on first use, safe under concurrency."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...
