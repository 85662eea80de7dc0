"""A client cannot point an agent's tools at a folder of its choosing (issue 9, section 3)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from kumiai.core.config import Settings
from tests.factories.projects import create_project, create_session

OUTSIDE = ["/", "/etc", "relative/folder", "{home}/projects", "{home}/workspace/../.."]


def _v2_refusal(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["details"]["field"] == "context.project_path"
    assert "must be an absolute folder inside" in error["message"]


@pytest.mark.parametrize("outside", OUTSIDE)
async def test_a_v2_session_with_a_folder_outside_the_servers_is_a_422(
    client: httpx.AsyncClient, settings: Settings, outside: str
) -> None:
    folder = outside.format(home=settings.home)
    response = await client.post(
        "/api/v2/sessions",
        json={"session_type": "assistant", "context": {"project_path": folder}},
    )
    _v2_refusal(response)


async def test_a_v2_session_may_work_in_a_folder_of_the_workspace(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    folder = str(settings.home / "workspace" / "notes")
    session = await create_session(client, context={"project_path": folder})
    assert session["context"]["project_path"] == folder


async def test_a_v2_patch_cannot_move_a_session_outside(client: httpx.AsyncClient) -> None:
    session = await create_session(client)
    response = await client.patch(
        f"/api/v2/sessions/{session['id']}", json={"context": {"project_path": "/root"}}
    )
    _v2_refusal(response)
    stored = (await client.get(f"/api/v2/sessions/{session['id']}")).json()["data"]
    assert "project_path" not in stored["context"]


async def test_a_project_session_may_name_its_projects_folder(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    project = await create_project(client, path=str(tmp_path / "apollo"))
    inside = await client.post(
        "/api/v2/sessions",
        json={
            "session_type": "assistant",
            "project_id": project["id"],
            "context": {"project_path": project["path"]},
        },
    )
    assert inside.status_code == 201, inside.text
    outside = await client.post(
        "/api/v2/sessions",
        json={
            "session_type": "assistant",
            "project_id": project["id"],
            "context": {"project_path": str(tmp_path)},
        },
    )
    _v2_refusal(outside)


def _launch(project_path: str) -> dict[str, object]:
    return {
        "team_member_ids": [],
        "project_path": project_path,
        "session_description": "helper",
        "role": "skill_assistant",
        "auto_start": False,
    }


async def test_a_v1_launch_outside_the_servers_folders_is_a_422(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/v1/sessions/launch", json=_launch("/etc"))
    assert response.status_code == 422
    assert "must be an absolute folder inside" in response.json()["detail"]


async def test_a_v1_launch_inside_the_skills_library_works(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    folder = str(settings.home / "skills" / "pdf")
    response = await client.post("/api/v1/sessions/launch", json=_launch(folder))
    assert response.status_code == 201, response.text
    assert response.json()["context"]["project_path"] == folder
