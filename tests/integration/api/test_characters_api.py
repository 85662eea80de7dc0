from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.core.config import Settings
from kumiai.core.exceptions import DatabaseUnavailableError
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork
from tests.factories.definitions import make_character, make_skill, recorded_events

URL = "/api/v2/characters"


def agent_md_path(settings: Settings, slug: str) -> Path:
    return settings.home / "characters" / slug / "agent.md"


def front_matter(path: Path) -> dict[str, Any]:
    header = path.read_text(encoding="utf-8").split("---\n")[1]
    loaded: dict[str, Any] = yaml.safe_load(header)
    return loaded


# ---------------------------------------------------------------- create


async def test_create_writes_the_row_and_agent_md(
    client: httpx.AsyncClient, settings: Settings, connection: AsyncConnection
) -> None:
    await make_skill(client, name="Web Search")
    response = await client.post(
        URL,
        json={
            "name": "Ada Lovelace",
            "role": "researcher",
            "skills": ["web-search"],
            "tags": ["math"],
            "content": "You are Ada.",
        },
    )

    assert response.status_code == 201
    character = response.json()["data"]
    assert character["slug"] == "ada-lovelace"
    assert character["role"] == "researcher"
    path = agent_md_path(settings, "ada-lovelace")
    assert character["file_path"] == str(path)
    assert front_matter(path) == {
        "name": "Ada Lovelace",
        "role": "researcher",
        "skills": ["web-search"],
        "allowed_tools": [],
        "allowed_mcps": [],
        "tags": ["math"],
        "icon_color": "#4A90E2",
    }
    assert path.read_text(encoding="utf-8").endswith("\nYou are Ada.\n")
    events = await recorded_events(connection)
    assert events[-1][0] == "character_created"
    assert events[-1][1]["slug"] == "ada-lovelace"
    assert events[-1][1]["character_id"] == character["id"]


async def test_a_derived_slug_clash_takes_the_next_free_suffix(client: httpx.AsyncClient) -> None:
    first = await make_character(client, name="Bob")
    await client.delete(f"{URL}/{first['slug']}")  # a deleted row keeps its slug
    second = await make_character(client, name="Bob")
    third = await make_character(client, name="bob!")

    assert [first["slug"], second["slug"], third["slug"]] == ["bob", "bob-2", "bob-3"]


async def test_an_explicit_slug_that_is_taken_is_a_409(client: httpx.AsyncClient) -> None:
    await make_character(client, name="Carol", slug="carol")
    response = await client.post(URL, json={"name": "Someone else", "slug": "carol"})

    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"slug": "carol"}


async def test_an_explicit_slug_of_a_deleted_character_is_a_409(
    client: httpx.AsyncClient,
) -> None:
    await make_character(client, name="Dave", slug="dave")
    await client.delete(f"{URL}/dave")

    response = await client.post(URL, json={"name": "Dave", "slug": "dave"})

    assert response.status_code == 409


async def test_an_explicit_slug_held_by_a_folder_without_a_row_is_a_409(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    (settings.home / "characters" / "erin").mkdir(parents=True)
    response = await client.post(URL, json={"name": "Erin", "slug": "erin"})
    assert response.status_code == 409


async def test_a_live_name_is_unique(client: httpx.AsyncClient) -> None:
    await make_character(client, name="Frank")
    response = await client.post(URL, json={"name": "Frank", "slug": "frank-two"})

    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"name": "Frank"}


async def test_the_name_of_a_deleted_character_is_free_again(client: httpx.AsyncClient) -> None:
    await make_character(client, name="Grace")
    await client.delete(f"{URL}/grace")
    again = await make_character(client, name="Grace")
    assert again["slug"] == "grace-2"


