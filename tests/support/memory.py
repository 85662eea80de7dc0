"""An in-memory unit of work, for unit tests of the runtime's rules (no database).

It keeps the promises of the ``UnitOfWork`` port that those rules lean on:

- **Isolation.** A unit of work reads copies of the committed rows; only its commit
  writes back, and only the fields it changed (as SQLAlchemy writes only changed
  columns). Leaving without a commit changes nothing and announces nothing.
- **Row locks.** ``get_for_update``, ``locked_queue`` and appending a message (which
  bumps the session's sequence, an ``UPDATE`` in PostgreSQL) hold the row's lock until
  the unit of work ends, so concurrent turns and sends serialize as they do there.
- **Events after commit.** ``publish`` queues an event that goes out, in order, once
  the commit succeeded.
- **Outages.** ``fail_next(n)`` makes the next ``n`` units of work fail to open, and
  ``fail_commits(n)`` the next ``n`` commits, with ``DatabaseUnavailableError``.

What only PostgreSQL can show (constraints, SQL, paging, the outage of a real server)
is tested against PostgreSQL; the listing methods a turn never calls are not here.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from uuid import UUID

from kumiai.application.ports.events import EventPublisher
from kumiai.core.exceptions import DatabaseUnavailableError, NotFoundError
from kumiai.domain.entities import (
    ActivityEntry,
    Character,
    Definition,
    Message,
    PendingInput,
    Project,
    Session,
    Skill,
    Task,
    UserProfile,
    unanswered_tool_uses,
)
from kumiai.domain.repositories import LockedQueue
from kumiai.domain.value_objects import PendingInputState, SessionStatus, SessionType

E = TypeVar("E")
D = TypeVar("D", bound=Definition)

OUTAGE = "the database is unavailable: connection refused (in-memory outage)"


def _now() -> datetime:
    return datetime.now(UTC)


def _state(entity: Any) -> dict[str, Any]:
    """An entity's field values (not ``vars``: SQLAlchemy may have instrumented the class)."""
    return {item.name: getattr(entity, item.name) for item in fields(entity)}


def clone(entity: E) -> E:
    """A deep copy of an entity, made through its constructor."""
    values = copy.deepcopy(_state(entity))
    made = type(entity)(**{item.name: values[item.name] for item in fields(entity) if item.init})
    for item in fields(entity):
        if not item.init:
            setattr(made, item.name, values[item.name])
    return made


