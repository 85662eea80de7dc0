"""v1 projects and project files, as the web client calls them (V1_CONTRACT §2.2, §2.3)."""

from __future__ import annotations

import uuid
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from kumiai.composition import Container
from kumiai.core.config import Settings
from tests.integration.v1.catalog_helpers import (
    JSON,
    NULLABLE_STR,
    assert_detail,
    assert_shape,
    create,
)

PROJECTS = "/api/v1/projects"

PROJECT_FIELDS = {
    "id": str,
    "name": str,
    "description": NULLABLE_STR,
    "path": str,
    "pm_agent_id": NULLABLE_STR,
    "pm_session_id": NULLABLE_STR,
    "team_member_ids": list,
    "created_at": str,
    "updated_at": str,
    "deleted_at": NULLABLE_STR,
}


async def agent(client: httpx.AsyncClient, name: str) -> str:
    return str((await create(client, "/api/v1/agents", {"name": name}))["id"])


async def project(client: httpx.AsyncClient, **body: object) -> JSON:
    return await create(client, PROJECTS, {"name": "Apollo", "team_member_ids": [], **body})


# --- create and read ---------------------------------------------------------------------------


async def test_a_project_without_a_path_gets_one_under_home(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await project(client, name="Moon Shot", description="Land it")

    assert_shape(created, PROJECT_FIELDS)
    assert Path(created["path"]).parent == settings.home / "projects"
    assert (Path(created["path"]) / "PROJECT.md").is_file()
    assert created["deleted_at"] is None
    assert created["team_member_ids"] == []
    assert created["pm_agent_id"] is None
    fetched = await client.get(f"{PROJECTS}/{created['id']}")
    assert fetched.json() == created


async def test_a_blank_path_also_lets_the_server_choose(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await project(client, path="  ")
    assert Path(created["path"]).parent == settings.home / "projects"


async def test_a_given_path_is_used(client: httpx.AsyncClient, tmp_path: Path) -> None:
    created = await project(client, path=str(tmp_path / "work"))
    assert created["path"] == str(tmp_path / "work")


async def test_a_pm_agent_gets_its_pm_session(
    client: httpx.AsyncClient, container: Container
) -> None:
    pm = await agent(client, "Product Manager")
    dev = await agent(client, "Developer")

    created = await project(client, pm_agent_id=pm, team_member_ids=[pm, dev])

    assert created["pm_agent_id"] == pm
    assert created["team_member_ids"] == [pm, dev]
    session = await container.sessions.get(UUID(created["pm_session_id"]))
    assert session.session_type == "pm"
    assert session.project_id == UUID(created["id"])
    listed = await client.get("/api/v2/sessions", params={"project_id": created["id"]})
    assert [item["id"] for item in listed.json()["data"]] == [created["pm_session_id"]]


async def test_an_unknown_team_member_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post(PROJECTS, json={"name": "P", "team_member_ids": ["nobody-here"]})
    assert_detail(response, 422, "nobody-here")


async def test_a_project_without_a_name_is_a_422_with_a_plain_detail(
    client: httpx.AsyncClient,
) -> None:
    assert_detail(await client.post(PROJECTS, json={"team_member_ids": []}), 422)


@pytest.mark.parametrize(
    "project_id", [str(uuid.uuid4()), "not-a-uuid"], ids=["unknown", "not-a-uuid"]
)
async def test_an_unknown_project_is_a_404_saying_not_found(
    client: httpx.AsyncClient, project_id: str
) -> None:
    assert_detail(await client.get(f"{PROJECTS}/{project_id}"), 404, "not found")


# --- update ------------------------------------------------------------------------------------


async def test_patch_changes_only_the_keys_sent_and_stores_the_team_as_sent(
    client: httpx.AsyncClient,
) -> None:
    pm = await agent(client, "Lead")
    created = await project(client, description="Keep me", pm_agent_id=pm, team_member_ids=[])

    response = await client.patch(
        f"{PROJECTS}/{created['id']}", json={"name": "Renamed", "team_member_ids": [pm]}
    )

    assert response.status_code == 200, response.text
    updated = response.json()
    assert_shape(updated, PROJECT_FIELDS)
    assert updated["name"] == "Renamed"
    assert updated["description"] == "Keep me"
    assert updated["team_member_ids"] == [pm]
    assert updated["pm_agent_id"] == pm
    assert updated["pm_session_id"] == created["pm_session_id"]
    assert updated["path"] == created["path"]


async def test_the_edit_dialog_prefilled_from_the_project_saves_it_unchanged(
    client: httpx.AsyncClient,
) -> None:
    # The 2026-03 dialog prefills the team from team_member_ids and sends it all back.
    pm = await agent(client, "Lead")
    dev, qa = await agent(client, "Developer"), await agent(client, "Tester")
    created = await project(
        client, description="Ship", pm_agent_id=pm, team_member_ids=[qa, pm, dev]
    )
    shown = (await client.get(f"{PROJECTS}/{created['id']}")).json()
    dialog = {
        key: shown[key] for key in ("name", "description", "path", "pm_agent_id", "team_member_ids")
    }

    unchanged = await client.patch(f"{PROJECTS}/{created['id']}", json=dialog)
    without_qa = await client.patch(
        f"{PROJECTS}/{created['id']}", json={**dialog, "team_member_ids": [pm, dev]}
    )

    assert shown["team_member_ids"] == [qa, pm, dev]
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json() == {**shown, "updated_at": unchanged.json()["updated_at"]}
    assert without_qa.json()["team_member_ids"] == [pm, dev]


async def test_patch_with_a_new_pm_agent_makes_it_the_pm_with_a_session(
    client: httpx.AsyncClient, container: Container
) -> None:
    created = await project(client)
    pm = await agent(client, "Coordinator")

    response = await client.patch(
        f"{PROJECTS}/{created['id']}",
        json={"name": created["name"], "team_member_ids": [pm], "pm_agent_id": pm},
    )

    updated = response.json()
    assert updated["pm_agent_id"] == pm
    session = await container.sessions.get(UUID(updated["pm_session_id"]))
    assert session.session_type == "pm"


async def test_patch_keeps_the_folder_and_refuses_to_move_it(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    created = await project(client)
    same = await client.patch(
        f"{PROJECTS}/{created['id']}",
        json={"name": "Same", "team_member_ids": [], "path": created["path"]},
    )
    moved = await client.patch(
        f"{PROJECTS}/{created['id']}",
        json={"name": "Moved", "team_member_ids": [], "path": str(tmp_path)},
    )

    assert same.status_code == 200
    assert_detail(moved, 422, "folder")
    assert (await client.get(f"{PROJECTS}/{created['id']}")).json()["name"] == "Same"


# --- archive, unarchive and delete -------------------------------------------------------------


async def test_delete_archives_and_unarchive_brings_it_back(client: httpx.AsyncClient) -> None:
    kept = await project(client, name="Kept")
    archived = await project(client, name="Shelved")

    deleted = await client.delete(f"{PROJECTS}/{archived['id']}")

    assert deleted.status_code == 204
    default = (await client.get(PROJECTS)).json()
    assert [item["id"] for item in default] == [kept["id"]]
    everything = (await client.get(PROJECTS, params={"include_archived": "true"})).json()
    shelved = next(item for item in everything if item["id"] == archived["id"])
    assert_shape(shelved, PROJECT_FIELDS)
    assert isinstance(shelved["deleted_at"], str)
    assert (await client.get(f"{PROJECTS}/{archived['id']}")).json()["deleted_at"]

    restored = await client.post(f"{PROJECTS}/{archived['id']}/unarchive")

    assert restored.status_code == 200
    assert restored.json() == {"message": "Project unarchived", "project_id": archived["id"]}
    again = (await client.get(PROJECTS)).json()
    assert {item["id"] for item in again} == {kept["id"], archived["id"]}
    assert all(item["deleted_at"] is None for item in again)


async def test_the_list_is_an_array_of_projects(client: httpx.AsyncClient) -> None:
    assert (await client.get(PROJECTS)).json() == []
    await project(client)
    listed = (await client.get(PROJECTS)).json()
    assert len(listed) == 1
    assert_shape(listed[0], PROJECT_FIELDS)


async def test_the_most_recently_updated_project_comes_first(client: httpx.AsyncClient) -> None:
    older = await project(client, name="Older")
    newer = await project(client, name="Newer")
    assert [item["id"] for item in (await client.get(PROJECTS)).json()] == [
        newer["id"],
        older["id"],
    ]

    await client.patch(f"{PROJECTS}/{older['id']}", json={"name": "Touched", "team_member_ids": []})

    assert [item["id"] for item in (await client.get(PROJECTS)).json()] == [
        older["id"],
        newer["id"],
    ]


async def test_permanent_delete_removes_the_project(client: httpx.AsyncClient) -> None:
    created = await project(client)
    folder = Path(created["path"])

    response = await client.delete(f"{PROJECTS}/{created['id']}/permanent")

    assert response.status_code == 204
    assert_detail(await client.get(f"{PROJECTS}/{created['id']}"), 404, "not found")
    assert (folder / "PROJECT.md").is_file()  # the folder stays on disk


# --- project files -----------------------------------------------------------------------------


async def test_a_file_is_written_read_downloaded_and_deleted(client: httpx.AsyncClient) -> None:
    created = await project(client)
    files = f"{PROJECTS}/{created['id']}/files"

    written = await client.put(
        f"{files}/content", json={"file_path": "notes/plan.md", "content": "# Plan\n"}
    )
    read = await client.get(f"{files}/content", params={"file_path": "notes/plan.md"})
    download = await client.get(f"{files}/download", params={"file_path": "notes/plan.md"})
    absolute = await client.get(
        f"{files}/content", params={"file_path": f"{created['path']}/notes/plan.md"}
    )

    assert written.status_code == 204
    assert read.json() == {"content": "# Plan\n", "path": "notes/plan.md", "readonly": False}
    assert download.content == b"# Plan\n"
    assert download.headers["content-type"].startswith("text/markdown")
    assert download.headers["content-disposition"] == "inline"
    assert absolute.json()["content"] == "# Plan\n"

    deleted = await client.delete(files, params={"file_path": "notes/plan.md"})

    assert deleted.status_code == 204
    gone = await client.get(f"{files}/content", params={"file_path": "notes/plan.md"})
    assert_detail(gone, 404, "not found")


async def test_a_download_has_the_content_type_of_its_name(client: httpx.AsyncClient) -> None:
    created = await project(client)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(16))
    (Path(created["path"]) / "logo.png").write_bytes(png)
    files = f"{PROJECTS}/{created['id']}/files"

    download = await client.get(f"{files}/download", params={"file_path": "logo.png"})
    as_text = await client.get(f"{files}/content", params={"file_path": "logo.png"})

    assert download.content == png
    assert download.headers["content-type"] == "image/png"
    assert_detail(as_text, 415, "not a text file")


@pytest.mark.parametrize("file_path", ["../outside.txt", "/etc/passwd", "a/../../b"])
async def test_a_path_leaving_the_project_is_a_400(
    client: httpx.AsyncClient, file_path: str
) -> None:
    created = await project(client)
    files = f"{PROJECTS}/{created['id']}/files"

    responses = [
        await client.get(f"{files}/content", params={"file_path": file_path}),
        await client.get(f"{files}/download", params={"file_path": file_path}),
        await client.put(f"{files}/content", json={"file_path": file_path, "content": "x"}),
        await client.delete(files, params={"file_path": file_path}),
    ]

    for response in responses:
        assert_detail(response, 400)
