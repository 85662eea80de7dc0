"""Re-indexing rows from folders added, edited or removed by hand."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.application.dtos.characters import CharacterCreate
from kumiai.composition import Container
from kumiai.core.config import Settings
from tests.factories.definitions import (
    agent_md,
    make_character,
    make_skill,
    recorded_events,
    write_folder,
)


def characters_dir(settings: Settings) -> Path:
    return settings.home / "characters"


def skills_dir(settings: Settings) -> Path:
    return settings.home / "skills"


async def test_nothing_on_disk_and_no_rows_changes_nothing(container: Container) -> None:
    report = await container.definitions_sync.reindex()
    assert report.model_dump() == {
        "skills": {"added": 0, "updated": 0, "removed": 0, "skipped": []},
        "characters": {"added": 0, "updated": 0, "removed": 0, "skipped": []},
    }


async def test_a_hand_added_folder_becomes_a_row(
    client: httpx.AsyncClient, container: Container, settings: Settings
) -> None:
    write_folder(characters_dir(settings), "nova", "agent.md", agent_md("Nova", tags="[space]"))

    report = await container.definitions_sync.reindex()

    assert (report.characters.added, report.characters.updated) == (1, 0)
    character = (await client.get("/api/v2/characters/nova")).json()["data"]
    assert character["name"] == "Nova"
    assert character["tags"] == ["space"]
    assert character["file_path"] == str(characters_dir(settings) / "nova" / "agent.md")


async def test_a_file_without_a_name_is_named_after_its_folder(
    client: httpx.AsyncClient, container: Container, settings: Settings
) -> None:
    write_folder(skills_dir(settings), "plain", "SKILL.md", "Just instructions.\n")

    report = await container.definitions_sync.reindex()

    assert report.skills.added == 1
    skill = (await client.get("/api/v2/skills/plain")).json()["data"]
    assert (skill["name"], skill["content"]) == ("plain", "Just instructions.")


async def test_a_hand_edited_agent_md_updates_the_row_once(
    client: httpx.AsyncClient, container: Container, settings: Settings
) -> None:
    created = await make_character(client, name="Orla", content="Old prompt.")
    path = characters_dir(settings) / "orla" / "agent.md"
    path.write_text(agent_md("Orla Prime", role="lead", body="New prompt."))

    first = await container.definitions_sync.reindex()
    second = await container.definitions_sync.reindex()

    assert (first.characters.added, first.characters.updated) == (0, 1)
    assert (second.characters.added, second.characters.updated) == (0, 0)
    character = (await client.get(f"/api/v2/characters/{created['id']}")).json()["data"]
    assert (character["name"], character["role"]) == ("Orla Prime", "lead")


async def test_a_hand_deleted_folder_soft_deletes_the_row(
    client: httpx.AsyncClient, container: Container, settings: Settings
) -> None:
    await make_character(client, name="Pia")
    await make_skill(client, name="Juggling")
    (characters_dir(settings) / "pia" / "agent.md").unlink()
    (characters_dir(settings) / "pia").rmdir()
    (skills_dir(settings) / "juggling").rename(skills_dir(settings) / "juggling.deleted")

    report = await container.definitions_sync.reindex()

    assert (report.characters.removed, report.skills.removed) == (1, 1)
    assert (await client.get("/api/v2/characters/pia")).status_code == 404
    assert (await client.get("/api/v2/skills/juggling")).status_code == 404


async def test_a_bad_folder_is_skipped_and_the_others_still_indexed(
    client: httpx.AsyncClient, container: Container, settings: Settings
) -> None:
    write_folder(characters_dir(settings), "broken", "agent.md", "---\nname: [oops\n---\n")
    write_folder(characters_dir(settings), "Bad Name", "agent.md", agent_md("Spaces"))
    (characters_dir(settings) / "empty").mkdir()
    write_folder(characters_dir(settings), "fine", "agent.md", agent_md("Fine"))

    report = await container.definitions_sync.reindex()

    assert report.characters.added == 1
    skipped = {item.slug: item.reason for item in report.characters.skipped}
    assert set(skipped) == {"broken", "Bad Name", "empty"}
    assert "malformed YAML" in skipped["broken"]
    assert (await client.get("/api/v2/characters/fine")).status_code == 200


async def test_a_name_clash_with_a_live_character_is_skipped(
    client: httpx.AsyncClient, container: Container, settings: Settings
) -> None:
    await make_character(client, name="Quill")
    write_folder(characters_dir(settings), "quill-copy", "agent.md", agent_md("Quill"))

    report = await container.definitions_sync.reindex()

    assert [item.slug for item in report.characters.skipped] == ["quill-copy"]
    assert report.characters.added == 0


async def test_a_folder_restored_over_a_deleted_row_is_skipped(
    client: httpx.AsyncClient, container: Container, settings: Settings
) -> None:
    await make_character(client, name="Rex")
    await client.delete("/api/v2/characters/rex")
    (characters_dir(settings) / "rex.deleted").rename(characters_dir(settings) / "rex")

    report = await container.definitions_sync.reindex()

    assert [item.slug for item in report.characters.skipped] == ["rex"]
    assert "deleted" in report.characters.skipped[0].reason


async def test_a_character_may_list_a_skill_added_by_hand_in_the_same_reindex(
    client: httpx.AsyncClient, container: Container, settings: Settings
) -> None:
    write_folder(skills_dir(settings), "sailing", "SKILL.md", "---\nname: Sailing\n---\n")
    write_folder(
        characters_dir(settings), "sailor", "agent.md", agent_md("Sailor", skills="[sailing]")
    )

    report = await container.definitions_sync.reindex()

    assert (report.skills.added, report.characters.added) == (1, 1)
    character = (await client.get("/api/v2/characters/sailor")).json()["data"]
    assert character["skills"] == ["sailing"]


async def test_reindex_writes_activity(
    container: Container, settings: Settings, connection: AsyncConnection
) -> None:
    write_folder(characters_dir(settings), "tao", "agent.md", agent_md("Tao"))
    await container.definitions_sync.reindex()

    (characters_dir(settings) / "tao" / "agent.md").write_text(agent_md("Tao", role="sage"))
    await container.definitions_sync.reindex()

    (characters_dir(settings) / "tao").rename(characters_dir(settings) / "elsewhere.deleted")
    await container.definitions_sync.reindex()

    events = [(event, data["source"]) for event, data in await recorded_events(connection)]
    assert events == [
        ("character_created", "reindex"),
        ("character_updated", "reindex"),
        ("character_deleted", "reindex"),
    ]


async def test_the_reindex_endpoints_report_their_kind(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    write_folder(characters_dir(settings), "uno", "agent.md", agent_md("Uno"))
    write_folder(skills_dir(settings), "dos", "SKILL.md", "---\nname: Dos\n---\n")

    characters = await client.post("/api/v2/characters/reindex")
    skills = await client.post("/api/v2/skills/reindex")

    assert characters.status_code == skills.status_code == 200
    assert characters.json()["data"] == {"added": 1, "updated": 0, "removed": 0, "skipped": []}
    assert skills.json()["data"] == {"added": 1, "updated": 0, "removed": 0, "skipped": []}


async def test_a_missing_library_folder_deletes_nothing(container: Container) -> None:
    created = await container.characters.create(CharacterCreate(name="Keeper"))
    shutil.rmtree(container.settings.home / "characters")
    report = await container.definitions_sync.reindex()
    assert report.characters.removed == 0
    assert (await container.characters.get(created.slug)).slug == created.slug