class MemoryDatabase:
    """The committed state, shared by every unit of work made from it."""

    def __init__(self) -> None:
        self.rows: dict[type, dict[UUID, Any]] = defaultdict(dict)
        self.messages: dict[UUID, list[Message]] = defaultdict(list)
        self.activity: list[ActivityEntry] = []
        self.profile: UserProfile | None = None
        self.commits = 0
        self._locks: dict[UUID, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._positions = itertools.count(1)
        self._failing_opens = 0
        self._failing_commits = 0

    def unit_of_work(self, events: EventPublisher | None = None) -> Callable[..., MemoryUnitOfWork]:
        """A factory with the ``UnitOfWorkFactory`` signature."""

        def factory(*, read_only: bool = False) -> MemoryUnitOfWork:
            return MemoryUnitOfWork(self, events, read_only=read_only)

        return factory

    # --- faults ---------------------------------------------------------------------

    def fail_next(self, count: int = 1) -> None:
        """The next ``count`` units of work fail to open, as during an outage."""
        self._failing_opens = count

    def fail_commits(self, count: int = 1) -> None:
        """The next ``count`` commits fail, as when the connection drops mid-transaction."""
        self._failing_commits = count

    def _opening(self) -> None:
        if self._failing_opens > 0:
            self._failing_opens -= 1
            raise DatabaseUnavailableError(OUTAGE)

    def _committing(self) -> None:
        if self._failing_commits > 0:
            self._failing_commits -= 1
            raise DatabaseUnavailableError(OUTAGE)

    # --- direct access, for arranging and checking ----------------------------------

    def insert(self, *entities: Any) -> None:
        """Rows as if committed earlier (a test's starting state)."""
        for entity in entities:
            if isinstance(entity, Message):
                entity.sequence = len(self.messages[entity.session_id])
                self.messages[entity.session_id].append(clone(entity))
            else:
                if getattr(entity, "created_at", "absent") is None:
                    entity.created_at = _now()
                if isinstance(entity, PendingInput) and entity.position is None:
                    entity.position = next(self._positions)
                self.rows[type(entity)][entity.id] = clone(entity)

    def get(self, kind: type[E], key: UUID) -> E:
        """A copy of the committed row."""
        return clone(self.rows[kind][key])  # type: ignore[no-any-return]

    def session(self, key: UUID) -> Session:
        return self.get(Session, key)

    def transcript(self, session_id: UUID) -> list[Message]:
        return [clone(message) for message in self.messages[session_id]]

    def waiting(self, session_id: UUID) -> list[PendingInput]:
        return sorted(
            (
                clone(item)
                for item in self.rows[PendingInput].values()
                if item.session_id == session_id and item.state is PendingInputState.PENDING
            ),
            key=lambda item: item.position,
        )

    def events_of(self, event_type: str) -> list[ActivityEntry]:
        return [entry for entry in self.activity if entry.event_type == event_type]

    def lock(self, key: UUID) -> asyncio.Lock:
        return self._locks[key]


class MemoryUnitOfWork:
    def __init__(
        self, database: MemoryDatabase, events: EventPublisher | None, *, read_only: bool
    ) -> None:
        self._db = database
        self._events = events
        self._read_only = read_only
        self._loaded: dict[tuple[type, UUID], tuple[Any, dict[str, Any]]] = {}
        self._added: list[Any] = []
        self._deleted: list[Any] = []
        self._appended: list[Message] = []
        self._metadata: list[tuple[UUID, dict[str, Any]]] = []
        self._rewrites: list[tuple[UUID, str, bool]] = []
        self._cleared: set[UUID] = set()
        self._activity: list[ActivityEntry] = []
        self._outbox: list[tuple[UUID, str, dict[str, Any]]] = []
        self._held: dict[UUID, asyncio.Lock] = {}
        self.characters = MemoryDefinitions(self, Character)
        self.skills = MemoryDefinitions(self, Skill)
        self.projects = MemoryProjects(self)
        self.tasks = MemoryTasks(self)
        self.sessions = MemorySessions(self)
        self.messages = MemoryMessages(self)
        self.pending = MemoryPending(self)
        self.activity = MemoryActivity(self)
        self.profiles = MemoryProfiles(self)

    async def __aenter__(self) -> Self:
        self._db._opening()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for lock in self._held.values():
            lock.release()
        self._held.clear()
        self._outbox.clear()

    async def commit(self) -> None:
        if self._read_only:
            raise TypeError("a read-only unit of work cannot commit")
        self._db._committing()
        self._write_back()
        self._db.commits += 1
        outbox, self._outbox = self._outbox, []
        for session_id, event_type, data in outbox:
            assert self._events is not None
            self._events.publish(session_id, event_type, **data)

    def publish(self, session_id: UUID, event_type: str, **data: Any) -> None:
        if self._read_only or self._events is None:
            raise TypeError("this unit of work announces no events")
        self._outbox.append((session_id, event_type, data))

    # --- the rows this unit of work sees ----------------------------------------------

    def load(self, kind: type[E], key: UUID) -> E | None:
        """This unit of work's copy of a row (the same object on every read)."""
        seen = self._loaded.get((kind, key))
        if seen is not None:
            return seen[0]  # type: ignore[no-any-return]
        for entity in self._added:
            if type(entity) is kind and entity.id == key:
                return entity  # type: ignore[no-any-return]
        row = self._db.rows[kind].get(key)
        if row is None:
            return None
        entity = clone(row)
        self._loaded[(kind, key)] = (entity, copy.deepcopy(_state(entity)))
        return entity  # type: ignore[no-any-return]

    def all(self, kind: type[E]) -> list[E]:
        keys = [*self._db.rows[kind], *(e.id for e in self._added if type(e) is kind)]
        found = (self.load(kind, key) for key in dict.fromkeys(keys))
        deleted = {id(entity) for entity in self._deleted}
        return [entity for entity in found if entity is not None and id(entity) not in deleted]

    def add(self, entity: Any) -> None:
        if getattr(entity, "created_at", "absent") is None:
            entity.created_at = _now()
        self._added.append(entity)

    def delete(self, entity: Any) -> None:
        self._deleted.append(entity)

    async def lock(self, key: UUID) -> None:
        if key not in self._held:
            lock = self._db.lock(key)
            await lock.acquire()
            self._held[key] = lock

    def _rewrite_texts(self) -> None:
        for message_id, content, partial in self._rewrites:
            for message in itertools.chain.from_iterable(self._db.messages.values()):
                if message.id == message_id:
                    kept = {k: v for k, v in message.metadata.items() if k != "partial"}
                    message.content = content
                    message.metadata = {**kept, "partial": True} if partial else kept

    def _write_back(self) -> None:
        rows = self._db.rows
        for (kind, key), (entity, original) in self._loaded.items():
            stored = rows[kind].get(key)
            for name, value in _state(entity).items():
                if stored is not None and original[name] != value:
                    setattr(stored, name, copy.deepcopy(value))
        for entity in self._added:
            rows[type(entity)][entity.id] = clone(entity)
        for entity in self._deleted:
            rows[type(entity)].pop(entity.id, None)
        for session_id in self._cleared:
            self._db.messages[session_id].clear()
        for message in self._appended:
            self._db.messages[message.session_id].append(clone(message))
        self._rewrite_texts()
        for message_id, patch in self._metadata:
            for message in itertools.chain.from_iterable(self._db.messages.values()):
                if message.id == message_id:
                    message.metadata = {**message.metadata, **patch}
        self._db.activity.extend(self._activity)


class _Repository(Generic[E]):
    """add, get and get_for_update over one kind of row."""

    kind: type[E]

    def __init__(self, uow: MemoryUnitOfWork, kind: type[E]) -> None:
        self._uow = uow
        self.kind = kind

    async def add(self, entity: E, /) -> None:
        self._uow.add(entity)

    async def get(self, key: UUID, /, *, include_deleted: bool = False) -> E | None:
        entity = self._uow.load(self.kind, key)
        if entity is None or (getattr(entity, "deleted_at", None) and not include_deleted):
            return None
        return entity

    async def get_for_update(self, key: UUID, /) -> E | None:
        await self._uow.lock(key)
        return await self.get(key)

    async def delete(self, entity: E, /) -> None:
        self._uow.delete(entity)

    def _live(self) -> list[E]:
        return [e for e in self._uow.all(self.kind) if not getattr(e, "deleted_at", None)]


class MemoryDefinitions(_Repository[D]):
    async def get_by_slug(self, slug: str, /, *, include_deleted: bool = False) -> D | None:
        for definition in self._uow.all(self.kind):
            if definition.slug == slug and (include_deleted or not definition.is_deleted):
                return definition
        return None

    async def get_many(self, ids: Sequence[UUID], /) -> list[D]:
        found = (self._uow.load(self.kind, key) for key in ids)
        return [definition for definition in found if definition is not None]

    async def get_many_by_slug(self, slugs: Sequence[str], /) -> list[D]:
        return [d for d in self._live() if d.slug in slugs]

    async def slug_taken(self, slug: str, /) -> bool:
        return any(d.slug == slug for d in self._uow.all(self.kind))

    async def name_taken(self, name: str, /, *, exclude_id: UUID | None = None) -> bool:
        return any(d.name == name and d.id != exclude_id for d in self._live())

    async def list_live(self) -> list[D]:
        return self._live()


class MemoryProjects(_Repository[Project]):
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, Project)

    async def path_in_use(self, path: str, *, exclude_id: UUID | None = None) -> bool:
        return any(p.path == path and p.id != exclude_id for p in self._live())

    async def list_all(self, *, include_archived: bool = False) -> list[Project]:
        return [p for p in self._live() if include_archived or not p.is_archived]


