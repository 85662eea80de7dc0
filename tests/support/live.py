"""A KumiAI app on a real connection pool and a real port, for tests of live runs.

Runs work in background tasks with their own units of work, so these tests cannot use
the rolled-back single connection of the other integration tests. They use a database
of their own, emptied after each test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import uvicorn

from kumiai.composition import Container, build_container, open_database
from kumiai.core.config import Settings
from kumiai.infrastructure.database.tables import metadata
from kumiai.main import create_app
from tests.support.processes import free_port


@dataclass
class LiveApp:
    container: Container
    client: httpx.AsyncClient
    base_url: str


async def truncate_all(container: Container) -> None:
    """Every row gone, the referring tables' first. A test leaves a few rows, which
    DELETE removes in a fraction of the time TRUNCATE (new files for every table) takes."""
    async with container.database.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            await connection.execute(table.delete())


@contextlib.asynccontextmanager
async def live_app(settings: Settings, *, keep_data: bool = False) -> AsyncIterator[LiveApp]:
    """``keep_data``: leave the database as it is on exit, for a second app on the same
    database (a second server process) inside a test's own."""
    container = build_container(settings, open_database(settings, settings.database_url or ""))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, container),
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="on",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    await container.start()  # what `kumiai serve` does once its database is up
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            yield LiveApp(container, client, base_url)
    finally:
        await container.workers.shutdown()
        server.should_exit = True
        await task
        if not keep_data:
            await truncate_all(container)
        await container.aclose()
