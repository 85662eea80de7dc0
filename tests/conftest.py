"""Shared fixtures: one migrated database per run, one rolled-back transaction per test.

Under pytest-xdist every worker is a run of its own: its own server (the configured one
or an embedded one of its own), its own migrated template and databases copied from it,
its own temporary folders and ports. Nothing here is shared between workers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from kumiai.composition import Container, build_container
from kumiai.core.config import Settings, load_settings
from kumiai.infrastructure.database.engine import Database, ReadOnlySession
from kumiai.infrastructure.database.migrations import runner
from kumiai.main import create_app
from tests.support.database import (
    create_scratch_database,
    database_name,
    drop_database,
    postgres_server,
)

FIXTURES_HOME = Path(__file__).resolve().parent / "fixtures"

# Claude Code must never find the developer's own login or reach the internet from a
# test: its home and config folder are temporary, and every background service is off.
CLAUDE_CODE_OFFLINE = {
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
}


@pytest.fixture(scope="session", autouse=True)
def isolated_claude_code(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("claude-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.setenv("CLAUDE_CONFIG_DIR", str(home / ".claude"))
        for variable in ("CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"):
            patch.delenv(variable, raising=False)
        for variable, value in CLAUDE_CODE_OFFLINE.items():
            patch.setenv(variable, value)
        yield home


@pytest.fixture(scope="session", autouse=True)
def _no_user_claude_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test (nor a `kumiai` it starts) reads MCP servers from a real ~/.claude.json."""
    absent = tmp_path_factory.mktemp("claude-config") / ".claude.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUMIAI_CLAUDE_CONFIG_FILE", str(absent))
        yield


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def migrated_template(postgres_server_url: str) -> Iterator[str]:
    """The name of a database at head that this run copies (``CREATE DATABASE ...
    TEMPLATE``) wherever it needs a migrated one: migrations run once per run."""
    url = create_scratch_database(postgres_server_url, prefix="kumiai_template")
    runner.upgrade(url)
    yield database_name(url)
    drop_database(url)


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str, migrated_template: str) -> Iterator[str]:
    """A fresh database for this test run, migrated to head."""
    url = create_scratch_database(postgres_server_url, template=migrated_template)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        home=tmp_path / "home",
        database_url=database_url,
        claude_config_file=tmp_path / ".claude.json",
        _env_file=None,
    )


@pytest.fixture
async def database(settings: Settings, connection: AsyncConnection) -> AsyncIterator[Database]:
    """The app's Database, with units of work bound to the test's transaction.

    Commits inside services become savepoint releases, so every test still ends
    with a rollback and leaves nothing behind.
    """
    database = Database(settings.database_url or "", pool_size=1, max_overflow=0)
    database.session_factory = async_sessionmaker(
        bind=connection,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )
    # Reads see the test's uncommitted rows, and still refuse to write.
    database.read_session_factory = async_sessionmaker(
        bind=connection,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
        sync_session_class=ReadOnlySession,
    )
    yield database
    await database.dispose()


@pytest.fixture
async def container(settings: Settings, database: Database) -> AsyncIterator[Container]:
    container = build_container(settings, database)
    yield container
    await container.workers.shutdown()


@pytest.fixture
async def client(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process, as the browser would."""
    app = create_app(settings, container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        yield http