async def test_unknown_skills_are_a_422_that_lists_them(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_skill(client, name="Known")
    response = await client.post(
        URL, json={"name": "Heidi", "skills": ["known", "missing-one", "missing-two"]}
    )

    assert response.status_code == 422
    assert response.json()["error"]["details"]["unknown"] == ["missing-one", "missing-two"]
    assert not (settings.home / "characters" / "heidi").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 201},
        {"name": "Ivan", "slug": "Not A Slug"},
        {"name": "Ivan", "icon_color": "blue"},
        {"name": "Ivan", "shoe_size": 44},
        {"name": "???"},
        {"role": "no name"},
    ],
)
async def test_invalid_input_is_a_422_and_writes_nothing(
    client: httpx.AsyncClient, settings: Settings, body: dict[str, Any]
) -> None:
    response = await client.post(URL, json=body)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    folder = settings.home / "characters"
    assert not folder.exists() or not any(folder.iterdir())


async def test_a_failed_commit_moves_the_new_folder_aside(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_commit(self: SqlUnitOfWork) -> None:
        raise DatabaseUnavailableError("the database went away")

    monkeypatch.setattr(SqlUnitOfWork, "commit", failing_commit)
    response = await client.post(URL, json={"name": "Judy"})

    assert response.status_code == 503
    assert not (settings.home / "characters" / "judy").exists()


# ---------------------------------------------------------------- read


async def test_get_accepts_the_id_or_the_slug(client: httpx.AsyncClient) -> None:
    character = await make_character(client, name="Karl")

    by_id = await client.get(f"{URL}/{character['id']}")
    by_slug = await client.get(f"{URL}/karl")

    assert by_id.status_code == by_slug.status_code == 200
    assert by_id.json()["data"] == by_slug.json()["data"] == character


async def test_a_character_on_another_cli_says_which_kumiai_tools_it_lacks(
    client: httpx.AsyncClient,
) -> None:
    character = await make_character(client, name="Cody")
    assert character["limitations"] == []

    response = await client.patch(f"{URL}/cody", json={"cli_backend": "gemini"})

    limitations = response.json()["data"]["limitations"]
    assert limitations[0].startswith("It works with Gemini CLI's own tools and cannot call")
    for tool in ("spawn_instance", "contact_instance", "contact_pm", "AskUserQuestion"):
        assert tool in limitations[0]
    assert any("delivered to its project manager as a message" in line for line in limitations)
    assert (await client.get(f"{URL}/cody")).json()["data"]["limitations"] == limitations


@pytest.mark.parametrize("ref", ["nobody", "00000000-0000-0000-0000-000000000000"])
async def test_an_unknown_character_is_a_404(client: httpx.AsyncClient, ref: str) -> None:
    response = await client.get(f"{URL}/{ref}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_pages_hold_every_row_once_even_with_inserts_between_requests(
    client: httpx.AsyncClient,
) -> None:
    original = {(await make_character(client))["id"] for _ in range(7)}
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(URL, params=params)).json()
        seen += [row["id"] for row in body["data"]]
        pages += 1
        await make_character(client)  # a row appears between two page requests
        cursor = body["meta"]["next_cursor"]
        if not body["meta"]["has_more"]:
            break

    assert pages > 2
    assert len(seen) == len(set(seen))
    assert original <= set(seen)


