"""v1 chat attachments and the session file viewer (V1_CONTRACT §2.9, §4.10)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from kumiai.core.config import Settings
from kumiai.infrastructure.database.engine import Database
from tests.factories.projects import create_project, make_character

V1 = "/api/v1/sessions"
JSON = dict[str, Any]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
async def project(client: httpx.AsyncClient, database: Database, tmp_path: Path) -> JSON:
    await make_character(database, "lead")
    return await create_project(client, path=str(tmp_path / "apollo"), pm_character_id="lead")


@pytest.fixture
def session_id(project: JSON) -> str:
    return str(project["pm_session_id"])


async def _prepare(client: httpx.AsyncClient, session_id: str, name: str, data: bytes) -> JSON:
    response = await client.post(
        f"{V1}/{session_id}/files/prepare",
        files={"files": (name, data, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def _commit(client: httpx.AsyncClient, session_id: str, *ids: str) -> JSON:
    response = await client.post(f"{V1}/{session_id}/files/commit", json={"file_ids": list(ids)})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def _attach(client: httpx.AsyncClient, session_id: str, name: str, data: bytes) -> JSON:
    staged = await _prepare(client, session_id, name, data)
    committed = await _commit(client, session_id, staged["prepared"][0]["id"])
    return committed["committed"][0]  # type: ignore[no-any-return]


def _attachments_folder(working_dir: str, session_id: str) -> Path:
    return Path(working_dir).resolve() / ".sessions" / session_id / "attachments"


def _on_disk(path: str | Path) -> bytes:
    return Path(path).read_bytes()


async def test_prepare_stages_a_file_under_its_original_name(
    client: httpx.AsyncClient, session_id: str, settings: Settings
) -> None:
    body = await _prepare(client, session_id, "Quarterly report.md", b"# Q3\n")
    assert body["errors"] == []
    (prepared,) = body["prepared"]
    assert prepared["name"] == "Quarterly report.md"
    assert prepared["size"] == 5
    assert prepared["type"] == "text/markdown"
    assert re.fullmatch(r"[A-Za-z0-9_-]+", prepared["id"])
    assert datetime.fromisoformat(prepared["expires_at"].replace("Z", "+00:00")).tzinfo
    staged = settings.home / "uploads" / session_id / prepared["id"] / "Quarterly report.md"
    assert _on_disk(staged) == b"# Q3\n"


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("a::b.txt", b"x", "::"),
        ("empty.txt", b"", "empty"),
    ],
)
async def test_unusable_files_are_reported_in_errors_not_refused(
    client: httpx.AsyncClient, session_id: str, name: str, data: bytes, problem: str
) -> None:
    body = await _prepare(client, session_id, name, data)
    assert body["prepared"] == []
    (error,) = body["errors"]
    assert error["name"] == name
    assert problem in error["error"]


async def test_commit_files_attachments_where_the_agent_and_the_viewer_find_them(
    client: httpx.AsyncClient, session_id: str, project: JSON
) -> None:
    committed = await _attach(client, session_id, "notes.txt", b"hello")
    folder = _attachments_folder(project["path"], session_id)
    assert committed["path"] == str(folder / "notes.txt")
    assert (committed["name"], committed["size"], committed["type"]) == (
        "notes.txt",
        5,
        "text/plain",
    )
    assert _on_disk(committed["path"]) == b"hello"

    again = await _attach(client, session_id, "notes.txt", b"second")
    assert again["path"] == str(folder / "notes_1.txt")
    third = await _attach(client, session_id, "notes.txt", b"third")
    assert Path(third["path"]).name == "notes_2.txt"

    for file_path in (committed["path"], f".sessions/{session_id}/attachments/notes.txt"):
        content = await client.get(
            f"{V1}/{session_id}/files/content", params={"file_path": file_path}
        )
        assert content.status_code == 200
        assert content.json() == {"content": "hello", "path": file_path, "readonly": False}


async def test_download_sends_the_bytes_with_their_type_inline(
    client: httpx.AsyncClient, session_id: str
) -> None:
    committed = await _attach(client, session_id, "chart.png", PNG)
    response = await client.get(
        f"{V1}/{session_id}/files/download", params={"file_path": committed["path"]}
    )
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"].startswith("inline")


async def test_a_discarded_upload_cannot_be_committed(
    client: httpx.AsyncClient, session_id: str
) -> None:
    staged = (await _prepare(client, session_id, "draft.txt", b"x"))["prepared"][0]
    removed = await client.delete(
        f"{V1}/{session_id}/files/prepare", params={"file_ids": staged["id"]}
    )
    assert removed.status_code == 204
    body = await _commit(client, session_id, staged["id"], "../../etc")
    assert body["committed"] == []
    assert [error["name"] for error in body["errors"]] == [staged["id"], "../../etc"]


@pytest.mark.parametrize("file_path", ["../outside.txt", "/etc/passwd", "a/../../b"])
async def test_paths_outside_the_working_folder_are_a_400(
    client: httpx.AsyncClient, session_id: str, file_path: str
) -> None:
    for method, url in (
        ("GET", "files/content"),
        ("GET", "files/download"),
        ("DELETE", "files"),
    ):
        response = await client.request(
            method, f"{V1}/{session_id}/{url}", params={"file_path": file_path}
        )
        assert response.status_code == 400, (method, url)
        assert isinstance(response.json()["detail"], str)
    written = await client.put(
        f"{V1}/{session_id}/files/content", json={"file_path": file_path, "content": "x"}
    )
    assert written.status_code == 400


async def test_files_can_be_written_read_and_deleted(
    client: httpx.AsyncClient, session_id: str, project: JSON
) -> None:
    url = f"{V1}/{session_id}/files"
    written = await client.put(
        f"{url}/content", json={"file_path": "docs/plan.md", "content": "# Plan"}
    )
    assert written.status_code == 204
    assert _on_disk(Path(project["path"]) / "docs" / "plan.md") == b"# Plan"
    read = await client.get(f"{url}/content", params={"file_path": "docs/plan.md"})
    assert read.json()["content"] == "# Plan"
    assert (await client.delete(url, params={"file_path": "docs/plan.md"})).status_code == 204
    missing = await client.get(f"{url}/content", params={"file_path": "docs/plan.md"})
    assert missing.status_code == 404


async def test_an_assistant_without_a_project_attaches_into_its_library(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    launched = await client.post(
        f"{V1}/launch",
        json={"role": "skill_assistant", "project_path": "", "session_description": "x"},
    )
    session_id = launched.json()["id"]
    committed = await _attach(client, session_id, "spec.md", b"# Spec")
    skills = _attachments_folder(str(settings.home / "skills"), session_id)
    assert committed["path"] == str(skills / "spec.md")
    read = await client.get(
        f"{V1}/{session_id}/files/content", params={"file_path": committed["path"]}
    )
    assert read.json()["content"] == "# Spec"


async def test_files_of_an_unknown_session_are_a_404(client: httpx.AsyncClient) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    response = await client.post(
        f"{V1}/{unknown}/files/prepare", files={"files": ("a.txt", b"x", "text/plain")}
    )
    assert response.status_code == 404
