"""Importer tests commit data, so each test module gets its own migrated database."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from kumiai.infrastructure.database.tables import metadata
from tests.support.database import create_scratch_database_async, drop_database_async

TABLES = (
    "characters",
    "skills",
    "projects",
    "sessions",
    "messages",
    "activity_logs",
    "user_profiles",
)


@pytest.fixture(scope="module")
async def import_database(postgres_server_url: str, migrated_template: str) -> AsyncIterator[str]:
    """A fresh database at head for this module; dropped when the module is done."""
    url = await create_scratch_database_async(
        postgres_server_url, "kumiai_import", template=migrated_template
    )
    yield url
    await drop_database_async(url)


@pytest.fixture(scope="module")
async def import_engine(import_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(import_database, poolclass=NullPool)
    yield engine
    await engine.dispose()


def quiet_console() -> Console:
    return Console(file=io.StringIO(), width=160)


async def table_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        return {
            table: int(
                await connection.scalar(
                    sa.select(sa.func.count()).select_from(metadata.tables[table])
                )
                or 0
            )
            for table in TABLES
        }


async def fetch_all(engine: AsyncEngine, query: sa.Executable) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(query)).all())
