from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from kumiai.infrastructure.database.engine import Database
from tests.factories.projects import create_project, create_session, make_character, walk_pages

ACTIVITY = "/api/v2/activity"


async def _events(client: httpx.AsyncClient, **params: str) -> list[tuple[str, dict[str, Any]]]:
    response = await client.get(ACTIVITY, params={**params, "limit": 200})
    assert response.status_code == 200, response.text
    return [(entry["event_type"], entry["event_data"]) for entry in response.json()["data"]]


async def test_project_use_cases_are_logged_newest_first(
    client: httpx.AsyncClient, database: Database
) -> None:
    await make_character(database, "lead")
    project = await create_project(client, "Apollo")
    url = f"/api/v2/projects/{project['id']}"
    await client.patch(url, json={"name": "Artemis"})
    await client.post(f"{url}/archive")
    await client.post(f"{url}/unarchive")
    await client.post(f"{url}/pm", json={"character_id": "lead"})
    await client.delete(f"{url}/pm")
    await client.delete(url)

    events = [event for event, _ in await _events(client, project_id=project["id"])]
    assert events == [
        "project_deleted",
        "session_deleted",
        "pm_removed",
        "session_cancelled",
        "pm_assigned",
        "session_created",
        "project_unarchived",
        "project_archived",
        "project_updated",
        "project_created",
    ]
    created = (await _events(client, project_id=project["id"], event_type="project_created"))[0]
    assert created[1] == {"name": "Apollo", "path": project["path"]}


async def test_a_permanent_delete_is_logged_without_the_vanished_project(
    client: httpx.AsyncClient,
) -> None:
    project = await create_project(client)
    await client.delete(f"/api/v2/projects/{project['id']}/permanent")
    (event, data), *_ = await _events(client, event_type="project_deleted")
    assert event == "project_deleted"
    assert data["deleted_project_id"] == project["id"]
    assert data["permanent"] is True
    # The earlier rows lost their project link with the row, but are still there.
    assert await _events(client, project_id=project["id"]) == []


async def test_session_use_cases_are_logged(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    await client.post(f"/api/v2/sessions/{session['id']}/cancel")
    await client.post(f"/api/v2/sessions/{session['id']}/resume")
    events = await _events(client, session_id=session["id"])
    assert events == [
        ("session_resumed", {"status": "idle"}),
        ("session_cancelled", {"status": "cancelled"}),
        ("session_created", {"session_type": "assistant", "character_id": None, "task_id": None}),
    ]


async def test_filters_combine(client: httpx.AsyncClient) -> None:
    first = await create_project(client, "One")
    await create_project(client, "Two")
    assert len(await _events(client, event_type="project_created")) == 2
    assert len(await _events(client, project_id=first["id"], event_type="project_created")) == 1
    assert await _events(client, project_id=first["id"], event_type="session_created") == []


async def test_listing_pages_newest_first_without_duplicates_or_holes_while_rows_are_added(
    client: httpx.AsyncClient,
) -> None:
    for number in range(7):
        await create_project(client, f"P{number}")
    before = [
        entry["id"] for entry in (await client.get(ACTIVITY, params={"limit": 200})).json()["data"]
    ]

    async def add_one() -> None:
        await create_project(client, "Late")

    pages = await walk_pages(client, ACTIVITY, {"limit": 2}, between_pages=add_one)
    seen = [entry["id"] for page in pages for entry in page]
    assert len(pages) > 2
    # Rows written during the walk are newer than its start, so it never returns them.
    assert seen == before


@pytest.mark.parametrize(
    "params",
    [
        {"event_type": "party"},
        {"project_id": "nope"},
        {"session_id": "1"},
        {"cursor": "zzz"},
        {"limit": 500},
    ],
)
async def test_invalid_parameters_are_a_422(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    assert (await client.get(ACTIVITY, params=params)).status_code == 422


async def test_unknown_ids_simply_match_nothing(client: httpx.AsyncClient) -> None:
    await create_project(client)
    assert await _events(client, project_id=str(uuid.uuid4())) == []
