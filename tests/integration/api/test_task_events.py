"""task_changed on a live server: a client following the PM session's v2 event stream
sees a task change as it happens."""

from __future__ import annotations

import asyncio

from tests.integration.runtime.helpers import create_team, wait_for_subscriber
from tests.support.live import LiveApp
from tests.support.sse import Event, collect


async def _follow_until_task_changed(live: LiveApp, session_id: str) -> list[Event]:
    async with live.client.stream("GET", f"/api/v2/sessions/{session_id}/events") as response:
        assert response.status_code == 200
        return await collect(response, until="task_changed")


async def test_the_pm_session_stream_carries_task_changed_as_it_happens(live: LiveApp) -> None:
    team = await create_team(live, "Dana")
    created = await live.client.post(
        f"/api/v2/projects/{team.project['id']}/tasks", json={"name": "Board"}
    )
    task = created.json()["data"]
    follower = asyncio.create_task(_follow_until_task_changed(live, team.pm_session_id))
    await wait_for_subscriber(live, team.pm_session_id)

    moved = await live.client.patch(f"/api/v2/tasks/{task['id']}", json={"status": "done"})
    assert moved.status_code == 200

    (event,) = await asyncio.wait_for(follower, timeout=10)
    assert event.type == "task_changed"
    assert event.data["session_id"] == team.pm_session_id
    assert event.data["change"] == "updated"
    assert event.data["fields"] == ["status"]
    assert event.data["task"] == moved.json()["data"]
