"""Where live events go: each session's numbered log, which clients follow over SSE.

Events that announce a change to stored data are handed to the unit of work
(``UnitOfWork.publish``), which passes them on here only once the change is committed.
Events with nothing stored behind them (text as it streams, notifications, a turn's
terminal event during an outage) are published here directly.

The log itself is persisted (``EventStore``): every process appends to it and hears
every append, so a session's events reach its subscribers on any process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID


class EventPublisher(Protocol):
    def publish(self, session_id: UUID, event_type: str, **data: Any) -> object: ...


class StreamPublisher(EventPublisher, Protocol):
    """A publisher a turn streams through."""

    async def flush_within(self, seconds: float) -> None:
        """Until every event published so far is stored (and so delivered to this
        process's subscribers), for at most ``seconds``."""
        ...


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event on its way into the persisted log; the log gives it its id."""

    session_id: UUID
    type: str
    data: dict[str, Any]


TERMINAL_EVENTS = frozenset({"done", "error", "cancelled"})


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """An event of a session's log, under its id (server-wide once persisted)."""

    session_id: UUID
    id: int
    type: str
    data: dict[str, Any]
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def is_terminal(self) -> bool:
        return self.type in TERMINAL_EVENTS

    @property
    def event_id(self) -> str:
        """Globally unique id, for clients that de-duplicate across sessions."""
        return f"{self.session_id}:{self.id}"


@dataclass(frozen=True, slots=True)
class ReplayPage:
    """A session's events after an id, and what a reader needs to judge the gap.

    ``pruned_through``: the highest id of this session that retention removed (None if
    none was). ``latest_id``: the highest id the log ever gave, any session.
    """

    events: list[SessionEvent]
    pruned_through: int | None
    latest_id: int


@dataclass(frozen=True, slots=True)
class Retention:
    max_age: timedelta
    max_per_session: int


@dataclass(frozen=True, slots=True)
class Appended:
    """What one append stored for one session: its events' ids, in order, and the
    session's newest id before them (0 for none), as of the append's commit."""

    ids: list[int]
    after: int


AppendedCallback = Callable[[UUID, int, int], None]
"""Told, for each session, the first and last id of a batch another writer (or this
one) committed."""


class EventStore(Protocol):
    """The persisted, server-wide event log (PostgreSQL), shared by every process.

    Ids increase in commit order. Each append is announced to every process listening
    (``on_appended``); a reader then reads the rows, so an announcement carries no data.
    """

    async def start(self, on_appended: AppendedCallback, on_reconnect: Callable[[], None]) -> None:
        """Open the connections and start listening; ``on_reconnect`` after a lost
        listener came back, when announcements may have been missed."""
        ...

    async def append(self, events: Sequence[NewEvent], key: UUID) -> dict[UUID, Appended]:
        """Append in order, at most once per ``key`` (a retry after a lost connection
        passes the same key); for each session, the ids its events got, in order, and
        its newest id before them."""
        ...

    async def head(self, session_id: UUID) -> int:
        """The newest id of the session's events (0 if it has none)."""
        ...

    async def read_new(self, cursors: Mapping[UUID, int], limit: int) -> list[SessionEvent]:
        """The events after each session's cursor, oldest first, at most ``limit`` each."""
        ...

    async def read_after(self, session_id: UUID, after: int, limit: int) -> ReplayPage: ...

    async def prune(self, retention: Retention) -> int:
        """Remove what retention no longer keeps; how many events went."""
        ...

    async def aclose(self) -> None: ...
