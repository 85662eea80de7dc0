from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from kumiai.infrastructure.database.engine import Database
from tests.factories.projects import create_project, create_session, make_character, walk_pages

SESSIONS = "/api/v2/sessions"


def _error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


async def _team_project(client: httpx.AsyncClient, database: Database) -> dict[str, Any]:
    """A project with ``dev`` on its team, ``lead`` as PM, and ``outsider`` elsewhere."""
    for slug in ("dev", "lead", "outsider"):
        await make_character(database, slug)
    return await create_project(client, team_character_ids=["dev"], pm_character_id="lead")


# --- create -------------------------------------------------------------------------------------


async def test_an_assistant_session_needs_no_character_or_project(
    client: httpx.AsyncClient,
) -> None:
    context = {"description": "Help me", "kanban_stage": "active", "extra": {"nested": [1, 2]}}
    session = await create_session(client, "assistant", context=context)
    assert session["status"] == "idle"
    assert session["character_id"] is None
    assert session["project_id"] is None
    assert session["context"] == context
    assert session["description"] == "Help me"
    assert session["kanban_stage"] == "active"


async def test_a_specialist_on_the_team_is_created_by_slug_or_id(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _team_project(client, database)
    by_slug = await create_session(
        client, "specialist", character_id="dev", project_id=project["id"]
    )
    assert by_slug["character_id"] == project["team_character_ids"][0]
    by_id = await create_session(
        client, "specialist", character_id=by_slug["character_id"], project_id=project["id"]
    )
    assert by_id["session_type"] == "specialist"


async def test_the_pm_counts_as_a_team_member_for_specialists(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _team_project(client, database)
    session = await create_session(
        client, "specialist", character_id="lead", project_id=project["id"]
    )
    assert session["character_id"] == project["pm_character_id"]


async def test_a_specialist_outside_the_team_is_a_422(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _team_project(client, database)
    response = await client.post(
        SESSIONS,
        json={
            "session_type": "specialist",
            "character_id": "outsider",
            "project_id": project["id"],
        },
    )
    assert response.status_code == 422
    assert _error(response)["details"]["field"] == "character_id"


@pytest.mark.parametrize(
    "body",
    [
        {"session_type": "specialist", "character_id": "dev"},
        {"session_type": "pm", "character_id": "dev"},
        {"session_type": "pm", "project_id": "PROJECT"},
        {"session_type": "specialist", "character_id": "ghost", "project_id": "PROJECT"},
        {"session_type": "specialist", "character_id": "dev", "project_id": str(uuid.uuid4())},
        {"session_type": "robot"},
        {"session_type": "assistant", "context": {"kanban_stage": "someday"}},
        {"session_type": "assistant", "context": {"description": 42}},
        {"session_type": "assistant", "context": ["not", "an", "object"]},
        {"session_type": "assistant", "status": "idle"},
    ],
)
async def test_invalid_sessions_are_a_422(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any]
) -> None:
    project = await _team_project(client, database)
    if body.get("project_id") == "PROJECT":
        body = {**body, "project_id": project["id"]}
    response = await client.post(SESSIONS, json=body)
    assert response.status_code == 422, response.text
    assert _error(response)["code"] == "validation_error"


async def test_a_pm_session_becomes_the_pm_of_a_project_without_one(
    client: httpx.AsyncClient, database: Database
) -> None:
    lead = await make_character(database, "lead")
    project = await create_project(client)
    session = await create_session(client, "pm", character_id="lead", project_id=project["id"])
    updated = (await client.get(f"/api/v2/projects/{project['id']}")).json()["data"]
    assert updated["pm_session_id"] == session["id"]
    assert updated["pm_character_id"] == str(lead)


async def test_a_second_pm_session_is_a_409(client: httpx.AsyncClient, database: Database) -> None:
    project = await _team_project(client, database)
    response = await client.post(
        SESSIONS, json={"session_type": "pm", "character_id": "dev", "project_id": project["id"]}
    )
    assert response.status_code == 409
    assert _error(response)["details"]["pm_session_id"] == project["pm_session_id"]


# --- read and list ------------------------------------------------------------------------------


async def test_get_returns_the_session_and_unknown_ids_are_a_404(
    client: httpx.AsyncClient,
) -> None:
    session = await create_session(client)
    assert (await client.get(f"{SESSIONS}/{session['id']}")).json()["data"] == session
    missing = await client.get(f"{SESSIONS}/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert (await client.get(f"{SESSIONS}/nope")).status_code == 422


async def test_listing_filters(client: httpx.AsyncClient, database: Database) -> None:
    project = await _team_project(client, database)
    specialist = await create_session(
        client, "specialist", character_id="dev", project_id=project["id"]
    )
    assistant = await create_session(client, "assistant")
    await client.post(f"{SESSIONS}/{assistant['id']}/cancel")

    async def ids(**params: str) -> list[str]:
        response = await client.get(SESSIONS, params=params)
        assert response.status_code == 200, response.text
        return [session["id"] for session in response.json()["data"]]

    pm = project["pm_session_id"]
    assert await ids() == [pm, specialist["id"], assistant["id"]]
    assert await ids(project_id=project["id"]) == [pm, specialist["id"]]
    assert await ids(status="cancelled") == [assistant["id"]]
    assert await ids(session_type="specialist") == [specialist["id"]]
    assert await ids(character_id=specialist["character_id"]) == [specialist["id"]]
    assert await ids(project_id=project["id"], status="idle", session_type="pm") == [pm]


@pytest.mark.parametrize(
    "params", [{"status": "sleeping"}, {"session_type": "robot"}, {"project_id": "x"}]
)
async def test_invalid_filters_are_a_422(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    assert (await client.get(SESSIONS, params=params)).status_code == 422


async def test_listing_pages_without_duplicates_or_holes_while_sessions_are_added(
    client: httpx.AsyncClient,
) -> None:
    existing = [(await create_session(client))["id"] for _ in range(7)]
    added: list[str] = []

    async def add_one() -> None:
        added.append((await create_session(client))["id"])

    pages = await walk_pages(client, SESSIONS, {"limit": 3}, between_pages=add_one)
    seen = [session["id"] for page in pages for session in page]
    assert len(pages) > 2
    assert len(seen) == len(set(seen))
    assert seen == existing + added


# --- update -------------------------------------------------------------------------------------


async def test_patch_replaces_context_and_moves_the_kanban_stage(
    client: httpx.AsyncClient,
) -> None:
    session = await create_session(client, context={"description": "a", "kanban_stage": "backlog"})
    url = f"{SESSIONS}/{session['id']}"
    moved = (await client.patch(url, json={"kanban_stage": "done"})).json()["data"]
    assert moved["context"] == {"description": "a", "kanban_stage": "done"}
    assert moved["kanban_stage"] == "done"

    replaced = (await client.patch(url, json={"context": {"task_description": "b"}})).json()
    assert replaced["data"]["context"] == {"task_description": "b"}
    assert replaced["data"]["description"] == "b"

    both = await client.patch(url, json={"context": {"x": 1}, "kanban_stage": "waiting"})
    assert both.json()["data"]["context"] == {"x": 1, "kanban_stage": "waiting"}
    cleared = await client.patch(url, json={"context": None})
    assert cleared.json()["data"]["context"] == {}


async def test_every_patch_is_recorded_in_the_activity_log(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    await client.patch(f"{SESSIONS}/{session['id']}", json={"kanban_stage": "active"})
    activity = await client.get(
        "/api/v2/activity", params={"session_id": session["id"], "event_type": "session_updated"}
    )
    (entry,) = activity.json()["data"]
    assert entry["event_data"]["fields"] == ["kanban_stage"]


@pytest.mark.parametrize(
    "body", [{"kanban_stage": "someday"}, {"status": "idle"}, {"context": {"kanban_stage": 3}}]
)
async def test_invalid_patches_are_a_422(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    session = await create_session(client)
    assert (await client.patch(f"{SESSIONS}/{session['id']}", json=body)).status_code == 422


async def test_patch_of_an_unknown_session_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.patch(f"{SESSIONS}/{uuid.uuid4()}", json={"kanban_stage": "done"})
    assert response.status_code == 404


# --- cancel and resume --------------------------------------------------------------------------


async def test_cancel_then_resume(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    cancelled = await client.post(f"{SESSIONS}/{session['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["data"]["status"] == "cancelled"
    resumed = await client.post(f"{SESSIONS}/{session['id']}/resume")
    assert resumed.status_code == 200
    assert resumed.json()["data"]["status"] == "idle"


async def test_an_invalid_move_is_a_409_with_the_current_status_and_allowed_moves(
    client: httpx.AsyncClient,
) -> None:
    session = await create_session(client)
    resume = await client.post(f"{SESSIONS}/{session['id']}/resume")
    assert resume.status_code == 409
    assert _error(resume)["code"] == "invalid_transition"
    assert _error(resume)["details"] == {
        "current_status": "idle",
        "requested": "idle",
        "allowed": ["cancelled", "completed", "error", "thinking"],
    }

    await client.post(f"{SESSIONS}/{session['id']}/cancel")
    cancel = await client.post(f"{SESSIONS}/{session['id']}/cancel")
    assert cancel.status_code == 409
    assert _error(cancel)["details"]["current_status"] == "cancelled"
    assert _error(cancel)["details"]["allowed"] == ["idle"]


@pytest.mark.parametrize("action", ["cancel", "resume"])
async def test_moving_an_unknown_session_is_a_404(client: httpx.AsyncClient, action: str) -> None:
    assert (await client.post(f"{SESSIONS}/{uuid.uuid4()}/{action}")).status_code == 404


# --- delete -------------------------------------------------------------------------------------


async def test_delete_stops_and_hides_the_session(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    response = await client.delete(f"{SESSIONS}/{session['id']}")
    assert response.status_code == 204
    assert (await client.get(f"{SESSIONS}/{session['id']}")).status_code == 404
    assert (await client.get(SESSIONS)).json()["data"] == []
    assert (await client.delete(f"{SESSIONS}/{session['id']}")).status_code == 404
    assert (await client.post(f"{SESSIONS}/{session['id']}/resume")).status_code == 404
    activity = await client.get("/api/v2/activity", params={"session_id": session["id"]})
    events = [entry["event_type"] for entry in activity.json()["data"]]
    assert events == ["session_deleted", "session_cancelled", "session_created"]


async def test_deleting_the_pm_session_clears_the_projects_pm(
    client: httpx.AsyncClient, database: Database
) -> None:
    project = await _team_project(client, database)
    assert (await client.delete(f"{SESSIONS}/{project['pm_session_id']}")).status_code == 204
    updated = (await client.get(f"/api/v2/projects/{project['id']}")).json()["data"]
    assert updated["pm_character_id"] is None
    assert updated["pm_session_id"] is None
    # The project can get a new PM session right away.
    await create_session(client, "pm", character_id="lead", project_id=project["id"])


async def test_deleting_an_unknown_session_is_a_404(client: httpx.AsyncClient) -> None:
    assert (await client.delete(f"{SESSIONS}/{uuid.uuid4()}")).status_code == 404


async def test_an_idle_session_can_be_completed_and_resumed(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    url = f"{SESSIONS}/{session['id']}"
    completed = await client.post(f"{url}/complete")
    assert completed.json()["data"]["status"] == "completed"
    again = await client.post(f"{url}/complete")
    assert again.status_code == 409
    assert again.json()["error"]["details"]["current_status"] == "completed"
    assert (await client.post(f"{url}/resume")).json()["data"]["status"] == "idle"
