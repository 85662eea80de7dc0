from __future__ import annotations

import base64
import uuid
from pathlib import Path

import httpx
import pytest

from kumiai.core.config import Settings
from kumiai.infrastructure.database.engine import Database
from tests.factories.projects import (
    create_project,
    create_session,
    make_character,
    soft_delete_character,
    walk_pages,
)

PROJECTS = "/api/v2/projects"


def _error(response: httpx.Response) -> dict[str, object]:
    error: dict[str, object] = response.json()["error"]
    return error


# --- create: folders and paths ----------------------------------------------------------------


async def test_a_project_without_a_path_gets_a_folder_under_home(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    project = await create_project(client, "My Project!", description="Ship it")
    folder = Path(project["path"])
    assert folder.parent == settings.home / "projects"
    assert folder.name.startswith("my-project-")
    assert len(folder.name) == len("my-project-") + 8
    assert "# My Project!" in (folder / "PROJECT.md").read_text()
    assert "Ship it" in (folder / "PROJECT.md").read_text()


async def test_a_name_without_ascii_letters_still_gets_a_folder(
    client: httpx.AsyncClient,
) -> None:
    project = await create_project(client, "プロジェクト")
    assert Path(project["path"]).name.startswith("project-")


async def test_a_given_path_is_created_normalised_and_gets_project_md(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    project = await create_project(client, path=f"{tmp_path}/deep/../work/")
    assert project["path"] == str(tmp_path / "work")
    assert (tmp_path / "work" / "PROJECT.md").is_file()


async def test_a_home_relative_path_is_expanded(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    project = await create_project(client, path="~/from-home")
    assert project["path"] == str(tmp_path / "from-home")


async def test_an_existing_project_md_is_kept(client: httpx.AsyncClient, tmp_path: Path) -> None:
    (tmp_path / "PROJECT.md").write_text("my notes")
    await create_project(client, path=str(tmp_path))
    assert (tmp_path / "PROJECT.md").read_text() == "my notes"


@pytest.mark.parametrize("path", ["relative/folder", "", "./here"])
async def test_a_relative_path_is_a_422(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(PROJECTS, json={"name": "P", "path": path})
    assert response.status_code == 422
    assert _error(response)["details"] == {"field": "path", "value": path}


async def test_a_path_that_is_a_file_is_a_422(client: httpx.AsyncClient, tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    response = await client.post(PROJECTS, json={"name": "P", "path": str(tmp_path / "file.txt")})
    assert response.status_code == 422


async def test_a_path_that_cannot_be_created_is_a_422(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    (tmp_path / "file.txt").write_text("x")
    response = await client.post(
        PROJECTS, json={"name": "P", "path": str(tmp_path / "file.txt" / "sub")}
    )
    assert response.status_code == 422


async def test_a_path_used_by_a_live_project_is_a_409(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    first = await create_project(client, path=str(tmp_path))
    response = await client.post(PROJECTS, json={"name": "Again", "path": f"{tmp_path}/"})
    assert response.status_code == 409
    assert _error(response)["details"] == {"path": str(tmp_path)}

    await client.delete(f"{PROJECTS}/{first['id']}")
    assert (await client.post(PROJECTS, json={"name": "Again", "path": str(tmp_path)})).is_success


@pytest.mark.parametrize(
    "body",
    [
        {"name": "   "},
        {"description": "no name"},
        {"name": "P", "colour": "red"},
        {"name": "x" * 201},
        {"name": "P", "team_character_ids": "writer"},
    ],
)
async def test_invalid_bodies_are_a_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    response = await client.post(PROJECTS, json=body)
    assert response.status_code == 422
    assert _error(response)["code"] == "validation_error"


# --- create: team and PM ------------------------------------------------------------------------


async def test_team_members_are_given_by_id_or_slug(
    client: httpx.AsyncClient, database: Database
) -> None:
    writer = await make_character(database, "writer")
    coder = await make_character(database, "coder")
    project = await create_project(
        client, team_character_ids=["coder", str(writer), str(coder).upper()]
    )
    assert project["team_character_ids"] == [str(coder), str(writer)]


async def test_unknown_or_deleted_team_members_are_a_422_that_lists_them(
    client: httpx.AsyncClient, database: Database
) -> None:
    gone = await make_character(database, "gone")
    await soft_delete_character(database, gone)
    missing = str(uuid.uuid4())
    response = await client.post(
        PROJECTS, json={"name": "P", "team_character_ids": ["ghost", missing, str(gone)]}
    )
    assert response.status_code == 422
    assert _error(response)["details"] == {
        "field": "team_character_ids",
        "unknown": ["ghost", missing, str(gone)],
    }


async def test_a_pm_given_at_creation_gets_its_pm_session(
    client: httpx.AsyncClient, database: Database
) -> None:
    lead = await make_character(database, "lead")
    project = await create_project(client, pm_character_id="lead")
    assert project["pm_character_id"] == str(lead)
    session = (await client.get(f"/api/v2/sessions/{project['pm_session_id']}")).json()["data"]
    assert session["session_type"] == "pm"
    assert session["status"] == "idle"
    assert session["project_id"] == project["id"]
    assert session["character_id"] == str(lead)


async def test_an_unknown_pm_at_creation_is_a_422_and_creates_nothing(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    response = await client.post(
        PROJECTS, json={"name": "P", "path": str(tmp_path / "p"), "pm_character_id": "nobody"}
    )
    assert response.status_code == 422
    assert not (tmp_path / "p").exists()
    assert (await client.get(PROJECTS)).json()["data"] == []


# --- read and list ------------------------------------------------------------------------------


async def test_get_returns_the_project(client: httpx.AsyncClient) -> None:
    project = await create_project(client)
    response = await client.get(f"{PROJECTS}/{project['id']}")
    assert response.status_code == 200
    assert response.json()["data"] == project


async def test_get_of_an_unknown_project_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PROJECTS}/{uuid.uuid4()}")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


async def test_get_with_a_malformed_id_is_a_422(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{PROJECTS}/not-a-uuid")).status_code == 422


async def test_listing_pages_without_duplicates_or_holes_while_projects_are_added(
    client: httpx.AsyncClient,
) -> None:
    existing = [(await create_project(client, f"P{n}"))["id"] for n in range(7)]
    added: list[str] = []

    async def add_one() -> None:
        added.append((await create_project(client, f"Late {len(added)}"))["id"])

    pages = await walk_pages(client, PROJECTS, {"limit": 2}, between_pages=add_one)
    seen = [project["id"] for page in pages for project in page]
    assert len(pages) > 2
    assert len(seen) == len(set(seen))
    # Newer rows sort after the cursor, so every one of them shows up at the end.
    assert seen == existing + added


async def test_listing_can_count_and_rejects_a_bad_cursor(client: httpx.AsyncClient) -> None:
    for number in range(3):
        await create_project(client, f"P{number}")
    body = (await client.get(PROJECTS, params={"limit": 1, "total": True})).json()
    assert body["meta"]["total"] == 3
    assert body["meta"]["has_more"] is True
    assert (await client.get(PROJECTS, params={"cursor": "garbage"})).status_code == 422
    assert (await client.get(PROJECTS, params={"limit": 0})).status_code == 422


async def test_listing_filters_on_archived(client: httpx.AsyncClient) -> None:
    active = await create_project(client, "Active")
    archived = await create_project(client, "Old")
    await client.post(f"{PROJECTS}/{archived['id']}/archive")

    def ids(response: httpx.Response) -> list[str]:
        return [project["id"] for project in response.json()["data"]]

    assert ids(await client.get(PROJECTS)) == [active["id"], archived["id"]]
    assert ids(await client.get(PROJECTS, params={"archived": "true"})) == [archived["id"]]
    assert ids(await client.get(PROJECTS, params={"archived": "false"})) == [active["id"]]
    assert (await client.get(PROJECTS, params={"archived": "maybe"})).status_code == 422


# --- update, archive ----------------------------------------------------------------------------


async def test_patch_changes_only_the_given_fields(
    client: httpx.AsyncClient, database: Database
) -> None:
    writer = await make_character(database, "writer")
    project = await create_project(client, description="first")
    response = await client.patch(
        f"{PROJECTS}/{project['id']}", json={"name": "Renamed", "team_character_ids": ["writer"]}
    )
    assert response.status_code == 200
    changed = response.json()["data"]
    assert changed["name"] == "Renamed"
    assert changed["description"] == "first"
    assert changed["team_character_ids"] == [str(writer)]
    assert changed["path"] == project["path"]

    cleared = await client.patch(f"{PROJECTS}/{project['id']}", json={"description": None})
    assert cleared.json()["data"]["description"] is None


@pytest.mark.parametrize(
    "body",
    [{"name": None}, {"name": " "}, {"team_character_ids": ["ghost"]}, {"path": "/elsewhere"}],
)
async def test_invalid_patches_are_a_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    project = await create_project(client)
    response = await client.patch(f"{PROJECTS}/{project['id']}", json=body)
    assert response.status_code == 422
    assert (await client.get(f"{PROJECTS}/{project['id']}")).json()["data"] == project


async def test_patch_of_an_unknown_project_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.patch(f"{PROJECTS}/{uuid.uuid4()}", json={"name": "X"})
    assert response.status_code == 404


async def test_archive_and_unarchive(client: httpx.AsyncClient) -> None:
    project = await create_project(client)
    archived = (await client.post(f"{PROJECTS}/{project['id']}/archive")).json()["data"]
    assert archived["archived_at"] is not None
    again = (await client.post(f"{PROJECTS}/{project['id']}/archive")).json()["data"]
    assert again["archived_at"] == archived["archived_at"]

    response = await client.post(f"{PROJECTS}/{project['id']}/unarchive")
    assert response.status_code == 200
    assert response.json()["data"]["archived_at"] is None


@pytest.mark.parametrize("action", ["archive", "unarchive"])
async def test_archiving_an_unknown_project_is_a_404(
    client: httpx.AsyncClient, action: str
) -> None:
    assert (await client.post(f"{PROJECTS}/{uuid.uuid4()}/{action}")).status_code == 404


# --- delete -------------------------------------------------------------------------------------


async def test_delete_hides_the_project_and_its_sessions(
    client: httpx.AsyncClient, database: Database
) -> None:
    await make_character(database, "dev")
    project = await create_project(client, team_character_ids=["dev"], pm_character_id="dev")
    specialist = await create_session(
        client, "specialist", character_id="dev", project_id=project["id"]
    )
    loose = await create_session(client)

    response = await client.delete(f"{PROJECTS}/{project['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"{PROJECTS}/{project['id']}")).status_code == 404
    assert (await client.get(PROJECTS)).json()["data"] == []
    for session_id in (specialist["id"], project["pm_session_id"]):
        assert (await client.get(f"/api/v2/sessions/{session_id}")).status_code == 404
    listed = (await client.get("/api/v2/sessions")).json()["data"]
    assert [session["id"] for session in listed] == [loose["id"]]
    by_project = await client.get("/api/v2/sessions", params={"project_id": project["id"]})
    assert by_project.json()["data"] == []
    assert (Path(project["path"]) / "PROJECT.md").is_file()


async def test_deleting_twice_or_an_unknown_project_is_a_404(client: httpx.AsyncClient) -> None:
    project = await create_project(client)
    await client.delete(f"{PROJECTS}/{project['id']}")
    assert (await client.delete(f"{PROJECTS}/{project['id']}")).status_code == 404
    assert (await client.delete(f"{PROJECTS}/{uuid.uuid4()}")).status_code == 404


async def test_permanent_delete_removes_rows_but_keeps_the_folder(
    client: httpx.AsyncClient, database: Database
) -> None:
    await make_character(database, "lead")
    project = await create_project(client, pm_character_id="lead")
    response = await client.delete(f"{PROJECTS}/{project['id']}/permanent")
    assert response.status_code == 204
    assert (await client.get(f"{PROJECTS}/{project['id']}")).status_code == 404
    assert (await client.get(f"/api/v2/sessions/{project['pm_session_id']}")).status_code == 404
    assert (Path(project["path"]) / "PROJECT.md").is_file()
    assert (await client.delete(f"{PROJECTS}/{project['id']}/permanent")).status_code == 404


async def test_a_soft_deleted_project_can_be_deleted_permanently(
    client: httpx.AsyncClient,
) -> None:
    project = await create_project(client)
    await client.delete(f"{PROJECTS}/{project['id']}")
    assert (await client.delete(f"{PROJECTS}/{project['id']}/permanent")).status_code == 204


# --- PM -----------------------------------------------------------------------------------------


async def _assign(client: httpx.AsyncClient, project_id: str, character: str) -> httpx.Response:
    return await client.post(f"{PROJECTS}/{project_id}/pm", json={"character_id": character})


async def _session(client: httpx.AsyncClient, session_id: str) -> dict[str, object]:
    data: dict[str, object] = (await client.get(f"/api/v2/sessions/{session_id}")).json()["data"]
    return data


async def test_assigning_a_pm_creates_its_session(
    client: httpx.AsyncClient, database: Database
) -> None:
    lead = await make_character(database, "lead")
    project = await create_project(client)
    response = await _assign(client, project["id"], str(lead))
    assert response.status_code == 200
    assigned = response.json()["data"]
    assert assigned["pm_character_id"] == str(lead)
    session = await _session(client, assigned["pm_session_id"])
    assert session["session_type"] == "pm"
    assert session["status"] == "idle"


async def test_reassigning_reuses_sessions_and_cancels_the_replaced_one(
    client: httpx.AsyncClient, database: Database
) -> None:
    await make_character(database, "first")
    await make_character(database, "second")
    project = await create_project(client)
    one = (await _assign(client, project["id"], "first")).json()["data"]["pm_session_id"]
    assert (await _assign(client, project["id"], "first")).json()["data"]["pm_session_id"] == one

    two = (await _assign(client, project["id"], "second")).json()["data"]["pm_session_id"]
    assert two != one
    assert (await _session(client, one))["status"] == "cancelled"

    back = (await _assign(client, project["id"], "first")).json()["data"]
    assert back["pm_session_id"] == one
    assert (await _session(client, one))["status"] == "idle"
    assert (await _session(client, two))["status"] == "cancelled"


async def test_assigning_an_unknown_character_or_project(
    client: httpx.AsyncClient, database: Database
) -> None:
    await make_character(database, "lead")
    project = await create_project(client)
    assert (await _assign(client, project["id"], "nobody")).status_code == 422
    assert (await _assign(client, str(uuid.uuid4()), "lead")).status_code == 404
    no_body = await client.post(f"{PROJECTS}/{project['id']}/pm", json={})
    assert no_body.status_code == 422


async def test_removing_the_pm_cancels_its_session_and_clears_both_fields(
    client: httpx.AsyncClient, database: Database
) -> None:
    await make_character(database, "lead")
    project = await create_project(client, pm_character_id="lead")
    response = await client.delete(f"{PROJECTS}/{project['id']}/pm")
    assert response.status_code == 204
    cleared = (await client.get(f"{PROJECTS}/{project['id']}")).json()["data"]
    assert cleared["pm_character_id"] is None
    assert cleared["pm_session_id"] is None
    assert (await _session(client, project["pm_session_id"]))["status"] == "cancelled"


async def test_removing_a_pm_whose_session_ended_leaves_that_session_alone(
    client: httpx.AsyncClient, database: Database
) -> None:
    await make_character(database, "lead")
    project = await create_project(client, pm_character_id="lead")
    await client.post(f"/api/v2/sessions/{project['pm_session_id']}/cancel")
    assert (await client.delete(f"{PROJECTS}/{project['id']}/pm")).status_code == 204
    assert (await _session(client, project["pm_session_id"]))["status"] == "cancelled"


async def test_removing_a_missing_pm_is_a_409_and_an_unknown_project_a_404(
    client: httpx.AsyncClient,
) -> None:
    project = await create_project(client)
    response = await client.delete(f"{PROJECTS}/{project['id']}/pm")
    assert response.status_code == 409
    assert _error(response)["code"] == "conflict"
    assert (await client.delete(f"{PROJECTS}/{uuid.uuid4()}/pm")).status_code == 404


# --- files --------------------------------------------------------------------------------------


async def test_files_are_listed_flat_and_read(client: httpx.AsyncClient, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print('hi')\n")
    (tmp_path / "logo.bin").write_bytes(b"\x89PNG\xff\x00")
    project = await create_project(client, path=str(tmp_path))

    listing = (await client.get(f"{PROJECTS}/{project['id']}/files")).json()["data"]
    assert [entry["path"] for entry in listing] == ["PROJECT.md", "logo.bin", "src", "src/main.py"]
    assert listing[2]["is_directory"] is True

    text = (await client.get(f"{PROJECTS}/{project['id']}/files/src/main.py")).json()["data"]
    assert text == {
        "path": "src/main.py",
        "content": "print('hi')\n",
        "size": 12,
        "encoding": "utf-8",
    }
    binary = (await client.get(f"{PROJECTS}/{project['id']}/files/logo.bin")).json()["data"]
    assert binary["encoding"] == "base64"
    assert base64.b64decode(binary["content"]) == b"\x89PNG\xff\x00"


async def test_files_of_an_unknown_project_or_file_are_a_404(client: httpx.AsyncClient) -> None:
    project = await create_project(client)
    assert (await client.get(f"{PROJECTS}/{uuid.uuid4()}/files")).status_code == 404
    assert (await client.get(f"{PROJECTS}/{uuid.uuid4()}/files/PROJECT.md")).status_code == 404
    missing = await client.get(f"{PROJECTS}/{project['id']}/files/nope.txt")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "attempt",
    [
        "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "src/%2E%2E/%2E%2E/outside.txt",
        "%2Fetc%2Fpasswd",
        "..%2F..%2Foutside.txt",
    ],
)
async def test_paths_leaving_the_project_folder_are_a_400(
    client: httpx.AsyncClient, tmp_path: Path, attempt: str
) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    (tmp_path / "project" / "src").mkdir(parents=True)
    project = await create_project(client, path=str(tmp_path / "project"))
    # httpx would normalise a literal "..", so the dots and slashes are percent-encoded and
    # reach the server as a real traversal attempt.
    url = httpx.URL(f"http://localhost{PROJECTS}/{project['id']}/files/{attempt}")
    response = await client.get(url)
    assert response.status_code == 400
    assert _error(response)["code"] == "path_not_allowed"
    assert "secret" not in response.text


async def test_a_symlink_out_of_the_project_is_a_400(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "link.txt").symlink_to(tmp_path / "outside.txt")
    project = await create_project(client, path=str(tmp_path / "project"))
    response = await client.get(f"{PROJECTS}/{project['id']}/files/link.txt")
    assert response.status_code == 400