async def test_total_counts_the_matching_rows(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await make_character(client)
    body = (await client.get(URL, params={"limit": 1, "total": "true"})).json()
    assert body["meta"]["total"] == 3
    assert body["meta"]["has_more"] is True


async def test_list_filters_by_tag_and_free_text(client: httpx.AsyncClient) -> None:
    await make_character(client, name="Lena", tags=["writer"], description="Writes 100% prose")
    await make_character(client, name="Mike", tags=["coder"], description="Writes code")
    await make_character(client, name="Nina", tags=["coder", "writer"])

    async def names(**params: str) -> list[str]:
        response = await client.get(URL, params=params)
        return [row["name"] for row in response.json()["data"]]

    assert await names(tag="writer") == ["Lena", "Nina"]
    assert await names(q="writes") == ["Lena", "Mike"]
    assert await names(q="100%") == ["Lena"]
    assert await names(tag="coder", q="nin") == ["Nina"]
    assert await names(tag="nobody") == []


async def test_a_bad_cursor_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.get(URL, params={"cursor": "not-a-cursor"})
    assert response.status_code == 422


# ---------------------------------------------------------------- update


async def test_patch_updates_the_row_and_the_front_matter_but_keeps_the_body(
    client: httpx.AsyncClient, settings: Settings, connection: AsyncConnection
) -> None:
    await make_skill(client, name="Research")
    await make_character(client, name="Olga", content="Keep this prompt.")
    path = agent_md_path(settings, "olga")
    # A key KumiAI does not know, added by hand, survives the rewrite.
    path.write_text(path.read_text().replace("---\n\n", "mood: calm\n---\n\n", 1))

    response = await client.patch(
        f"{URL}/olga",
        json={"description": "A careful reviewer", "skills": ["research"], "tags": ["qa"]},
    )

    assert response.status_code == 200
    character = response.json()["data"]
    assert character["description"] == "A careful reviewer"
    assert character["skills"] == ["research"]
    header = front_matter(path)
    assert header["description"] == "A careful reviewer"
    assert header["skills"] == ["research"]
    assert header["tags"] == ["qa"]
    assert header["mood"] == "calm"
    assert path.read_text().endswith("\nKeep this prompt.\n")
    assert (await recorded_events(connection))[-1][0] == "character_updated"


async def test_patch_null_clears_an_optional_field(client: httpx.AsyncClient) -> None:
    await make_character(client, name="Paul", description="temporary")
    response = await client.patch(f"{URL}/paul", json={"description": None})
    assert response.json()["data"]["description"] is None


@pytest.mark.parametrize(
    "changes", [{"name": None}, {"name": ""}, {"icon_color": "red"}, {"slug": "renamed"}]
)
async def test_patch_with_invalid_changes_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, settings: Settings, changes: dict[str, Any]
) -> None:
    await make_character(client, name="Quinn")
    before = agent_md_path(settings, "quinn").read_text()

    response = await client.patch(f"{URL}/quinn", json=changes)

    assert response.status_code == 422
    assert agent_md_path(settings, "quinn").read_text() == before
    assert (await client.get(f"{URL}/quinn")).json()["data"]["name"] == "Quinn"


async def test_patch_to_a_taken_name_is_a_409(client: httpx.AsyncClient) -> None:
    await make_character(client, name="Rita")
    await make_character(client, name="Sam")
    response = await client.patch(f"{URL}/sam", json={"name": "Rita"})
    assert response.status_code == 409


async def test_patch_with_unknown_skills_is_a_422(client: httpx.AsyncClient) -> None:
    await make_character(client, name="Tess")
    response = await client.patch(f"{URL}/tess", json={"skills": ["ghost"]})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["unknown"] == ["ghost"]


async def test_a_skill_deleted_later_does_not_block_other_edits(
    client: httpx.AsyncClient,
) -> None:
    await make_skill(client, name="Old Trick")
    await make_character(client, name="Uma", skills=["old-trick"])
    await client.delete("/api/v2/skills/old-trick")

    response = await client.patch(f"{URL}/uma", json={"role": "lead"})

    assert response.status_code == 200
    assert response.json()["data"]["skills"] == ["old-trick"]


async def test_patch_of_an_unknown_character_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.patch(f"{URL}/nobody", json={"role": "x"})
    assert response.status_code == 404


