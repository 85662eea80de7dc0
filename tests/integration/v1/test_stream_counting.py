"""Open event streams are counted for the health report for as long as their clients
stay: the v1 session stream and the v2 events stream alike, on a live server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from tests.integration.runtime.helpers import create_specialist, create_team
from tests.support.live import LiveApp

JSON = dict[str, Any]


async def _streams(live: LiveApp) -> JSON:
    streams: JSON = (await live.client.get("/api/health")).json()["checks"]["sse_connections"]
    return streams


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        while not await check():
            await asyncio.sleep(0.02)


async def _counted(live: LiveApp, total: int, sessions: int) -> bool:
    found = await _streams(live)
    return (found["total_connections"], found["active_sessions"]) == (total, sessions)


async def _open(stack: AsyncExitStack, live: LiveApp, path: str) -> None:
    response = await stack.enter_async_context(
        live.client.stream("GET", path, headers={"accept": "text/event-stream"})
    )
    assert response.status_code == 200


async def test_open_v1_and_v2_streams_are_counted_until_their_clients_go(live: LiveApp) -> None:
    team = await create_team(live, "Dana")
    dana = await create_specialist(live, team, "Dana")
    async with AsyncExitStack() as stack:
        await _open(stack, live, f"/api/v1/sessions/{dana}/stream")
        await _open(stack, live, f"/api/v2/sessions/{dana}/events")
        await _open(stack, live, f"/api/v2/sessions/{team.pm_session_id}/events")

        await _until(lambda: _counted(live, total=3, sessions=2))

    await _until(lambda: _counted(live, total=0, sessions=0))
