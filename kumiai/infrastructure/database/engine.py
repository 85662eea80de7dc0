"""Engine and session factory: one per process, sessions scoped per unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from kumiai.application.ports.database import PoolStatus
from kumiai.core.exceptions import DatabaseUnavailableError


def to_async_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and point SQLAlchemy at asyncpg."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def describe_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


@dataclass(frozen=True)
class DatabaseInfo:
    reachable: bool
    server_version: str | None
    error: str | None = None


class ReadOnlySession(Session):
    """The session of a read-only unit of work: it runs without a transaction, so a
    flush would write at once, outside any unit of work; it refuses instead."""

    def flush(self, objects: object = None) -> None:
        raise TypeError("a read-only unit of work cannot write")


class Database:
    """Owns the async engine; hands out sessions for units of work.

    ``session_factory`` sessions run in a transaction; ``read_session_factory``
    sessions run in autocommit, so a read is one round trip instead of BEGIN, the
    query and ROLLBACK. There is no ``pool_pre_ping`` (which costs three round trips
    on asyncpg: BEGIN, a ping and ROLLBACK, on every checkout); a connection that the
    server closed is replaced at checkout instead, and one that fails in use is
    invalidated and reported as a 503.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 10,
        pool_timeout: float = 10.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.url = to_async_url(url)
        self.max_overflow = max_overflow
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            connect_args={"timeout": connect_timeout},
        )
        event.listen(self.engine.sync_engine, "do_connect", _connect_or_unavailable)
        event.listen(self.engine.sync_engine, "checkout", _replace_if_closed)
        self.session_factory: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=False
        )
        self.read_session_factory: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"),
            expire_on_commit=False,
            autoflush=False,
            sync_session_class=ReadOnlySession,
        )

    async def check(self) -> DatabaseInfo:
        """Reachability and server version, without raising."""
        try:
            async with self.engine.connect() as connection:
                version = await connection.scalar(sa.text("SHOW server_version"))
        except Exception as error:
            return DatabaseInfo(reachable=False, server_version=None, error=_first_line(error))
        return DatabaseInfo(reachable=True, server_version=str(version))

    def pool_status(self) -> PoolStatus:
        # create_async_engine with a pool size makes a queue pool (the asyncio one).
        pool = cast(QueuePool, self.engine.pool)
        return PoolStatus(
            size=pool.size(),
            checked_in=pool.checkedin(),
            checked_out=pool.checkedout(),
            # The pool counts from -size: connections opened beyond ``size`` are positive.
            overflow=max(pool.overflow(), 0),
            max_overflow=self.max_overflow,
        )

    async def ensure_reachable(self) -> str:
        info = await self.check()
        if not info.reachable:
            raise DatabaseUnavailableError(
                f"cannot reach the database at {describe_url(self.url)}: {info.error}"
            )
        return info.server_version or "unknown"

    async def dispose(self) -> None:
        await self.engine.dispose()


def _connect_or_unavailable(
    dialect: Dialect, _record: object, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """Open a driver connection; any failure to connect is a database outage.

    The driver lets refused sockets and timeouts escape as bare ``OSError`` and
    ``TimeoutError``, and "the database system is starting up" as a generic error.
    Naming them here, where only the database is involved, keeps a filesystem
    ``OSError`` elsewhere from ever passing for an outage.
    """
    try:
        return dialect.connect(*cargs, **cparams)
    except Exception as error:
        raise DatabaseUnavailableError(
            f"the database is unavailable: {_first_line(error)}"
        ) from error


def _replace_if_closed(
    _dbapi_connection: object, record: ConnectionPoolEntry, _proxy: object
) -> None:
    """A pooled connection the server has closed (a restart) is swapped for a new one.

    Checking the driver's own flag costs no round trip; the pool retries the checkout
    with a fresh connection when this raises ``DisconnectionError``.
    """
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise exc.DisconnectionError("the server closed this connection")


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
