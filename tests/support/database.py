"""Where the test suite gets its PostgreSQL: the CI server or an embedded one."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from kumiai.infrastructure.database.embedded import EmbeddedPostgres
from kumiai.infrastructure.database.engine import to_async_url

TEST_DATABASE_URL_VARIABLE = "KUMIAI_TEST_DATABASE_URL"


@contextmanager
def postgres_server() -> Iterator[str]:
    """An admin URL for a server: ``KUMIAI_TEST_DATABASE_URL`` or an embedded one."""
    configured = os.environ.get(TEST_DATABASE_URL_VARIABLE)
    if configured:
        yield to_async_url(configured)
        return
    with embedded_home() as home:
        server = EmbeddedPostgres(home / "pgdata")
        try:
            yield server.start()
        finally:
            server.stop()


@contextmanager
def embedded_home() -> Iterator[Path]:
    """A fresh KUMIAI_HOME for a test that runs its own embedded server.

    It lives in the system temp folder, not under pytest's ``pytest-of-<user>``: when
    running as root the server runs as an unprivileged user that must traverse every
    folder above its data, and pytest makes its folder private again at each start.
    """
    home = Path(tempfile.mkdtemp(prefix="kumiai-test-home-"))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _asyncpg_dsn(url: str) -> dict[str, object]:
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host")
    return {
        "user": parsed.username,
        "password": parsed.password,
        "host": host,
        "port": parsed.port,
        "database": parsed.database,
    }


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(**_asyncpg_dsn(with_database(url, "postgres")))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def worker_name() -> str:
    """The pytest-xdist worker running this process ("gw0", ...), or "main" without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


async def create_scratch_database_async(
    server_url: str, prefix: str = "kumiai_test", *, template: str | None = None
) -> str:
    """A new database on the server, empty or a copy of ``template``; returns its URL.

    Its name carries the xdist worker's, so a database left by a crash says whose it was.
    """
    name = f"{prefix}_{worker_name()}_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    await _admin(server_url, f'CREATE DATABASE "{name}"{copy}')
    return with_database(server_url, name)


async def drop_database_async(url: str) -> None:
    name = make_url(url).database
    await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_scratch_database(
    server_url: str, prefix: str = "kumiai_test", *, template: str | None = None
) -> str:
    return asyncio.run(create_scratch_database_async(server_url, prefix, template=template))


def database_name(url: str) -> str:
    return str(make_url(url).database)


def drop_database(url: str) -> None:
    asyncio.run(drop_database_async(url))
