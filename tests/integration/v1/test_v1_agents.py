"""v1 agents and agent files, as the web client calls them (V1_CONTRACT §2.4, §4.2, §4.9)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kumiai.core.config import Settings
from tests.integration.v1.catalog_helpers import (
    FILE_ENTRY_FIELDS,
    JSON,
    NULLABLE_STR,
    assert_detail,
    assert_shape,
    create,
)

AGENTS = "/api/v1/agents"

AGENT_FIELDS = {
    "id": str,
    "name": str,
    "description": NULLABLE_STR,
    "file_path": str,
    "default_model": str,
    "tags": list,
    "skills": list,
    "allowed_tools": list,
    "allowed_mcps": list,
    "icon_color": str,
}

NEW_CLAUDE_MD = """---
name: Ada Renamed
description: Counts everything
default_model: opus
tags: [math, history]
skills: [counting]
allowed_tools: [Read]
allowed_mcps: [github]
icon_color: '#123456'
---

You are Ada.
"""


async def agent(client: httpx.AsyncClient, **body: Any) -> JSON:
    return await create(client, AGENTS, {"name": "Ada Lovelace", **body})


# --- create, read, update, delete --------------------------------------------------------------


async def test_an_agent_on_codex_says_it_cannot_call_kumiai_s_tools(
    client: httpx.AsyncClient,
) -> None:
    created = await agent(client, cli_backend="codex")

    assert_shape(created, AGENT_FIELDS)
    assert created["cli_backend"] == "codex"
    assert "cannot call KumiAI's" in created["limitations"][0]
    assert "contact_pm" in created["limitations"][0]


async def test_an_agent_made_from_a_name_gets_a_slug_and_defaults(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await agent(client)

    assert_shape(created, AGENT_FIELDS)
    assert created["id"] == "ada-lovelace"
    assert created["default_model"] == "sonnet"
    assert created["icon_color"] == "#4A90E2"
    assert created["description"] is None
    assert created["limitations"] == []
    assert [created[key] for key in ("tags", "skills", "allowed_tools", "allowed_mcps")] == [
        [],
        [],
        [],
        [],
    ]
    assert (settings.home / "characters" / "ada-lovelace" / "agent.md").is_file()
    assert (await client.get(f"{AGENTS}/ada-lovelace")).json() == created
    assert (await client.get(AGENTS)).json() == [created]


async def test_characters_is_the_same_resource_as_agents(client: httpx.AsyncClient) -> None:
    created = await create(client, "/api/v1/characters", {"name": "Grace"})

    assert (await client.get(f"{AGENTS}/grace")).json() == created
    assert (await client.get("/api/v1/characters")).json() == [created]


async def test_a_taken_name_is_a_409(client: httpx.AsyncClient) -> None:
    await agent(client)
    assert_detail(await client.post(AGENTS, json={"name": "Ada Lovelace"}), 409)


async def test_put_is_a_partial_update(client: httpx.AsyncClient, settings: Settings) -> None:
    await agent(client, description="Counts", tags=["math"])

    first = await client.put(f"{AGENTS}/ada-lovelace", json={"description": "Computes"})
    second = await client.put(
        f"{AGENTS}/ada-lovelace", json={"tags": ["history"], "icon_color": "#FF0000"}
    )

    assert first.status_code == 200
    assert first.json()["tags"] == ["math"]
    updated = second.json()
    assert_shape(updated, AGENT_FIELDS)
    assert updated["description"] == "Computes"
    assert updated["tags"] == ["history"]
    assert updated["icon_color"] == "#FF0000"
    agent_md = (settings.home / "characters" / "ada-lovelace" / "agent.md").read_text()
    assert "Computes" in agent_md
    assert "history" in agent_md


@pytest.mark.parametrize(
    ("stored", "shown"),
    [("opus", "opus"), ("claude-haiku-4-5", "haiku"), ("claude-opus-4-6", "opus"), ("x", "sonnet")],
)
async def test_the_model_is_shown_as_an_alias(
    client: httpx.AsyncClient, stored: str, shown: str
) -> None:
    await agent(client)
    response = await client.put(f"{AGENTS}/ada-lovelace", json={"default_model": stored})
    assert response.json()["default_model"] == shown


async def test_an_invalid_change_is_a_422(client: httpx.AsyncClient) -> None:
    await agent(client)
    assert_detail(await client.put(f"{AGENTS}/ada-lovelace", json={"icon_color": "blue"}), 422)
    assert_detail(await client.put(f"{AGENTS}/ada-lovelace", json={"name": None}), 422)


async def test_a_deleted_agent_is_not_found(client: httpx.AsyncClient) -> None:
    await agent(client)

    deleted = await client.delete(f"{AGENTS}/ada-lovelace")

    assert deleted.status_code == 204
    assert_detail(await client.get(f"{AGENTS}/ada-lovelace"), 404, "not found")
    assert (await client.get(AGENTS)).json() == []


# --- search and routing ------------------------------------------------------------------------


async def test_search_matches_any_or_all_tags(client: httpx.AsyncClient) -> None:
    await agent(client, name="Both", tags=["math", "History"])
    await agent(client, name="Math Only", tags=["math"])
    await agent(client, name="Neither", tags=["art"])

    any_of = await client.get(f"{AGENTS}/search", params={"tags": "math,history"})
    all_of = await client.get(
        f"{AGENTS}/search", params={"tags": "math,history", "match_all": "true"}
    )

    assert [item["id"] for item in any_of.json()] == ["both", "math-only"]
    assert [item["id"] for item in all_of.json()] == ["both"]
    assert_shape(all_of.json()[0], AGENT_FIELDS)


async def test_the_search_path_wins_over_an_agent_called_search(
    client: httpx.AsyncClient,
) -> None:
    await agent(client, name="Search", tags=["x"])

    found = await client.get(f"{AGENTS}/search", params={"tags": "x"})

    assert [item["id"] for item in found.json()] == ["search"]
    assert_detail(await client.get(f"{AGENTS}/search"), 422)  # the search, without tags


# --- files and the CLAUDE.md mapping -----------------------------------------------------------


async def test_the_listing_is_flat_and_shows_agent_md_as_claude_md(
    client: httpx.AsyncClient,
) -> None:
    await agent(client)
    await client.put(
        f"{AGENTS}/ada-lovelace/files/content",
        json={"file_path": "docs/deep/guide.md", "content": "Guide"},
    )

    entries = (await client.get(f"{AGENTS}/ada-lovelace/files")).json()

    for entry in entries:
        assert_shape(entry, FILE_ENTRY_FIELDS)
    by_path = {entry["path"]: entry for entry in entries}
    assert sorted(by_path) == ["CLAUDE.md", "docs", "docs/deep", "docs/deep/guide.md"]
    assert by_path["CLAUDE.md"]["name"] == "CLAUDE.md"
    assert by_path["docs/deep"]["is_directory"] is True
    assert by_path["docs/deep/guide.md"] | {"modified_at": None} == {
        "path": "docs/deep/guide.md",
        "name": "guide.md",
        "size": 5,
        "is_directory": False,
        "modified_at": None,
    }


async def test_claude_md_reads_agent_md(client: httpx.AsyncClient, settings: Settings) -> None:
    await agent(client)
    on_disk = (settings.home / "characters" / "ada-lovelace" / "agent.md").read_text()

    response = await client.get(
        f"{AGENTS}/ada-lovelace/files/content", params={"file_path": "CLAUDE.md"}
    )

    assert response.json() == {
        "file_path": "CLAUDE.md",
        "content": on_disk,
        "size": len(on_disk.encode()),
    }


async def test_saving_claude_md_reindexes_the_agent_from_its_front_matter(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await create(client, "/api/v1/skills", {"id": "counting", "name": "Counting"})
    await agent(client)

    saved = await client.put(
        f"{AGENTS}/ada-lovelace/files/content",
        json={"file_path": "CLAUDE.md", "content": NEW_CLAUDE_MD},
    )

    assert saved.status_code == 204
    reloaded = (await client.get(f"{AGENTS}/ada-lovelace")).json()
    assert {key: reloaded[key] for key in AGENT_FIELDS if key != "file_path"} == {
        "id": "ada-lovelace",
        "name": "Ada Renamed",
        "description": "Counts everything",
        "default_model": "opus",
        "tags": ["math", "history"],
        "skills": ["counting"],
        "allowed_tools": ["Read"],
        "allowed_mcps": ["github"],
        "icon_color": "#123456",
    }
    assert (settings.home / "characters" / "ada-lovelace" / "agent.md").read_text() == (
        NEW_CLAUDE_MD
    )
    content = await client.get(f"{AGENTS}/ada-lovelace/content")
    assert content.headers["content-type"].startswith("text/plain")
    assert content.text == NEW_CLAUDE_MD


async def test_a_malformed_claude_md_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    before = await agent(client)

    response = await client.put(
        f"{AGENTS}/ada-lovelace/files/content",
        json={"file_path": "CLAUDE.md", "content": "---\nname: [unclosed\n---\nBody\n"},
    )

    assert_detail(response, 422)
    assert (await client.get(f"{AGENTS}/ada-lovelace")).json() == before


async def test_claude_md_cannot_be_deleted_but_other_files_can(
    client: httpx.AsyncClient,
) -> None:
    await agent(client)
    files = f"{AGENTS}/ada-lovelace/files"
    await client.put(f"{files}/content", json={"file_path": "notes.md", "content": "n"})

    assert_detail(await client.delete(files, params={"file_path": "CLAUDE.md"}), 422)
    assert (await client.delete(files, params={"file_path": "notes.md"})).status_code == 204
    assert [entry["path"] for entry in (await client.get(files)).json()] == ["CLAUDE.md"]


async def test_docs_are_read_as_text_with_an_encoded_path(client: httpx.AsyncClient) -> None:
    await agent(client)
    await client.put(
        f"{AGENTS}/ada-lovelace/files/content",
        json={"file_path": "docs/style.md", "content": "Be brief."},
    )

    response = await client.get(f"{AGENTS}/ada-lovelace/docs/docs%2Fstyle.md")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Be brief."


async def test_a_binary_file_is_not_shown_as_text(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await agent(client)
    (settings.home / "characters" / "ada-lovelace" / "photo.png").write_bytes(b"\x89PNG\xff")

    response = await client.get(
        f"{AGENTS}/ada-lovelace/files/content", params={"file_path": "photo.png"}
    )

    assert_detail(response, 415, "not a text file")


@pytest.mark.parametrize("file_path", ["../other/agent.md", "/etc/passwd", "docs/../../x.md"])
async def test_a_path_leaving_the_agent_folder_is_a_400(
    client: httpx.AsyncClient, file_path: str
) -> None:
    await agent(client)
    files = f"{AGENTS}/ada-lovelace/files"

    responses = [
        await client.get(f"{files}/content", params={"file_path": file_path}),
        await client.put(f"{files}/content", json={"file_path": file_path, "content": "x"}),
        await client.delete(files, params={"file_path": file_path}),
    ]

    for response in responses:
        assert_detail(response, 400)


async def test_the_files_of_an_unknown_agent_are_a_404(client: httpx.AsyncClient) -> None:
    assert_detail(await client.get(f"{AGENTS}/nobody/files"), 404, "not found")
