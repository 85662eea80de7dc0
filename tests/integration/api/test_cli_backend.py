"""An agent's ``cli_backend`` (V1_CURRENT_CLIENT §4): stored in agent.md only when it is
not ``claude``, round-tripped through v1 and v2, and copied into each new session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from kumiai.composition import Container
from kumiai.core.config import Settings
from tests.factories.definitions import agent_md, make_character, write_folder

V2 = "/api/v2/characters"
V1 = "/api/v1/agents"
JSON = dict[str, Any]


def agent_md_text(settings: Settings, slug: str) -> str:
    return (settings.home / "characters" / slug / "agent.md").read_text(encoding="utf-8")


def characters_dir(settings: Settings) -> Path:
    return settings.home / "characters"


# ---------------------------------------------------------------- v2 characters


async def test_a_new_character_runs_on_claude_and_its_file_does_not_say_so(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    character = await make_character(client, name="Ada")

    assert character["cli_backend"] == "claude"
    assert "cli_backend" not in agent_md_text(settings, "ada")


@pytest.mark.parametrize("backend", ["codex", "gemini", "opencode"])
async def test_another_backend_round_trips_through_v2_and_agent_md(
    client: httpx.AsyncClient, settings: Settings, backend: str
) -> None:
    created = await make_character(client, name="Ada", cli_backend=backend)

    assert created["cli_backend"] == backend
    assert f"\ncli_backend: {backend}\n" in agent_md_text(settings, "ada")
    assert (await client.get(f"{V2}/ada")).json()["data"]["cli_backend"] == backend
    listed = (await client.get(V2)).json()["data"]
    assert [item["cli_backend"] for item in listed] == [backend]


async def test_patch_switches_the_backend_and_back_to_claude_drops_the_key(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_character(client, name="Ada")

    switched = await client.patch(f"{V2}/ada", json={"cli_backend": "gemini"})
    assert switched.status_code == 200, switched.text
    assert switched.json()["data"]["cli_backend"] == "gemini"
    assert "\ncli_backend: gemini\n" in agent_md_text(settings, "ada")

    back = await client.patch(f"{V2}/ada", json={"cli_backend": "claude"})
    assert back.json()["data"]["cli_backend"] == "claude"
    assert "cli_backend" not in agent_md_text(settings, "ada")


@pytest.mark.parametrize("value", ["cursor", "Codex", "", 3])
async def test_an_unknown_backend_is_a_422_on_create_and_patch(
    client: httpx.AsyncClient, settings: Settings, value: object
) -> None:
    created = await client.post(V2, json={"name": "Ada", "cli_backend": value})
    assert created.status_code == 422, created.text
    assert created.json()["error"]["code"] == "validation_error"
    assert not (characters_dir(settings) / "ada").exists()

    await make_character(client, name="Bea", cli_backend="codex")
    patched = await client.patch(f"{V2}/bea", json={"cli_backend": value})
    assert patched.status_code == 422, patched.text
    assert (await client.get(f"{V2}/bea")).json()["data"]["cli_backend"] == "codex"


async def test_the_backend_cannot_be_cleared_with_null(client: httpx.AsyncClient) -> None:
    await make_character(client, name="Ada", cli_backend="codex")

    response = await client.patch(f"{V2}/ada", json={"cli_backend": None})

    assert response.status_code == 422, response.text
    assert "cli_backend" in response.json()["error"]["message"]


async def test_a_hand_edited_backend_is_indexed_and_a_bad_one_is_skipped(
    client: httpx.AsyncClient, container: Container, settings: Settings
) -> None:
    write_folder(
        characters_dir(settings), "nova", "agent.md", agent_md("Nova", cli_backend="codex")
    )
    write_folder(characters_dir(settings), "odd", "agent.md", agent_md("Odd", cli_backend="cursor"))

    report = await container.definitions_sync.reindex()

    assert report.characters.added == 1
    assert [
        (skipped.slug, "cursor" in skipped.reason) for skipped in report.characters.skipped
    ] == [("odd", True)]
    assert (await client.get(f"{V2}/nova")).json()["data"]["cli_backend"] == "codex"

    write_folder(characters_dir(settings), "nova", "agent.md", agent_md("Nova"))
    report = await container.definitions_sync.reindex()
    assert report.characters.updated == 1
    assert (await client.get(f"{V2}/nova")).json()["data"]["cli_backend"] == "claude"


async def test_put_agent_md_reads_the_backend_from_the_front_matter(
    client: httpx.AsyncClient,
) -> None:
    await make_character(client, name="Ada")

    response = await client.put(
        f"{V2}/ada/agent-md", json={"content": agent_md("Ada", cli_backend="opencode")}
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"]["cli_backend"] == "opencode"


# ---------------------------------------------------------------- v1 agents


async def test_a_v1_agent_carries_its_backend_through_create_update_get_and_list(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await client.post(V1, json={"name": "Ada", "cli_backend": "codex"})
    assert created.status_code == 201, created.text
    assert created.json()["cli_backend"] == "codex"
    assert "\ncli_backend: codex\n" in agent_md_text(settings, "ada")

    # Switching, the client also sends that backend's model.
    updated = await client.put(f"{V1}/ada", json={"cli_backend": "gemini", "default_model": "opus"})
    assert updated.status_code == 200, updated.text
    assert (updated.json()["cli_backend"], updated.json()["default_model"]) == ("gemini", "opus")

    assert (await client.get(f"{V1}/ada")).json()["cli_backend"] == "gemini"
    assert [agent["cli_backend"] for agent in (await client.get(V1)).json()] == ["gemini"]


async def test_a_v1_agent_made_without_a_backend_runs_on_claude(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await client.post(V1, json={"name": "Ada"})

    assert created.json()["cli_backend"] == "claude"
    assert "cli_backend" not in agent_md_text(settings, "ada")


async def test_an_unknown_v1_backend_is_a_422_in_the_v1_shape(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await client.post(V1, json={"name": "Ada", "cli_backend": "cursor"})
    assert created.status_code == 422, created.text
    assert list(created.json()) == ["detail"]
    assert "cli_backend" in created.json()["detail"]
    assert not (characters_dir(settings) / "ada").exists()

    await client.post(V1, json={"name": "Bea"})
    updated = await client.put(f"{V1}/bea", json={"cli_backend": "cursor"})
    assert updated.status_code == 422, updated.text
    assert (await client.get(f"{V1}/bea")).json()["cli_backend"] == "claude"


# ---------------------------------------------------------------- sessions


async def _project(client: httpx.AsyncClient, pm: str, *team: str) -> JSON:
    response = await client.post(
        "/api/v2/projects",
        json={"name": "Apollo", "team_character_ids": list(team), "pm_character_id": pm},
    )
    assert response.status_code == 201, response.text
    data: JSON = response.json()["data"]
    return data


async def test_a_session_copies_its_characters_backend_when_it_is_created(
    client: httpx.AsyncClient,
) -> None:
    await make_character(client, name="Pat", cli_backend="gemini")
    await make_character(client, name="Dana", cli_backend="codex")
    project = await _project(client, "pat", "dana")
    response = await client.post(
        "/api/v2/sessions",
        json={"session_type": "specialist", "character_id": "dana", "project_id": project["id"]},
    )
    assert response.status_code == 201, response.text
    specialist = response.json()["data"]

    assert specialist["cli_backend"] == "codex"
    pm = (await client.get(f"/api/v2/sessions/{project['pm_session_id']}")).json()["data"]
    assert pm["cli_backend"] == "gemini"

    # The session keeps the backend it began with when the character moves on.
    await client.patch(f"{V2}/dana", json={"cli_backend": "opencode"})
    kept = (await client.get(f"/api/v2/sessions/{specialist['id']}")).json()["data"]
    assert kept["cli_backend"] == "codex"


async def test_an_assistant_without_a_character_runs_on_claude(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/v2/sessions", json={"session_type": "assistant"})

    assert response.status_code == 201, response.text
    assert response.json()["data"]["cli_backend"] == "claude"


async def test_every_v1_session_shape_carries_the_backend(client: httpx.AsyncClient) -> None:
    await make_character(client, name="Pat")
    await make_character(client, name="Dana", cli_backend="opencode")
    project = await _project(client, "pat", "dana")

    created = await client.post(
        "/api/v1/sessions",
        json={"agent_id": "dana", "project_id": project["id"], "session_type": "specialist"},
    )
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    assert created.json()["cli_backend"] == "opencode"

    assert (await client.get(f"/api/v1/sessions/{session_id}")).json()["cli_backend"] == "opencode"
    listed = (await client.get("/api/v1/sessions", params={"project_id": project["id"]})).json()
    assert {item["id"]: item["cli_backend"] for item in listed} == {
        project["pm_session_id"]: "claude",
        session_id: "opencode",
    }
    launched = await client.post(
        "/api/v1/sessions/launch",
        json={"role": "agent_assistant", "session_description": "Agent helper"},
    )
    assert launched.status_code == 201, launched.text
    assert launched.json()["cli_backend"] == "claude"
