"""The persisted event log on PostgreSQL: one writer connection, a small read pool, and
a listener that hears every append of every process (``LISTEN kumiai_events``).

The SQL is in :mod:`kumiai.infrastructure.database.repositories.session_events`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from uuid import UUID

import asyncpg
from sqlalchemy.engine import make_url

from kumiai.application.ports.events import (
    Appended,
    AppendedCallback,
    NewEvent,
    ReplayPage,
    Retention,
    SessionEvent,
)
from kumiai.core.exceptions import DatabaseUnavailableError
from kumiai.core.logging import get_logger
from kumiai.infrastructure.database.repositories import session_events

logger = get_logger(__name__)

RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


@contextlib.contextmanager
def _unavailable_when_down() -> Iterator[None]:
    """A read a request waits on fails as the rest of the app does in an outage: 503."""
    try:
        yield
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as error:
        raise DatabaseUnavailableError(f"the database is unavailable: {error}") from error


async def _nothing_to_reset(_connection: asyncpg.Connection) -> None:
    """The read pool's connections keep no state between uses (no LISTEN, no lock, no
    setting), so returning one costs no reset round trip."""


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+asyncpg://``) as asyncpg's own DSN."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresEventLog:
    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 5.0,
        read_pool_size: int = 2,
        durable_commit: bool = False,
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self._durable = durable_commit
        self._timeout = connect_timeout
        self._read_pool_size = read_pool_size
        self._writer: asyncpg.Connection | None = None
        self._readers: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._on_appended: AppendedCallback | None = None
        self._on_reconnect: Callable[[], None] | None = None
        self._relisten: asyncio.Task[None] | None = None
        self._heads_asked: dict[UUID, list[asyncio.Future[int]]] = {}
        self._heads_reader: asyncio.Task[None] | None = None
        self._heads_busy = False  # a read of heads is in flight
        self._closed = False

    async def start(self, on_appended: AppendedCallback, on_reconnect: Callable[[], None]) -> None:
        self._on_appended = on_appended
        self._on_reconnect = on_reconnect
        self._readers = await asyncpg.create_pool(
            self._dsn,
            min_size=1,
            max_size=self._read_pool_size,
            timeout=self._timeout,
            reset=_nothing_to_reset,
        )
        await self._listen()

    async def append(self, events: Sequence[NewEvent], key: UUID) -> dict[UUID, Appended]:
        if self._writer is None or self._writer.is_closed():
            self._writer = await self._connect_writer()
        return await session_events.append(self._writer, events, key)

    async def head(self, session_id: UUID) -> int:
        """Heads asked for while a read of heads is in flight are read together, in the
        next query: a crowd of new subscriptions costs a few round trips, not one each
        through the small read pool (each read still starts after its ask). With none in
        flight, the asker reads its own at once."""
        with _unavailable_when_down():
            if not self._heads_busy:
                self._heads_busy = True
                try:
                    return (await session_events.heads(self._pool(), [session_id]))[session_id]
                finally:
                    self._heads_busy = False
                    self._read_asked_heads()
            future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            self._heads_asked.setdefault(session_id, []).append(future)
            return await future

    def _read_asked_heads(self) -> None:
        if self._heads_asked and not self._heads_busy:
            self._heads_busy = True
            self._heads_reader = asyncio.create_task(self._read_heads(), name="event-heads")

    async def _read_heads(self) -> None:
        try:
            while self._heads_asked:
                asked, self._heads_asked = self._heads_asked, {}
                try:
                    heads = await session_events.heads(self._pool(), list(asked))
                except Exception as error:
                    for futures in asked.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(error)
                    continue
                for session_id, futures in asked.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(heads[session_id])
        finally:
            self._heads_busy = False

    async def read_new(self, cursors: Mapping[UUID, int], limit: int) -> list[SessionEvent]:
        # On the listening connection: the reads follow its notifications, one at a time,
        # so a notification costs one more round trip, not a pool checkout too.
        listener = self._listener
        if listener is None or listener.is_closed():
            return await session_events.read_new(self._pool(), cursors, limit)
        return await session_events.read_new(listener, cursors, limit)

    async def read_after(self, session_id: UUID, after: int, limit: int) -> ReplayPage:
        with _unavailable_when_down():
            async with self._pool().acquire() as connection:
                return await session_events.read_after(connection, session_id, after, limit)

    async def prune(self, retention: Retention) -> int:
        async with self._pool().acquire() as connection:
            return await session_events.prune(connection, retention)

    async def aclose(self) -> None:
        self._closed = True
        if self._heads_reader is not None:
            self._heads_reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heads_reader
        if self._relisten is not None:
            self._relisten.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relisten
        for connection in (self._listener, self._writer):
            if connection is not None and not connection.is_closed():
                await connection.close()
        if self._readers is not None:
            await self._readers.close()

    def _pool(self) -> asyncpg.Pool:
        assert self._readers is not None, "the event log is not started"
        return self._readers

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self._dsn, timeout=self._timeout)

    async def _connect_writer(self) -> asyncpg.Connection:
        """The writer's connection. Unless commits are durable, an append does not wait
        for the disk (the flush costs more than the rest of the fan-out); a PostgreSQL
        crash may then lose the last fraction of a second of events, and the ids they
        took: so the writer first moves the id counter past anything a crash could
        have lost, and an id a client already holds is never given again."""
        connection = await self._connect()
        if not self._durable:
            await connection.execute("SET synchronous_commit = off")
            await session_events.skip_ids_a_crash_may_have_lost(connection)
        return connection

    async def _listen(self) -> None:
        listener = await self._connect()
        await listener.add_listener(session_events.CHANNEL, self._notified)
        listener.add_termination_listener(self._lost)
        self._listener = listener

    def _notified(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        assert self._on_appended is not None
        session, first_id, last_id = payload.split(" ")
        self._on_appended(UUID(session), int(first_id), int(last_id))

    def _lost(self, _connection: object) -> None:
        if not self._closed and (self._relisten is None or self._relisten.done()):
            self._relisten = asyncio.get_running_loop().create_task(self._listen_again())

    async def _listen_again(self) -> None:
        """Listen again after the connection dropped; appends in between were not heard,
        so the readers are told to catch up."""
        attempt = 0
        while not self._closed:
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError) as error:
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                logger.warning("event_listener_reconnect_failed", error=str(error), retry_in=delay)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            logger.info("event_listener_reconnected")
            assert self._on_reconnect is not None
            self._on_reconnect()
            return