class MemoryTasks(_Repository[Task]):
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, Task)

    async def get_for_share(self, key: UUID, /) -> Task | None:
        return await self.get_for_update(key)

    async def lock_if_free(self, key: UUID, /) -> Task | None:
        if self._uow._db.lock(key).locked() and key not in self._uow._held:
            return None
        return await self.get_for_update(key)

    async def list_for_project(self, project_id: UUID, *, for_update: bool = False) -> list[Task]:
        tasks = [task for task in self._live() if task.project_id == project_id]
        for task in tasks if for_update else ():
            await self._uow.lock(task.id)
        return tasks


class MemorySessions(_Repository[Session]):
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, Session)

    async def list_all(self, *, project_id: UUID | None = None) -> list[Session]:
        return [s for s in self._live() if project_id is None or s.project_id == project_id]

    async def list_in_status(self, statuses: Sequence[SessionStatus]) -> list[Session]:
        return [s for s in self._live() if s.status in statuses]

    async def list_for_project(self, project_id: UUID) -> list[Session]:
        return await self.list_all(project_id=project_id)

    async def get_with_waiting(
        self, session_id: UUID, *, for_update: bool = False
    ) -> tuple[Session | None, bool | None]:
        session = await (self.get_for_update(session_id) if for_update else self.get(session_id))
        if session is None:
            return None, None
        return session, (await self._uow.pending.waiting_among([session_id])).get(session_id)

    async def count_spawned_by(self, session_id: UUID) -> int:
        spawned = str(session_id)
        return sum(1 for s in self._live() if s.context.get("spawned_by_session_id") == spawned)

    async def live_ids_bound_to(self, task_id: UUID) -> list[UUID]:
        return [s.id for s in self._live() if s.task_id == task_id]

    async def unbind_task(self, task_id: UUID) -> list[UUID]:
        bound = await self.live_ids_bound_to(task_id)
        for session in self._uow.all(Session):
            if session.task_id == task_id:
                session.task_id = None
        return bound

    async def save_start(self, session: Session, entry: ActivityEntry) -> None:
        # The session's changes are written back at commit, as every loaded row's.
        await self._uow.activity.add(entry)

    async def set_waiting_slot(self, session_id: UUID, runtime: str | None) -> None:
        session = await self.get(session_id, include_deleted=True)
        if session is not None:
            session.waiting_slot = runtime

    async def latest_pm_session(self, project_id: UUID, character_id: UUID) -> Session | None:
        mine = [
            s
            for s in self._live()
            if s.project_id == project_id
            and s.character_id == character_id
            and s.session_type is SessionType.PM
        ]
        if not mine:
            return None
        latest = mine[-1]
        await self._uow.lock(latest.id)
        return latest


