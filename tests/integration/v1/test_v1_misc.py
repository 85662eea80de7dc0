"""v1 MCP servers, profile, onboarding, system reset and CORS (V1_CONTRACT §1, §2.6,
§2.10-2.12, §4.4, §4.7, §4.8)."""

from __future__ import annotations

import json
from uuid import UUID

import httpx
import pytest

from kumiai.composition import Container
from kumiai.core.config import Settings
from tests.integration.v1.catalog_helpers import NULLABLE_STR, assert_detail, assert_shape

V1 = "/api/v1"
ORIGIN = "http://localhost:1420"


# --- MCP servers -------------------------------------------------------------------------------


def write_mcp_servers(settings: Settings, text: str) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "mcp_servers.json").write_text(text)


async def test_no_mcp_file_is_an_empty_list(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{V1}/mcp/servers")
    assert (response.status_code, response.json()) == (200, [])


async def test_mcp_servers_are_read_from_the_home_folder(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    servers = {
        "github": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github"],
            "env": {"GITHUB_TOKEN": "secret"},
            "description": "GitHub issues and pull requests",
        },
        "docs": {
            "type": "http",
            "url": "https://example.com/mcp",
            "name": "Docs",
            "disabled": True,
        },
        "broken": "not an object",
    }
    write_mcp_servers(settings, json.dumps({"mcpServers": servers}))

    listed = (await client.get(f"{V1}/mcp/servers")).json()

    for server in listed:
        assert_shape(
            server,
            {"id": str, "name": str, "description": str, "command": str, "config": dict},
        )
    assert [server["id"] for server in listed] == ["github", "docs"]
    github, docs = listed
    assert github["name"] == "github"
    assert github["command"] == "npx -y @modelcontextprotocol/server-github"
    assert github["status"] == "active"
    assert "env" not in github["config"]
    assert "secret" not in json.dumps(listed)
    assert (docs["name"], docs["description"], docs["command"]) == (
        "Docs",
        "",
        "https://example.com/mcp",
    )
    assert docs["status"] == "inactive"


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"mcpServers": []}'])
async def test_a_malformed_mcp_file_lists_nothing_instead_of_failing(
    client: httpx.AsyncClient, settings: Settings, text: str
) -> None:
    write_mcp_servers(settings, text)
    response = await client.get(f"{V1}/mcp/servers")
    assert (response.status_code, response.json()) == (200, [])


# --- profile -----------------------------------------------------------------------------------


async def test_the_profile_has_the_v1_shape(client: httpx.AsyncClient) -> None:
    profile = (await client.get(f"{V1}/profile")).json()

    assert_shape(
        profile,
        {"id": str, "avatar": NULLABLE_STR, "description": NULLABLE_STR, "preferences": dict},
    )
    assert profile["preferences"] == {}


async def test_saving_the_profile_keeps_a_large_data_url_avatar(
    client: httpx.AsyncClient,
) -> None:
    avatar = "data:image/png;base64," + "A" * 3_000_000
    body = {"avatar": avatar, "description": "I build things", "preferences": {"theme": "dark"}}

    saved = await client.post(f"{V1}/profile", json=body)

    assert saved.status_code == 200, saved.text[:200]
    assert saved.json() | {"id": None} == {"id": None, **body}
    assert (await client.get(f"{V1}/profile")).json() == saved.json()


async def test_an_empty_avatar_means_no_avatar(client: httpx.AsyncClient) -> None:
    await client.post(
        f"{V1}/profile",
        json={"avatar": "data:image/png;base64,AA", "description": "", "preferences": {}},
    )

    saved = await client.post(
        f"{V1}/profile", json={"avatar": "", "description": "", "preferences": {}}
    )

    assert saved.json()["avatar"] is None


# --- onboarding --------------------------------------------------------------------------------


