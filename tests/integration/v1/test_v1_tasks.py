"""v1 tasks, as the current web client (2026-03) calls them (V1_CURRENT_CLIENT §1), and
the ``task_id`` of every v1 session shape."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from kumiai.infrastructure.database.engine import Database
from tests.factories.projects import create_project, make_character

JSON = dict[str, Any]
TASK_KEYS = {"id", "project_id", "name", "description", "status", "created_at", "updated_at"}


async def _project(client: httpx.AsyncClient, database: Database, name: str = "Board") -> JSON:
    for slug in ("dev", "lead"):
        if (await client.get(f"/api/v1/agents/{slug}")).status_code == 404:
            await make_character(database, slug)
    return await create_project(client, name, team_character_ids=["dev"], pm_character_id="lead")


async def _new_task(client: httpx.AsyncClient, project_id: str, **body: Any) -> JSON:
    response = await client.post(
        f"/api/v1/projects/{project_id}/tasks", json={"name": "Checkout", **body}
    )
    assert response.status_code == 201, response.text
    task: JSON = response.json()
    return task


async def _spawn(client: httpx.AsyncClient, project: JSON, task_id: str | None) -> httpx.Response:
    """What the spawn dialog sends."""
    body: JSON = {
        "agent_id": "dev",
        "project_id": project["id"],
        "session_type": "specialist",
        "context": {"description": "Build it", "project_path": project["path"]},
    }
    if task_id is not None:
        body["task_id"] = task_id
    return await client.post("/api/v1/sessions", json=body)


async def _assert_not_found(
    client: httpx.AsyncClient, url: str, calls: tuple[tuple[str, JSON], ...]
) -> None:
    for method, kwargs in calls:
        response = await client.request(method, url, **kwargs)
        assert response.status_code == 404, method
        assert "not found" in _detail(response)


def _detail(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"detail"}
    detail: str = body["detail"]
    return detail


async def test_the_new_task_dialog_creates_an_open_task(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    response = await client.post(
        f"/api/v1/projects/{project['id']}/tasks",
        json={"name": "Checkout page", "description": "Card payments", "ignored": True},
    )
    assert response.status_code == 201
    task = response.json()
    assert set(task) == TASK_KEYS
    assert (task["name"], task["description"], task["status"]) == (
        "Checkout page",
        "Card payments",
        "open",
    )
    assert task["project_id"] == project["id"]
    assert (await client.get(f"/api/v1/tasks/{task['id']}")).json() == task


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "   "}, {"name": "n" * 256}, {}])
async def test_a_bad_or_blank_name_is_a_422_with_a_detail(
    client: httpx.AsyncClient, database: Database, body: JSON
) -> None:
    project = await _project(client, database)
    response = await client.post(f"/api/v1/projects/{project['id']}/tasks", json=body)
    assert response.status_code == 422
    assert "name" in _detail(response)


@pytest.mark.parametrize("project_id", ["4f9c2d1e-0000-4000-8000-000000000404", "not-a-uuid"])
async def test_an_unknown_project_is_a_404_that_says_not_found(
    client: httpx.AsyncClient, project_id: str
) -> None:
    calls: tuple[tuple[str, JSON], ...] = (("POST", {"json": {"name": "A"}}), ("GET", {}))
    await _assert_not_found(client, f"/api/v1/projects/{project_id}/tasks", calls)


async def test_the_board_lists_tasks_oldest_first_without_deleted_ones(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    empty = await client.get(f"/api/v1/projects/{project['id']}/tasks")
    assert (empty.status_code, empty.json()) == (200, [])
    names = ["One", "Two", "Three"]
    created = [await _new_task(client, project["id"], name=name) for name in names]
    deleted = await client.delete(f"/api/v1/tasks/{created[1]['id']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    listed = (await client.get(f"/api/v1/projects/{project['id']}/tasks")).json()
    assert [task["name"] for task in listed] == ["One", "Three"]
    assert all(set(task) == TASK_KEYS for task in listed)


async def test_a_drag_sends_the_status_and_null_keeps_the_other_fields(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    task = await _new_task(client, project["id"], description="Keep me")
    url = f"/api/v1/tasks/{task['id']}"
    dragged = await client.patch(url, json={"status": "in_progress"})
    assert dragged.status_code == 200
    assert dragged.json()["status"] == "in_progress"
    kept = await client.patch(url, json={"name": None, "description": None, "status": "done"})
    assert (kept.json()["name"], kept.json()["description"], kept.json()["status"]) == (
        "Checkout",
        "Keep me",
        "done",
    )
    cleared = await client.patch(url, json={"description": ""})
    assert cleared.json()["description"] is None


@pytest.mark.parametrize(
    "body", [{"status": "doing"}, {"status": "Done"}, {"status": 3}, {"name": " "}]
)
async def test_an_unknown_status_or_blank_name_is_a_422_not_a_500(
    client: httpx.AsyncClient, database: Database, body: JSON
) -> None:
    project = await _project(client, database)
    task = await _new_task(client, project["id"])
    response = await client.patch(f"/api/v1/tasks/{task['id']}", json=body)
    assert response.status_code == 422
    assert _detail(response)
    assert (await client.get(f"/api/v1/tasks/{task['id']}")).json() == task


async def test_unknown_tasks_are_a_404_that_says_not_found(client: httpx.AsyncClient) -> None:
    calls: tuple[tuple[str, JSON], ...] = (
        ("GET", {}),
        ("PATCH", {"json": {"status": "done"}}),
        ("DELETE", {}),
    )
    await _assert_not_found(client, f"/api/v1/tasks/{uuid.uuid4()}", calls)


async def test_every_session_shape_carries_its_task(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    task = await _new_task(client, project["id"])
    spawned = await _spawn(client, project, task["id"])
    assert spawned.status_code == 201
    assert spawned.json()["task_id"] == task["id"]
    plain = (await _spawn(client, project, None)).json()
    assert plain["task_id"] is None
    one = (await client.get(f"/api/v1/sessions/{spawned.json()['id']}")).json()
    assert one["task_id"] == task["id"]
    listed = (await client.get("/api/v1/sessions", params={"project_id": project["id"]})).json()
    assert {session["id"]: session["task_id"] for session in listed} == {
        project["pm_session_id"]: None,
        spawned.json()["id"]: task["id"],
        plain["id"]: None,
    }
    launched = await client.post(
        "/api/v1/sessions/launch", json={"role": "skill_assistant", "session_description": "x"}
    )
    assert launched.json()["task_id"] is None


async def test_spawning_with_a_task_of_another_project_or_a_deleted_one_is_a_422(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    other = await _project(client, database, "Other board")
    foreign = await _new_task(client, other["id"])
    deleted = await _new_task(client, project["id"])
    await client.delete(f"/api/v1/tasks/{deleted['id']}")
    for task_id in (foreign["id"], deleted["id"], str(uuid.uuid4())):
        response = await _spawn(client, project, task_id)
        assert response.status_code == 422
        assert "task" in _detail(response)


async def test_deleting_a_task_moves_its_sessions_to_the_unassigned_strip(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    task = await _new_task(client, project["id"])
    session = (await _spawn(client, project, task["id"])).json()
    assert (await client.delete(f"/api/v1/tasks/{task['id']}")).status_code == 204
    listed = (await client.get("/api/v1/sessions", params={"project_id": project["id"]})).json()
    unassigned = [
        item["id"] for item in listed if item["session_type"] != "pm" and not item["task_id"]
    ]
    assert unassigned == [session["id"]]
    assert (await client.get(f"/api/v1/tasks/{task['id']}")).status_code == 404