class MemoryMessages:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    def _rows(self, session_id: UUID) -> list[Message]:
        committed = [] if session_id in self._uow._cleared else self._uow._db.messages[session_id]
        own = [m for m in self._uow._appended if m.session_id == session_id]
        return [*committed, *own]

    async def get(self, message_id: UUID) -> Message | None:
        sessions = {*self._uow._db.messages, *(m.session_id for m in self._uow._appended)}
        rows = (m for session_id in sessions for m in self._rows(session_id))
        return next((m for m in rows if m.id == message_id), None)

    async def append_unless_inputs_wait(self, message: Message, recorded: ActivityEntry) -> bool:
        if await self._uow.pending.next_waiting(message.session_id) is not None:
            return False
        await self.append(message, recorded)
        return True

    async def append(self, message: Message, recorded: ActivityEntry | None = None) -> Message:
        # PostgreSQL bumps the session's sequence with an UPDATE: the row stays locked.
        await self._uow.lock(message.session_id)
        if self._uow._db.rows[Session].get(message.session_id) is None:
            raise NotFoundError("session", message.session_id)
        message.sequence = len(self._rows(message.session_id))
        message.created_at = message.created_at or _now()
        self._uow._appended.append(message)
        if recorded is not None:
            await self._uow.activity.add(recorded)
        return message

    async def newest(
        self,
        session_id: UUID,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
    ) -> list[Message]:
        rows = [
            clone(m)
            for m in self._rows(session_id)
            if (before is None or m.sequence < before) and (after is None or m.sequence > after)
        ]
        return rows[::-1][:limit]

    async def unanswered_tool_uses(self, session_id: UUID) -> list[Message]:
        return unanswered_tool_uses(self._rows(session_id))

    async def tool_results(self, session_id: UUID, tool_use_ids: Sequence[str]) -> list[Message]:
        return [
            m for m in self._rows(session_id) if m.is_tool_result and m.tool_use_id in tool_use_ids
        ]

    async def tool_uses(self, session_id: UUID, tool_use_ids: Sequence[str]) -> list[Message]:
        return [
            m for m in self._rows(session_id) if m.is_tool_use and m.tool_use_id in tool_use_ids
        ]

    async def count(self, session_id: UUID) -> int:
        return len(self._rows(session_id))

    async def delete_all(self, session_id: UUID) -> int:
        removed = len(self._rows(session_id))
        self._uow._cleared.add(session_id)
        self._uow._appended = [m for m in self._uow._appended if m.session_id != session_id]
        return removed

    async def merge_metadata(self, message_id: UUID, patch: dict[str, Any]) -> None:
        self._uow._metadata.append((message_id, patch))

    async def rewrite_text(self, message_id: UUID, content: str, *, partial: bool) -> None:
        self._uow._rewrites.append((message_id, content, partial))