async def test_a_failed_commit_puts_the_old_agent_md_back(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_character(client, name="Vera")
    before = agent_md_path(settings, "vera").read_text()

    async def failing_commit(self: SqlUnitOfWork) -> None:
        raise DatabaseUnavailableError("the database went away")

    monkeypatch.setattr(SqlUnitOfWork, "commit", failing_commit)
    response = await client.patch(f"{URL}/vera", json={"role": "changed"})

    assert response.status_code == 503
    assert agent_md_path(settings, "vera").read_text() == before


# ---------------------------------------------------------------- delete


async def test_delete_hides_the_row_and_moves_the_folder_aside(
    client: httpx.AsyncClient, settings: Settings, connection: AsyncConnection
) -> None:
    character = await make_character(client, name="Walt")

    response = await client.delete(f"{URL}/{character['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"{URL}/walt")).status_code == 404
    assert not (settings.home / "characters" / "walt").exists()
    assert (settings.home / "characters" / "walt.deleted" / "agent.md").is_file()
    assert (await recorded_events(connection))[-1][0] == "character_deleted"
    assert (await client.delete(f"{URL}/walt")).status_code == 404


# ---------------------------------------------------------------- agent.md


async def test_get_agent_md_returns_the_raw_file(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_character(client, name="Xena", content="Prompt text.")

    response = await client.get(f"{URL}/xena/agent-md")

    assert response.status_code == 200
    document = response.json()["data"]
    path = agent_md_path(settings, "xena")
    assert document == {"content": path.read_text(), "path": str(path)}


async def test_put_agent_md_writes_the_file_and_reindexes_the_row(
    client: httpx.AsyncClient, settings: Settings, connection: AsyncConnection
) -> None:
    await make_skill(client, name="Drawing")
    character = await make_character(client, name="Yuri")
    text = (
        "---\nname: Yuri the Painter\nrole: artist\nskills: [drawing]\n"
        "tags: art, colour\ndefault_model: opus\n---\n\nPaint things.\n"
    )

    response = await client.put(f"{URL}/yuri/agent-md", json={"content": text})

    assert response.status_code == 200
    updated = response.json()["data"]
    assert updated["id"] == character["id"]
    assert updated["slug"] == "yuri"
    assert updated["name"] == "Yuri the Painter"
    assert updated["role"] == "artist"
    assert updated["skills"] == ["drawing"]
    assert updated["tags"] == ["art", "colour"]
    assert updated["default_model"] == "opus"
    assert agent_md_path(settings, "yuri").read_text() == text
    assert (await client.get(f"{URL}/yuri")).json()["data"]["name"] == "Yuri the Painter"
    assert (await recorded_events(connection))[-1][0] == "character_updated"


@pytest.mark.parametrize(
    "text",
    [
        "---\nname: [unclosed\n---\nbody\n",
        "---\nname: Zed\n",
        "---\n- a list\n---\nbody\n",
        "---\nrole: no name\n---\nbody\n",
        "---\nname: Zed\nicon_color: not-a-colour\n---\n",
        "---\nname: Zed\nskills: [ghost]\n---\n",
    ],
)
async def test_put_of_a_bad_agent_md_is_a_422_and_writes_nothing(
    client: httpx.AsyncClient, settings: Settings, text: str
) -> None:
    await make_character(client, name="Zed")
    before = agent_md_path(settings, "zed").read_text()

    response = await client.put(f"{URL}/zed/agent-md", json={"content": text})

    assert response.status_code == 422
    assert agent_md_path(settings, "zed").read_text() == before


async def test_put_agent_md_with_a_taken_name_is_a_409(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_character(client, name="Anna")
    await make_character(client, name="Boris")
    before = agent_md_path(settings, "boris").read_text()

    response = await client.put(f"{URL}/boris/agent-md", json={"content": "---\nname: Anna\n---\n"})

    assert response.status_code == 409
    assert agent_md_path(settings, "boris").read_text() == before


async def test_agent_md_of_an_unknown_character_is_a_404(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{URL}/nobody/agent-md")).status_code == 404
    response = await client.put(f"{URL}/nobody/agent-md", json={"content": "---\nname: X\n---\n"})
    assert response.status_code == 404


async def test_put_agent_md_needs_a_content_field(client: httpx.AsyncClient) -> None:
    await make_character(client, name="Cleo")
    response = await client.put(f"{URL}/cleo/agent-md", json={"text": "x"})
    assert response.status_code == 422


# ---------------------------------------------------------------- openapi


async def test_the_character_endpoints_are_documented(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert set(paths["/api/v2/characters/{ref}"]) == {"get", "patch", "delete"}
    assert set(paths["/api/v2/characters/{ref}/agent-md"]) == {"get", "put"}
    assert {"404", "409", "422"} <= set(paths["/api/v2/characters/{ref}"]["patch"]["responses"])
