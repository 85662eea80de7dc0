"""v2 tasks: CRUD in envelopes, validation, binding sessions, unbinding on delete, the
session filter, activity rows and ``task_changed`` events."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.application.dtos.tasks import TaskUpdate
from kumiai.application.ports.events import SessionEvent
from kumiai.application.services import tasks as task_service
from kumiai.composition import Container
from kumiai.core.exceptions import NotFoundError
from kumiai.domain.value_objects import TaskStatus
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork
from tests.factories.projects import create_project, create_session, make_character, walk_pages
from tests.factories.tasks import bound_session, create_task

JSON = dict[str, Any]


def _error(response: httpx.Response) -> JSON:
    error: JSON = response.json()["error"]
    return error


async def _project(client: httpx.AsyncClient, database: Database, name: str = "Apollo") -> JSON:
    """A project with ``dev`` on its team and ``lead`` as PM (so it has a PM session)."""
    for slug in ("dev", "lead"):
        if not await _character_exists(database, slug):
            await make_character(database, slug)
    return await create_project(client, name, team_character_ids=["dev"], pm_character_id="lead")


async def _character_exists(database: Database, slug: str) -> bool:
    async with SqlUnitOfWork(database.session_factory) as uow:
        return await uow.characters.get_by_slug(slug) is not None


def _task_events(container: Container, session_id: str) -> list[SessionEvent]:
    log = container.events.log(UUID(session_id))
    return [event for event in log.subscribe(0, 100).ready() if event.type == "task_changed"]


# --- create, read, list -------------------------------------------------------------------------


async def test_a_new_task_is_open_and_answered_201_in_the_envelope(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    response = await client.post(
        f"/api/v2/projects/{project['id']}/tasks",
        json={"name": "  Checkout page  ", "description": "Card and PayPal"},
    )
    assert response.status_code == 201
    task = response.json()["data"]
    assert set(task) == {
        "id",
        "project_id",
        "name",
        "description",
        "status",
        "created_at",
        "updated_at",
    }
    assert (task["project_id"], task["name"], task["status"]) == (
        project["id"],
        "Checkout page",
        "open",
    )
    fetched = await client.get(f"/api/v2/tasks/{task['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["data"] == task


async def test_a_task_of_an_unknown_or_deleted_project_is_a_404(
    client: httpx.AsyncClient, database: Database
) -> None:
    unknown = await client.post(f"/api/v2/projects/{uuid.uuid4()}/tasks", json={"name": "A"})
    assert unknown.status_code == 404
    assert _error(unknown)["details"]["resource"] == "project"
    project = await _project(client, database)
    assert (await client.delete(f"/api/v2/projects/{project['id']}")).status_code == 204
    deleted = await client.post(f"/api/v2/projects/{project['id']}/tasks", json={"name": "A"})
    assert deleted.status_code == 404
    assert (await client.get(f"/api/v2/projects/{project['id']}/tasks")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({}, "name"),
        ({"name": "A", "status": "done"}, "status"),
        ({"name": "A", "description": 7}, "description"),
    ],
)
async def test_a_bad_task_is_a_422_naming_the_field(
    client: httpx.AsyncClient, database: Database, body: JSON, field: str
) -> None:
    project = await _project(client, database)
    response = await client.post(f"/api/v2/projects/{project['id']}/tasks", json=body)
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "validation_error"
    named = [entry["loc"][-1] for entry in error["details"].get("errors", [])]
    assert field in named or error["details"].get("field") == field


async def test_the_list_is_oldest_first_without_deleted_tasks_and_filters_by_status(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    other = await _project(client, database, "Other")
    first = await create_task(client, project["id"], "First")
    second = await create_task(client, project["id"], "Second")
    third = await create_task(client, project["id"], "Third")
    await create_task(client, other["id"], "Elsewhere")
    await client.patch(f"/api/v2/tasks/{second['id']}", json={"status": "done"})
    assert (await client.delete(f"/api/v2/tasks/{third['id']}")).status_code == 204

    listed = await client.get(f"/api/v2/projects/{project['id']}/tasks", params={"total": "true"})
    assert listed.status_code == 200
    body = listed.json()
    assert [task["name"] for task in body["data"]] == ["First", "Second"]
    assert body["meta"]["total"] == 2
    done = await client.get(f"/api/v2/projects/{project['id']}/tasks", params={"status": "done"})
    assert [task["id"] for task in done.json()["data"]] == [second["id"]]
    assert first["id"] not in [task["id"] for task in done.json()["data"]]
    bad = await client.get(f"/api/v2/projects/{project['id']}/tasks", params={"status": "doing"})
    assert bad.status_code == 422


async def test_the_list_pages_by_cursor_without_duplicates_or_holes(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    names = [f"Task {number}" for number in range(5)]
    for name in names:
        await create_task(client, project["id"], name)
    added: list[str] = []

    async def add_one() -> None:
        added.append((await create_task(client, project["id"], f"Late {len(added)}"))["name"])

    pages = await walk_pages(
        client, f"/api/v2/projects/{project['id']}/tasks", {"limit": 2}, add_one
    )
    seen = [task["name"] for page in pages for task in page]
    assert seen[:5] == names
    assert len(seen) == len(set(seen))
    assert seen == names + added[: len(seen) - 5]


async def test_unknown_and_deleted_tasks_are_a_404(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    task = await create_task(client, project["id"], "Gone soon")
    assert (await client.delete(f"/api/v2/tasks/{task['id']}")).status_code == 204
    for method in ("GET", "PATCH", "DELETE"):
        for task_id in (task["id"], str(uuid.uuid4())):
            kwargs: JSON = {"json": {"status": "done"}} if method == "PATCH" else {}
            response = await client.request(method, f"/api/v2/tasks/{task_id}", **kwargs)
            assert response.status_code == 404, (method, task_id)
            assert _error(response)["details"]["resource"] == "task"
    assert (await client.get("/api/v2/tasks/not-a-uuid")).status_code == 422


# --- update -------------------------------------------------------------------------------------


async def test_patch_changes_only_the_fields_present(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    task = await create_task(client, project["id"], "Draft", description="Old words")
    url = f"/api/v2/tasks/{task['id']}"

    moved = await client.patch(url, json={"status": "in_progress"})
    assert moved.status_code == 200
    assert moved.json()["data"]["status"] == "in_progress"
    assert moved.json()["data"]["description"] == "Old words"
    assert moved.json()["data"]["updated_at"] > task["updated_at"]

    renamed = (await client.patch(url, json={"name": " Final ", "description": None})).json()
    assert (renamed["data"]["name"], renamed["data"]["description"]) == ("Final", None)
    assert renamed["data"]["status"] == "in_progress"


@pytest.mark.parametrize("status", ["open", "in_progress", "done", "archived"])
async def test_any_status_may_follow_any_other(
    client: httpx.AsyncClient, database: Database, status: str
) -> None:
    project = await _project(client, database)
    task = await create_task(client, project["id"], "Roam")
    for step in ("archived", "done", status, "open", status):
        response = await client.patch(f"/api/v2/tasks/{task['id']}", json={"status": step})
        assert response.status_code == 200
        assert response.json()["data"]["status"] == step


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "doing"}, "status"),
        ({"status": "DONE"}, "status"),
        ({"status": None}, "status"),
        ({"name": None}, "name"),
        ({"name": " "}, "name"),
        ({"name": "y" * 256}, "name"),
        ({"project_id": "4f9c2d1e-0000-4000-8000-000000000404"}, "project_id"),
    ],
)
async def test_a_bad_patch_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, body: JSON, field: str
) -> None:
    project = await _project(client, database)
    task = await create_task(client, project["id"], "Stable")
    response = await client.patch(f"/api/v2/tasks/{task['id']}", json=body)
    assert response.status_code == 422
    error = _error(response)
    named = [entry["loc"][-1] for entry in error["details"].get("errors", [])]
    assert field in named or error["details"].get("field") == field
    assert (await client.get(f"/api/v2/tasks/{task['id']}")).json()["data"] == task


# --- binding sessions ---------------------------------------------------------------------------


async def test_a_session_is_bound_to_a_task_of_its_project_at_creation(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    task = await create_task(client, project["id"], "Bind me")
    session = await bound_session(client, project, task)
    assert session["task_id"] == task["id"]
    fetched = (await client.get(f"/api/v2/sessions/{session['id']}")).json()["data"]
    assert fetched["task_id"] == task["id"]
    unbound = await create_session(
        client, "specialist", character_id="dev", project_id=project["id"]
    )
    assert unbound["task_id"] is None


async def test_binding_to_an_unknown_deleted_or_foreign_task_is_a_422_naming_task_id(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    other = await _project(client, database, "Other")
    foreign = await create_task(client, other["id"], "Not yours")
    deleted = await create_task(client, project["id"], "Deleted")
    await client.delete(f"/api/v2/tasks/{deleted['id']}")
    for task_id in (str(uuid.uuid4()), deleted["id"], foreign["id"]):
        response = await client.post(
            "/api/v2/sessions",
            json={
                "session_type": "specialist",
                "character_id": "dev",
                "project_id": project["id"],
                "task_id": task_id,
            },
        )
        assert response.status_code == 422, task_id
        assert _error(response)["details"]["field"] == "task_id"
    without_project = await client.post(
        "/api/v2/sessions", json={"session_type": "assistant", "task_id": foreign["id"]}
    )
    assert without_project.status_code == 422
    assert _error(without_project)["details"]["field"] == "task_id"
    listed = await client.get("/api/v2/sessions", params={"project_id": project["id"]})
    assert [session["session_type"] for session in listed.json()["data"]] == ["pm"]


async def test_nothing_changes_a_session_task_after_creation(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    first = await create_task(client, project["id"], "First")
    second = await create_task(client, project["id"], "Second")
    session = await bound_session(client, project, first)
    response = await client.patch(
        f"/api/v2/sessions/{session['id']}", json={"task_id": second["id"]}
    )
    assert response.status_code == 422
    fetched = (await client.get(f"/api/v2/sessions/{session['id']}")).json()["data"]
    assert fetched["task_id"] == first["id"]


async def test_sessions_filter_by_task(client: httpx.AsyncClient, database: Database) -> None:
    project = await _project(client, database)
    first = await create_task(client, project["id"], "First")
    second = await create_task(client, project["id"], "Second")
    wanted = [(await bound_session(client, project, first))["id"] for _ in range(2)]
    await bound_session(client, project, second)
    response = await client.get("/api/v2/sessions", params={"task_id": first["id"]})
    assert response.status_code == 200
    assert [session["id"] for session in response.json()["data"]] == wanted
    nothing = await client.get("/api/v2/sessions", params={"task_id": str(uuid.uuid4())})
    assert nothing.json()["data"] == []
    assert (await client.get("/api/v2/sessions", params={"task_id": "x"})).status_code == 422


# --- delete -------------------------------------------------------------------------------------


async def test_deleting_a_task_unbinds_every_session_pointing_at_it(
    client: httpx.AsyncClient, database: Database, connection: AsyncConnection
) -> None:
    project = await _project(client, database)
    task = await create_task(client, project["id"], "Doomed")
    keep = await create_task(client, project["id"], "Kept")
    live = await bound_session(client, project, task)
    retired = await bound_session(client, project, task)
    assert (await client.delete(f"/api/v2/sessions/{retired['id']}")).status_code == 204
    untouched = await bound_session(client, project, keep)

    response = await client.delete(f"/api/v2/tasks/{task['id']}")
    assert response.status_code == 204
    assert response.content == b""

    pointing = await connection.scalar(
        sa.text("SELECT count(*) FROM sessions WHERE task_id = :t"), {"t": task["id"]}
    )
    assert pointing == 0
    fetched = (await client.get(f"/api/v2/sessions/{live['id']}")).json()["data"]
    assert fetched["task_id"] is None
    still = (await client.get(f"/api/v2/sessions/{untouched['id']}")).json()["data"]
    assert still["task_id"] == keep["id"]
    listed = await client.get(f"/api/v2/projects/{project['id']}/tasks")
    assert [item["id"] for item in listed.json()["data"]] == [keep["id"]]


async def test_a_failed_delete_leaves_the_task_and_its_sessions_bound(
    client: httpx.AsyncClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unbinding and deleting are one transaction: a failure after the unbind undoes it."""
    project = await _project(client, database)
    task = await create_task(client, project["id"], "Sturdy")
    session = await bound_session(client, project, task)

    async def broken_activity(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the activity log is broken")

    monkeypatch.setattr(task_service, "record_activity", broken_activity)
    response = await client.delete(f"/api/v2/tasks/{task['id']}")
    monkeypatch.undo()
    assert response.status_code == 500

    assert (await client.get(f"/api/v2/tasks/{task['id']}")).status_code == 200
    fetched = (await client.get(f"/api/v2/sessions/{session['id']}")).json()["data"]
    assert fetched["task_id"] == task["id"]


async def test_deleting_a_project_deletes_its_tasks_and_unbinds_their_sessions(
    client: httpx.AsyncClient, database: Database, connection: AsyncConnection
) -> None:
    project = await _project(client, database)
    task = await create_task(client, project["id"], "With the project")
    await bound_session(client, project, task)
    assert (await client.delete(f"/api/v2/projects/{project['id']}")).status_code == 204
    assert (await client.get(f"/api/v2/tasks/{task['id']}")).status_code == 404
    pointing = await connection.scalar(
        sa.text("SELECT count(*) FROM sessions WHERE task_id = :t"), {"t": task["id"]}
    )
    assert pointing == 0


async def test_deleting_a_project_for_good_takes_its_tasks_and_bound_sessions(
    client: httpx.AsyncClient, database: Database, connection: AsyncConnection
) -> None:
    project = await _project(client, database)
    task = await create_task(client, project["id"], "Bound")
    await bound_session(client, project, task)
    response = await client.delete(f"/api/v2/projects/{project['id']}/permanent")
    assert response.status_code == 204
    remaining = await connection.scalar(
        sa.text("SELECT count(*) FROM tasks WHERE project_id = :p"), {"p": project["id"]}
    )
    assert remaining == 0


# --- activity and events ------------------------------------------------------------------------


async def test_every_task_change_writes_an_activity_row(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    task = await create_task(client, project["id"], "Logged")
    session = await bound_session(client, project, task)
    await client.patch(f"/api/v2/tasks/{task['id']}", json={"status": "done", "name": "Logged"})
    await client.patch(f"/api/v2/tasks/{task['id']}", json={"status": "done"})  # no change
    await client.delete(f"/api/v2/tasks/{task['id']}")

    response = await client.get("/api/v2/activity", params={"project_id": project["id"]})
    rows = [row for row in response.json()["data"] if row["event_type"].startswith("task_")]
    assert [row["event_type"] for row in rows] == ["task_deleted", "task_updated", "task_created"]
    deleted, updated, created = (row["event_data"] for row in rows)
    assert created == {"task_id": task["id"], "name": "Logged", "status": "open"}
    assert updated == {"task_id": task["id"], "fields": ["status"], "status": "done"}
    assert deleted == {
        "task_id": task["id"],
        "name": "Logged",
        "unbound_session_ids": [session["id"]],
    }
    assert all(row["project_id"] == project["id"] for row in rows)
    by_type = await client.get("/api/v2/activity", params={"event_type": "task_updated"})
    assert [row["event_data"]["task_id"] for row in by_type.json()["data"]] == [task["id"]]


async def test_task_changed_reaches_the_pm_session_and_the_bound_sessions(
    client: httpx.AsyncClient, database: Database, container: Container
) -> None:
    project = await _project(client, database)
    pm = project["pm_session_id"]
    task = await create_task(client, project["id"], "Announced")
    session = await bound_session(client, project, task)
    bystander = await create_session(
        client, "specialist", character_id="dev", project_id=project["id"]
    )
    await client.patch(f"/api/v2/tasks/{task['id']}", json={"status": "in_progress"})
    await client.patch(f"/api/v2/tasks/{task['id']}", json={"status": "in_progress"})  # same
    await client.delete(f"/api/v2/tasks/{task['id']}")

    on_pm = _task_events(container, pm)
    assert [event.data["change"] for event in on_pm] == ["created", "updated", "deleted"]
    on_bound = _task_events(container, session["id"])
    assert [event.data["change"] for event in on_bound] == ["updated", "deleted"]
    assert _task_events(container, bystander["id"]) == []

    updated, deleted = on_bound
    assert updated.data["task_id"] == task["id"]
    assert updated.data["project_id"] == project["id"]
    assert updated.data["fields"] == ["status"]
    assert updated.data["task"]["status"] == "in_progress"
    assert deleted.data["unbound_session_ids"] == [session["id"]]
    assert on_pm[0].data["task"] == task


async def test_a_failed_change_announces_nothing(
    client: httpx.AsyncClient, database: Database, container: Container
) -> None:
    project = await _project(client, database)
    task = await create_task(client, project["id"], "Quiet")
    await client.patch(f"/api/v2/tasks/{task['id']}", json={"status": "doing"})
    await client.patch(f"/api/v2/tasks/{task['id']}", json={"name": ""})
    assert [e.data["change"] for e in _task_events(container, project["pm_session_id"])] == [
        "created"
    ]


# --- the helpers the PM's tools and auto-progress use --------------------------------------------


async def test_start_if_open_moves_an_open_task_once_and_announces_it(
    client: httpx.AsyncClient, database: Database, container: Container
) -> None:
    project = await _project(client, database)
    task = await create_task(client, project["id"], "Auto")
    session = await bound_session(client, project, task)
    async with SqlUnitOfWork(database.session_factory) as uow:
        change = await task_service.start_if_open(uow, UUID(task["id"]))
        again = await task_service.start_if_open(uow, UUID(task["id"]))
        await uow.commit()
    assert change is not None
    assert again is None
    assert change.recipients == [UUID(project["pm_session_id"]), UUID(session["id"])]
    task_service.TaskEvents(container.events).publish(change)
    (event,) = _task_events(container, session["id"])
    assert event.data["task"]["status"] == "in_progress"
    fetched = (await client.get(f"/api/v2/tasks/{task['id']}")).json()["data"]
    assert fetched["status"] == "in_progress"
    activity = await client.get("/api/v2/activity", params={"event_type": "task_updated"})
    assert activity.json()["data"][0]["event_data"]["automatic"] is True


async def test_start_if_open_leaves_done_and_deleted_tasks_alone(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _project(client, database)
    done = await create_task(client, project["id"], "Done already")
    await client.patch(f"/api/v2/tasks/{done['id']}", json={"status": "done"})
    gone = await create_task(client, project["id"], "Gone")
    await client.delete(f"/api/v2/tasks/{gone['id']}")
    async with SqlUnitOfWork(database.session_factory) as uow:
        assert await task_service.start_if_open(uow, UUID(done["id"])) is None
        assert await task_service.start_if_open(uow, UUID(gone["id"])) is None
    fetched = (await client.get(f"/api/v2/tasks/{done['id']}")).json()["data"]
    assert fetched["status"] == "done"


async def test_the_project_scoped_lookups_hide_other_projects_tasks(
    client: httpx.AsyncClient, database: Database, container: Container
) -> None:
    project = await _project(client, database)
    other = await _project(client, database, "Other")
    theirs = await create_task(client, other["id"], "Theirs")
    ours = await create_task(client, project["id"], "Ours")
    scope = UUID(project["id"])
    assert (await container.tasks.get(UUID(ours["id"]), project_id=scope)).name == "Ours"
    with pytest.raises(NotFoundError):
        await container.tasks.get(UUID(theirs["id"]), project_id=scope)
    with pytest.raises(NotFoundError):
        await container.tasks.update(
            UUID(theirs["id"]), TaskUpdate(status=TaskStatus.DONE), project_id=scope
        )
    fetched = (await client.get(f"/api/v2/tasks/{theirs['id']}")).json()["data"]
    assert fetched["status"] == "open"
