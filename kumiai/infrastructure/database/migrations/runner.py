"""Run Alembic programmatically, from the CLI or from code that owns an event loop."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.infrastructure.database.engine import to_async_url

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser treats % as interpolation; URLs may contain it.
        config.set_main_option("sqlalchemy.url", to_async_url(url).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "-1") -> None:
    command.downgrade(alembic_config(url), revision)


async def upgrade_on(connection: AsyncConnection, revision: str = "head") -> None:
    """Upgrade through a connection the caller already holds (inside a running loop)."""
    await connection.run_sync(
        lambda sync: command.upgrade(alembic_config(connection=sync), revision)
    )


async def downgrade_on(connection: AsyncConnection, revision: str) -> None:
    await connection.run_sync(
        lambda sync: command.downgrade(alembic_config(connection=sync), revision)
    )


async def current_revision(connection: AsyncConnection) -> str | None:
    return await connection.run_sync(
        lambda sync: MigrationContext.configure(sync).get_current_revision()
    )
