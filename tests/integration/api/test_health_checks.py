"""Health under pressure: the connection pool and the open event streams, counted for real,
make v1 and v2 health say `degraded` (V1_CURRENT_CLIENT §5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, ExitStack
from typing import Any
from uuid import uuid4

import httpx
import pytest

from kumiai.composition import Container, build_container, open_database
from kumiai.core.config import Settings
from kumiai.infrastructure.database.engine import Database
from kumiai.main import create_app

JSON = dict[str, Any]
QUIET = {
    "connection_pool": {
        "status": "ok",
        # The test database's pool: one connection (the health probe's), no overflow.
        "size": 1,
        "checked_in": 1,
        "checked_out": 0,
        "overflow": 0,
        "max_overflow": 0,
        "utilization": 0.0,
    },
    "sse_connections": {"status": "ok", "total_connections": 0, "active_sessions": 0},
}


async def _both_healths(client: httpx.AsyncClient) -> list[JSON]:
    plain, wrapped = await client.get("/api/health"), await client.get("/api/v2/health")
    assert (plain.status_code, wrapped.status_code) == (200, 200)
    return [plain.json(), wrapped.json()["data"]]


async def test_a_quiet_server_reports_its_pool_and_no_streams(client: httpx.AsyncClient) -> None:
    for report in await _both_healths(client):
        assert report["status"] == "ok"
        assert report["checks"] == QUIET


@pytest.fixture
async def pool_of_ten(settings: Settings) -> AsyncIterator[tuple[Database, httpx.AsyncClient]]:
    """A server on a pool of ten connections of the test database, none of them extra."""
    database = open_database(
        settings.model_copy(update={"db_pool_size": 10, "db_max_overflow": 0}),
        settings.database_url or "",
    )
    container = build_container(settings, database)
    transport = httpx.ASGITransport(app=create_app(settings, container))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield database, client
    finally:
        await container.aclose()


@pytest.mark.parametrize(("in_use", "status"), [(8, "ok"), (9, "degraded")])
async def test_a_pool_used_above_80_percent_is_degraded_but_still_answers(
    pool_of_ten: tuple[Database, httpx.AsyncClient], in_use: int, status: str
) -> None:
    database, client = pool_of_ten
    async with AsyncExitStack() as stack:
        for _ in range(in_use):
            await stack.enter_async_context(database.engine.connect())
        reports = await _both_healths(client)

    for report in reports:
        assert report["status"] == status
        assert report["database"]["reachable"] is True
        assert report["checks"]["connection_pool"] == {
            "status": status,
            "size": 10,
            "checked_in": 1,  # the probe's, given back before the pool is read
            "checked_out": in_use,
            "overflow": 0,
            "max_overflow": 0,
            "utilization": in_use / 10,
        }
    assert [report["status"] for report in await _both_healths(client)] == ["ok", "ok"]


@pytest.mark.parametrize(("streams", "status"), [(50, "ok"), (51, "degraded")])
async def test_more_than_50_open_streams_are_degraded(
    client: httpx.AsyncClient, container: Container, streams: int, status: str
) -> None:
    sessions = [uuid4(), uuid4(), uuid4()]
    with ExitStack() as open_streams:
        for index in range(streams):
            open_streams.enter_context(container.streams.track(sessions[index % 3]))
        reports = await _both_healths(client)

    for report in reports:
        assert report["status"] == status
        assert report["checks"]["sse_connections"] == {
            "status": status,
            "total_connections": streams,
            "active_sessions": 3,
        }
    assert [
        r["checks"]["sse_connections"]["total_connections"] for r in await _both_healths(client)
    ] == [0, 0]