async def test_onboarding_starts_incomplete(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{V1}/onboarding/status")
    assert response.json() == {"completed": False, "team": None}


async def test_setup_makes_a_demo_team_and_completes_onboarding(
    client: httpx.AsyncClient, container: Container
) -> None:
    await client.post(f"{V1}/projects", json={"name": "Older", "team_member_ids": []})

    response = await client.post(f"{V1}/onboarding/setup", json={"team": "dev"})

    assert response.status_code == 200, response.text
    result = response.json()
    assert_shape(
        result,
        {"project_name": str, "skills_created": list, "agents_created": list, "message": str},
    )
    assert result["skills_created"] == ["code-review", "test-writing"]
    assert result["agents_created"] == ["product-manager", "software-engineer", "qa-engineer"]
    status = (await client.get(f"{V1}/onboarding/status")).json()
    assert status == {"completed": True, "team": "dev"}
    demo = (await client.get(f"{V1}/projects")).json()[0]
    assert demo["name"] == result["project_name"]
    assert demo["pm_agent_id"] == "product-manager"
    assert demo["team_member_ids"] == result["agents_created"]
    pm_session = await container.sessions.get(UUID(demo["pm_session_id"]))
    assert pm_session.session_type == "pm"
    engineer = (await client.get(f"{V1}/agents/software-engineer")).json()
    assert engineer["skills"] == ["code-review", "test-writing"]
    prompt = (await client.get(f"{V1}/agents/software-engineer/content")).text
    assert "software engineer" in prompt


async def test_setup_again_reuses_what_exists(client: httpx.AsyncClient) -> None:
    first = (await client.post(f"{V1}/onboarding/setup", json={"team": "research"})).json()
    await client.delete(f"{V1}/skills/data-analysis")

    second = (await client.post(f"{V1}/onboarding/setup", json={"team": "research"})).json()

    assert first["agents_created"] == ["research-lead", "researcher", "data-analyst"]
    # The deleted skill keeps its slug, so its replacement takes the next free one.
    assert (second["skills_created"], second["agents_created"]) == (["data-analysis-2"], [])
    projects = (await client.get(f"{V1}/projects")).json()
    assert [project["name"] for project in projects] == [first["project_name"]]


@pytest.mark.parametrize("team", ["content", "research", "dev"])
async def test_every_team_can_be_set_up(client: httpx.AsyncClient, team: str) -> None:
    response = await client.post(f"{V1}/onboarding/setup", json={"team": team})
    assert response.status_code == 200, response.text


async def test_an_unknown_team_is_a_422(client: httpx.AsyncClient) -> None:
    assert_detail(await client.post(f"{V1}/onboarding/setup", json={"team": "sales"}), 422)


async def test_onboarding_reset_shows_the_dialog_again(client: httpx.AsyncClient) -> None:
    await client.post(f"{V1}/onboarding/setup", json={"team": "content"})

    response = await client.post(f"{V1}/onboarding/reset")

    assert response.status_code == 200
    assert (await client.get(f"{V1}/onboarding/status")).json()["completed"] is False
    assert (await client.get(f"{V1}/agents/writer")).status_code == 200


# --- system reset ------------------------------------------------------------------------------


async def test_system_reset_restarts_onboarding_and_keeps_the_users_data(
    client: httpx.AsyncClient,
) -> None:
    await client.post(f"{V1}/onboarding/setup", json={"team": "dev"})
    await client.post(
        f"{V1}/profile", json={"avatar": "", "description": "Me", "preferences": {"a": 1}}
    )

    response = await client.post(f"{V1}/system/reset")

    assert response.status_code == 200
    assert (await client.get(f"{V1}/onboarding/status")).json()["completed"] is False
    profile = (await client.get(f"{V1}/profile")).json()
    assert (profile["preferences"], profile["description"]) == ({}, "Me")
    assert len((await client.get(f"{V1}/agents")).json()) == 3
    assert len((await client.get(f"{V1}/projects")).json()) == 1


# --- CORS --------------------------------------------------------------------------------------


async def test_a_preflight_for_a_put_succeeds(client: httpx.AsyncClient) -> None:
    response = await client.options(
        f"{V1}/agents",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "PUT" in response.headers["access-control-allow-methods"]


async def test_an_error_carries_cors_headers(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{V1}/agents/nobody", headers={"Origin": ORIGIN})

    assert_detail(response, 404, "not found")
    assert response.headers["access-control-allow-origin"] == ORIGIN
