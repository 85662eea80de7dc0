"""v1 skills and skill files, as the web client calls them (V1_CONTRACT §2.5, §4.3, §4.9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from kumiai.core.config import Settings
from kumiai.core.exceptions import DatabaseUnavailableError
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork
from tests.integration.v1.catalog_helpers import (
    FILE_ENTRY_FIELDS,
    JSON,
    assert_detail,
    assert_shape,
    create,
)

SKILLS = "/api/v1/skills"

SKILL_FIELDS = {
    "id": str,
    "name": str,
    "description": str,
    "file_path": str,
    "tags": list,
    "icon": str,
    "icon_color": str,
}
DETAIL_FIELDS = {**SKILL_FIELDS, "content": str, "license": str}

# What the client's "new skill" button sends.
CLIENT_CREATE = {
    "id": "web-search",
    "name": "Web Search",
    "description": "A new skill",
    "license": "MIT",
    "icon": "zap",
    "iconColor": "#4A90E2",
    "tags": [],
}


async def skill(client: httpx.AsyncClient, **body: Any) -> JSON:
    return await create(client, SKILLS, {**CLIENT_CREATE, **body})


def skill_folder(settings: Settings, slug: str) -> Path:
    return settings.home / "skills" / slug


# --- create, read, update, delete --------------------------------------------------------------


async def test_the_client_chooses_the_id_and_icon_color_is_camel_case(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await skill(client, iconColor="#FF8800", icon="globe")

    assert_shape(created, DETAIL_FIELDS)
    assert created["id"] == "web-search"
    assert created["icon_color"] == "#FF8800"
    assert created["icon"] == "globe"
    assert created["license"] == "MIT"
    assert created["content"] == ""
    assert (skill_folder(settings, "web-search") / "SKILL.md").is_file()
    assert (await client.get(f"{SKILLS}/web-search")).json() == created


async def test_the_list_is_always_an_array_of_skills(client: httpx.AsyncClient) -> None:
    assert (await client.get(SKILLS)).json() == []
    await skill(client)

    listed = (await client.get(SKILLS)).json()

    assert len(listed) == 1
    assert_shape(listed[0], SKILL_FIELDS)
    assert "content" not in listed[0]


async def test_the_list_is_an_array_even_without_a_database(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(self: SqlUnitOfWork) -> SqlUnitOfWork:
        raise DatabaseUnavailableError("the database went away")

    monkeypatch.setattr(SqlUnitOfWork, "__aenter__", unreachable)
    response = await client.get(SKILLS)

    assert (response.status_code, response.json()) == (503, [])


async def test_put_is_partial_in_both_of_the_clients_forms(client: httpx.AsyncClient) -> None:
    await skill(client, tags=["web"])

    looks = await client.put(f"{SKILLS}/web-search", json={"icon": "code", "iconColor": "#00AA00"})
    text = await client.put(
        f"{SKILLS}/web-search", json={"name": "Web Finder", "description": "Finds pages"}
    )

    assert looks.status_code == 200
    assert looks.json()["tags"] == ["web"]
    updated = text.json()
    assert_shape(updated, DETAIL_FIELDS)
    assert (updated["name"], updated["description"]) == ("Web Finder", "Finds pages")
    assert (updated["icon"], updated["icon_color"], updated["tags"]) == ("code", "#00AA00", ["web"])


async def test_a_taken_id_is_a_409(client: httpx.AsyncClient) -> None:
    await skill(client)
    assert_detail(await client.post(SKILLS, json=CLIENT_CREATE), 409)


async def test_a_deleted_skill_is_not_found(client: httpx.AsyncClient) -> None:
    await skill(client)

    assert (await client.delete(f"{SKILLS}/web-search")).status_code == 204
    assert_detail(await client.get(f"{SKILLS}/web-search"), 404, "not found")


# --- static paths ------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["search", "import", "tools", "prompt-edit"])
async def test_static_paths_win_over_a_skill_with_their_name(
    client: httpx.AsyncClient, slug: str
) -> None:
    await skill(client, id=slug, name=f"Skill {slug}")

    searched = await client.get(f"{SKILLS}/search", params={"q": "zzz"})
    tools = await client.get(f"{SKILLS}/tools/custom")
    imported = await client.post(f"{SKILLS}/import", json={"source": "relative/path"})
    edited = await client.post(f"{SKILLS}/prompt-edit", json={"skill_id": None, "prompt": "x"})

    assert searched.json() == {"query": "zzz", "results": []}
    assert isinstance(tools.json(), list)
    assert_detail(imported, 422, "absolute")
    assert edited.json()["status"] == "acknowledged"


# --- search, tools and prompt edits ------------------------------------------------------------


async def test_search_ranks_name_over_tag_over_description(client: httpx.AsyncClient) -> None:
    await skill(client, id="by-description", name="Other", description="About charts")
    await skill(client, id="by-tag", name="Plotting", tags=["Charts"])
    await skill(client, id="charts", name="Charts")
    await skill(client, id="unrelated", name="Unrelated")

    response = await client.get(f"{SKILLS}/search", params={"q": "chart"})

    body = response.json()
    assert body["query"] == "chart"
    assert [hit["skill"]["id"] for hit in body["results"]] == ["charts", "by-tag", "by-description"]
    for hit in body["results"]:
        assert_shape(hit["skill"], SKILL_FIELDS)
        assert isinstance(hit["score"], float)
    assert [(hit["match_field"], hit["match_text"]) for hit in body["results"]] == [
        ("name", "Charts"),
        ("tags", "Charts"),
        ("description", "About charts"),
    ]
    assert_detail(await client.get(f"{SKILLS}/search"), 422)


async def test_the_custom_tools_are_the_built_in_ones(client: httpx.AsyncClient) -> None:
    tools = (await client.get(f"{SKILLS}/tools/custom")).json()

    for tool in tools:
        assert_shape(
            tool,
            {
                "id": str,
                "provider": str,
                "category": str,
                "name": str,
                "description": str,
                "input_schema": dict,
            },
        )
    by_id = {tool["id"]: tool for tool in tools}
    assert {"Read", "Write", "Edit", "Glob", "Grep", "Bash", "TodoWrite"} <= set(by_id)
    assert len(by_id) == len(tools)
    spawn = by_id["mcp__pm_management__spawn_instance"]
    assert (spawn["provider"], spawn["category"], spawn["name"]) == (
        "pm_management",
        "orchestration",
        "spawn_instance",
    )
    assert by_id["Read"]["provider"] == "kumiai"


async def test_a_prompt_edit_is_acknowledged_for_an_existing_skill(
    client: httpx.AsyncClient,
) -> None:
    await skill(client)

    response = await client.post(
        f"{SKILLS}/prompt-edit", json={"skill_id": "web-search", "prompt": "Be shorter"}
    )

    body = response.json()
    assert set(body) == {"agent_id", "message", "status"}
    assert all(isinstance(value, str) for value in body.values())
    unknown = await client.post(f"{SKILLS}/prompt-edit", json={"skill_id": "nope", "prompt": "x"})
    assert_detail(unknown, 404, "not found")
    assert_detail(await client.post(f"{SKILLS}/prompt-edit", json={"prompt": ""}), 422)


# --- import ------------------------------------------------------------------------------------


def skill_source(root: Path, name: str = "pdf-tools") -> Path:
    folder = root / name
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        "---\nname: PDF Tools\ndescription: Work with PDFs\niconColor: '#AA0000'\n---\n\nSteps.\n"
    )
    (folder / "scripts" / "split.py").write_text("print('split')\n")
    return folder


async def test_a_local_folder_is_copied_in_and_indexed(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    source = skill_source(tmp_path)
    (tmp_path / "secret.txt").write_text("secret")
    (source / "link.txt").symlink_to(tmp_path / "secret.txt")

    response = await client.post(f"{SKILLS}/import", json={"source": str(source)})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"skill", "status", "message"}
    assert_shape(body["skill"], DETAIL_FIELDS)
    assert (body["skill"]["id"], body["skill"]["name"]) == ("pdf-tools", "PDF Tools")
    assert body["skill"]["icon_color"] == "#AA0000"
    assert body["skill"]["content"] == "Steps."
    folder = skill_folder(settings, "pdf-tools")
    assert (folder / "scripts" / "split.py").read_text() == "print('split')\n"
    assert not (folder / "link.txt").exists()
    assert (await client.get(f"{SKILLS}/pdf-tools")).json() == body["skill"]


async def test_an_import_may_choose_the_id_but_not_a_taken_one(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    source = skill_source(tmp_path)

    first = await client.post(f"{SKILLS}/import", json={"source": str(source), "skill_id": "pdf"})
    again = await client.post(f"{SKILLS}/import", json={"source": str(source), "skill_id": "pdf"})

    assert first.json()["skill"]["id"] == "pdf"
    assert_detail(again, 409)


@pytest.mark.parametrize(
    ("source", "status", "fragment"),
    [
        ("ftp://example.org/skills.git", 422, "only https://"),
        ("github.com/anthropics", 422, "owner and a repository"),
        ("relative/folder", 422, "absolute"),
        ("/no/such/folder/anywhere", 404, "not found"),
    ],
)
async def test_an_import_from_a_bad_source_is_refused_clearly(
    client: httpx.AsyncClient, source: str, status: int, fragment: str
) -> None:
    response = await client.post(f"{SKILLS}/import", json={"source": source})
    assert_detail(response, status, fragment)


async def test_a_folder_without_skill_md_is_a_422(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    response = await client.post(f"{SKILLS}/import", json={"source": str(tmp_path / "empty")})
    assert_detail(response, 422, "SKILL.md")


# --- files -------------------------------------------------------------------------------------


async def test_files_are_listed_flat_and_nested_writes_create_folders(
    client: httpx.AsyncClient,
) -> None:
    await skill(client)
    files = f"{SKILLS}/web-search/files"

    written = await client.put(
        f"{files}/content", json={"file_path": "scripts/deep/run.sh", "content": ""}
    )

    assert written.status_code == 204
    entries = (await client.get(files)).json()
    for entry in entries:
        assert_shape(entry, FILE_ENTRY_FIELDS)
    assert sorted((entry["path"], entry["is_directory"]) for entry in entries) == [
        ("SKILL.md", False),
        ("scripts", True),
        ("scripts/deep", True),
        ("scripts/deep/run.sh", False),
    ]
    read = await client.get(f"{files}/content", params={"file_path": "scripts/deep/run.sh"})
    assert read.json() == {"content": "", "path": "scripts/deep/run.sh"}


async def test_saving_skill_md_reindexes_the_skill(client: httpx.AsyncClient) -> None:
    await skill(client)

    await client.put(
        f"{SKILLS}/web-search/files/content",
        json={
            "file_path": "SKILL.md",
            "content": "---\nname: Searcher\ndescription: Finds\n---\n\nSearch well.\n",
        },
    )

    reloaded = (await client.get(f"{SKILLS}/web-search")).json()
    assert (reloaded["name"], reloaded["description"]) == ("Searcher", "Finds")
    assert reloaded["content"] == "Search well."


async def test_rename_moves_a_file_and_refuses_clashes_and_skill_md(
    client: httpx.AsyncClient,
) -> None:
    await skill(client)
    files = f"{SKILLS}/web-search/files"
    for path in ("a.md", "b.md"):
        await client.put(f"{files}/content", json={"file_path": path, "content": path})

    moved = await client.patch(
        f"{files}/rename", json={"old_path": "a.md", "new_path": "docs/c.md"}
    )
    clash = await client.patch(
        f"{files}/rename", json={"old_path": "b.md", "new_path": "docs/c.md"}
    )
    main = await client.patch(f"{files}/rename", json={"old_path": "SKILL.md", "new_path": "x.md"})

    assert moved.status_code == 204
    paths = {entry["path"] for entry in (await client.get(files)).json()}
    assert paths == {"SKILL.md", "b.md", "docs", "docs/c.md"}
    assert_detail(clash, 409)
    assert_detail(main, 422)


async def test_files_are_deleted_except_skill_md(client: httpx.AsyncClient) -> None:
    await skill(client)
    files = f"{SKILLS}/web-search/files"
    await client.put(f"{files}/content", json={"file_path": "notes.md", "content": "n"})

    assert (await client.delete(files, params={"file_path": "notes.md"})).status_code == 204
    assert_detail(await client.delete(files, params={"file_path": "SKILL.md"}), 422)
    missing = await client.get(f"{files}/content", params={"file_path": "notes.md"})
    assert_detail(missing, 404, "not found")


async def test_sync_reads_a_skill_md_edited_by_hand(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await skill(client)
    (skill_folder(settings, "web-search") / "SKILL.md").write_text(
        "---\nname: Edited By Hand\ndescription: Outside\n---\n\nNew.\n"
    )

    response = await client.post(f"{SKILLS}/web-search/sync")

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["content"]) == ("Edited By Hand", "New.")


@pytest.mark.parametrize("file_path", ["../other/SKILL.md", "/etc/passwd", "a/../../b.md"])
async def test_a_path_leaving_the_skill_folder_is_a_400(
    client: httpx.AsyncClient, file_path: str
) -> None:
    await skill(client)
    files = f"{SKILLS}/web-search/files"

    responses = [
        await client.get(f"{files}/content", params={"file_path": file_path}),
        await client.put(f"{files}/content", json={"file_path": file_path, "content": "x"}),
        await client.delete(files, params={"file_path": file_path}),
        await client.patch(f"{files}/rename", json={"old_path": "SKILL.md", "new_path": file_path}),
    ]

    for response in responses:
        assert_detail(response, 400)