class MemoryPending:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    async def add(self, item: PendingInput) -> None:
        item.position = next(self._uow._db._positions)
        self._uow.add(item)

    async def waiting(self, session_id: UUID) -> list[PendingInput]:
        items = self._uow.all(PendingInput)
        mine = [
            i for i in items if i.session_id == session_id and i.state is PendingInputState.PENDING
        ]
        return sorted(mine, key=lambda item: item.position or 0)

    async def locked_queue(self, session_id: UUID) -> LockedQueue:
        # No event log here: the in-memory hub numbers its events itself.
        await self._uow.lock(session_id)
        session = await self._uow.sessions.get(session_id)
        if session is None:
            return LockedQueue(None, None, [], None, 0)
        project = None
        if session.project_id is not None:
            project = await self._uow.projects.get(session.project_id)
        profile = await self._uow.profiles.get()
        return LockedQueue(session, project, await self.waiting(session_id), profile, 0)

    async def next_waiting(self, session_id: UUID) -> PendingInput | None:
        waiting = await self.waiting(session_id)
        return waiting[0] if waiting else None

    async def waiting_among(self, session_ids: Collection[UUID]) -> dict[UUID, bool]:
        pending = {
            i.session_id
            for i in self._uow.all(PendingInput)
            if i.state is PendingInputState.PENDING
        }
        found: dict[UUID, bool] = {}
        for session_id in session_ids:
            session = await self._uow.sessions.get(session_id, include_deleted=True)
            if session is None or session_id not in pending:
                continue
            project = (
                None
                if session.project_id is None
                else await self._uow.projects.get(session.project_id)
            )
            found[session_id] = project is not None and project.is_archived
        return found

    async def dropped(self, session_id: UUID, limit: int) -> list[PendingInput]:
        items = self._uow.all(PendingInput)
        gone = [
            i for i in items if i.session_id == session_id and i.state is PendingInputState.DROPPED
        ]
        return sorted(gone, key=lambda item: item.position or 0, reverse=True)[:limit]

    async def remove(self, item: PendingInput) -> bool:
        if item.state is not PendingInputState.PENDING:
            return False
        self._uow.delete(item)
        return True

    async def sessions_waiting(self) -> list[UUID]:
        items = sorted(
            (i for i in self._uow.all(PendingInput) if i.state is PendingInputState.PENDING),
            key=lambda item: item.position or 0,
        )
        live = {s.id for s in await self._uow.sessions.list_all()}
        return [key for key in dict.fromkeys(i.session_id for i in items) if key in live]


class MemoryActivity:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    async def add(self, entry: ActivityEntry) -> None:
        self._uow._activity.append(entry)


class MemoryProfiles:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    async def get(self) -> UserProfile | None:
        profile = self._uow._db.profile
        return None if profile is None else clone(profile)

    async def get_or_create(self) -> UserProfile:
        # Created at once rather than at commit: there is only ever one, and a turn
        # that finds none commits it straight away.
        if self._uow._db.profile is None:
            self._uow._db.profile = UserProfile()
        return clone(self._uow._db.profile)
