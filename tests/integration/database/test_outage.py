"""A database outage is a 503 ``database_unavailable``, and the server heals by itself.

The restart test runs its own embedded PostgreSQL: it must never touch the server
the rest of the suite (or another checkout on this machine) is using.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from kumiai.composition import build_container, open_database
from kumiai.core.config import Settings, load_settings
from kumiai.infrastructure.database.embedded import EmbeddedPostgres
from kumiai.infrastructure.database.migrations import runner
from kumiai.main import create_app
from tests.support.database import embedded_home
from tests.support.live import live_app
from tests.support.processes import free_port

STARTING_UP = "the database system is starting up"


def _error_response(sqlstate: str, message: str) -> bytes:
    fields = b"".join(
        code + value.encode() + b"\0"
        for code, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


async def _answer_starting_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Speak just enough of the PostgreSQL protocol to refuse like a starting server."""
    try:
        while True:
            (length,) = struct.unpack("!I", await reader.readexactly(4))
            (code,) = struct.unpack("!I", await reader.readexactly(4))
            await reader.readexactly(length - 8)
            if code == 80877103:  # SSLRequest: no TLS here
                writer.write(b"N")
                continue
            writer.write(_error_response("57P03", STARTING_UP))
            await writer.drain()
            return
    except asyncio.IncompleteReadError:
        return
    finally:
        writer.close()


@pytest.fixture
async def starting_up_server() -> AsyncIterator[int]:
    server = await asyncio.start_server(_answer_starting_up, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def _settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        home=tmp_path / "home",
        database_url=database_url,
        db_pool_timeout=3,
        db_connect_timeout=2,
        _env_file=None,
    )


async def _client_for(settings: Settings) -> httpx.AsyncClient:
    container = build_container(settings, open_database(settings, settings.database_url or ""))
    app = create_app(settings, container)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


async def _assert_unavailable(client: httpx.AsyncClient) -> None:
    v2 = await client.get("/api/v2/projects")
    assert v2.status_code == 503, v2.text
    assert v2.json()["error"]["code"] == "database_unavailable"
    created = await client.post("/api/v2/projects", json={"name": "Apollo"})
    assert created.status_code == 503, created.text
    v1 = await client.get("/api/v1/projects")
    assert v1.status_code == 503
    assert "database is unavailable" in v1.json()["detail"]
    # The v1 client reads these lists without checking the status: always an array.
    for listing in ("/api/v1/skills", "/api/v1/sessions"):
        answer = await client.get(listing)
        assert (answer.status_code, answer.json()) == (503, []), listing


async def test_a_database_that_is_starting_up_is_a_503(
    tmp_path: Path, starting_up_server: int
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{starting_up_server}/kumiai"
    async with await _client_for(_settings(tmp_path, url)) as client:
        await _assert_unavailable(client)
        message = (await client.get("/api/v2/projects")).json()["error"]["message"]
        assert STARTING_UP in message


async def test_a_refused_connection_is_a_503(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/kumiai"
    async with await _client_for(_settings(tmp_path, url)) as client:
        await _assert_unavailable(client)


# --- a real restart under load -------------------------------------------------------------


@dataclass
class Load:
    """Clients that keep calling the API and record what they get back."""

    client: httpx.AsyncClient
    results: list[tuple[float, str, int, float, Any]] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def worker(self, number: int) -> None:
        calls = 0
        while not self.stopping.is_set():
            calls += 1
            for method, path, body in (
                ("GET", "/api/v2/projects", None),
                ("GET", "/api/v1/skills", None),
                ("POST", "/api/v2/projects", {"name": f"P{number}-{calls}"}),
                ("GET", "/api/v1/sessions", None),
            ):
                started = time.monotonic()
                response = await self.client.request(method, path, json=body)
                elapsed = time.monotonic() - started
                self.results.append((started, path, response.status_code, elapsed, response))
            await asyncio.sleep(0.02)  # a bounded load, not a flood

    def since(self, moment: float) -> list[int]:
        return [status for started, _, status, _, _ in self.results if started >= moment]


async def _until(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    """An embedded server of this test's own, which it may stop and start at will."""
    with embedded_home() as home:
        server = EmbeddedPostgres(home / "pgdata")
        try:
            yield server
        finally:
            server.stop()


@pytest.mark.slow
async def test_a_database_restart_under_load_gives_503s_then_heals(
    tmp_path: Path, own_postgres: EmbeddedPostgres
) -> None:
    server = own_postgres
    url = await asyncio.to_thread(server.start)
    await asyncio.to_thread(runner.upgrade, url)
    async with live_app(_settings(tmp_path, url)) as app:
        load = Load(app.client)
        workers = [asyncio.create_task(load.worker(number)) for number in range(3)]
        try:
            await _until(lambda: 200 in load.since(0), 30, "the first answers")

            stopped_at = time.monotonic()
            await asyncio.to_thread(server.stop)
            await _until(lambda: load.since(stopped_at).count(503) >= 8, 30, "503s while down")

            restarted_at = time.monotonic()
            await asyncio.to_thread(server.start)
            await _until(lambda: load.since(time.monotonic() - 1).count(201) >= 2, 60, "recovery")
        finally:
            load.stopping.set()
            await asyncio.gather(*workers)

    statuses = {status for _, _, status, _, _ in load.results}
    assert statuses <= {200, 201, 503}, statuses
    slowest = max(elapsed for _, _, _, elapsed, _ in load.results)
    assert slowest < 5, f"a request took {slowest:.1f} s"
    for _, path, status, _, response in load.results:
        if status == 503 and path in ("/api/v1/skills", "/api/v1/sessions"):
            assert response.json() == []
        elif status == 503 and path.startswith("/api/v2/"):
            assert response.json()["error"]["code"] == "database_unavailable"
    healed = [status for started, _, status, _, _ in load.results if started > restarted_at]
    assert healed[-4:] and set(healed[-4:]) <= {200, 201}
