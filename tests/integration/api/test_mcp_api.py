"""MCP servers over the API: two sources, editing KumiAI's file, testing a server, and
secrets (env values, headers) that never come back."""

from __future__ import annotations

import json
import stat
from typing import Any

import httpx
import pytest

from kumiai.core.config import Settings
from tests.support.mcp_probe_server import stdio_entry

V2 = "/api/v2/mcp/servers"
SECRET = "s3cr3t-token"


def write_config(settings: Settings, kumiai: dict[str, Any], claude: dict[str, Any]) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "mcp_servers.json").write_text(json.dumps({"mcpServers": kumiai}))
    settings.claude_config_file.write_text(
        json.dumps({"numStartups": 3, "mcpServers": claude, "projects": {}})
    )


def kumiai_file(settings: Settings) -> dict[str, Any]:
    return json.loads((settings.home / "mcp_servers.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture
def two_sources(settings: Settings) -> None:
    write_config(
        settings,
        kumiai={
            "github": {"command": "npx", "args": ["-y", "gh-mcp"], "env": {"TOKEN": SECRET}},
            "shared": {"type": "http", "url": "https://ours.example/mcp"},
        },
        claude={
            "shared": {"type": "sse", "url": "https://theirs.example/sse"},
            "linear": {
                "type": "http",
                "url": "https://mcp.linear.app/mcp",
                "headers": {"Authorization": f"Bearer {SECRET}"},
            },
        },
    )


@pytest.mark.usefixtures("two_sources")
async def test_both_sources_are_listed_and_kumiai_wins_a_name_clash(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(V2)

    servers = response.json()["data"]
    assert [(s["name"], s["source"], s["transport"]) for s in servers] == [
        ("github", "kumiai", "stdio"),
        ("shared", "kumiai", "http"),
        ("linear", "claude_code", "http"),
    ]
    assert servers[0]["env"] == {"TOKEN": "<redacted>"}
    assert servers[2]["headers"] == {"Authorization": "<redacted>"}
    assert SECRET not in response.text
    v1 = await client.get("/api/v1/mcp/servers")
    assert [(s["id"], s["source"]) for s in v1.json()] == [
        ("github", "kumiai"),
        ("shared", "kumiai"),
        ("linear", "claude_code"),
    ]
    assert SECRET not in v1.text


async def test_adding_a_server_writes_claude_codes_format_to_a_private_file(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(
        V2,
        json={
            "name": "github",
            "command": "npx",
            "args": ["-y", "gh-mcp"],
            "env": {"TOKEN": SECRET},
            "description": "Issues",
        },
    )

    assert response.status_code == 201, response.text
    assert response.json()["data"]["env"] == {"TOKEN": "<redacted>"}
    assert SECRET not in response.text
    assert kumiai_file(settings) == {
        "mcpServers": {
            "github": {
                "type": "stdio",
                "command": "npx",
                "args": ["-y", "gh-mcp"],
                "env": {"TOKEN": SECRET},
                "description": "Issues",
            }
        }
    }
    mode = stat.S_IMODE((settings.home / "mcp_servers.json").stat().st_mode)
    assert mode == 0o600
    again = await client.post(V2, json={"name": "github", "command": "other"})
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"name": "common_tools", "command": "x"}, "reserved"),
        ({"name": "has space", "command": "x"}, "name"),
        ({"name": "empty"}, "needs a command"),
        ({"name": "remote", "transport": "http", "url": "ftp://x"}, "http:// or https://"),
    ],
)
async def test_a_bad_server_is_a_422_that_says_why(
    client: httpx.AsyncClient, body: dict[str, Any], problem: str
) -> None:
    response = await client.post(V2, json=body)
    assert response.status_code == 422
    assert problem in response.text


@pytest.mark.usefixtures("two_sources")
async def test_an_update_keeps_redacted_secrets_and_replaces_the_rest(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.put(
        f"{V2}/github",
        json={"command": "uvx", "args": ["gh"], "env": {"TOKEN": "<redacted>", "NEW": "n"}},
    )

    assert response.status_code == 200, response.text
    entry = kumiai_file(settings)["mcpServers"]["github"]
    assert entry == {
        "type": "stdio",
        "command": "uvx",
        "args": ["gh"],
        "env": {"TOKEN": SECRET, "NEW": "n"},
    }
    unknown = await client.put(
        f"{V2}/github", json={"command": "uvx", "env": {"OTHER": "<redacted>"}}
    )
    assert unknown.status_code == 422
    assert "no value is stored" in unknown.text


@pytest.mark.usefixtures("two_sources")
async def test_claude_codes_servers_are_read_only_and_unknown_names_are_404(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    before = settings.claude_config_file.read_text()

    update = await client.put(f"{V2}/linear", json={"transport": "http", "url": "https://x.y"})
    remove = await client.delete(f"{V2}/linear")
    missing = await client.delete(f"{V2}/nope")

    assert (update.status_code, remove.status_code, missing.status_code) == (409, 409, 404)
    assert "~/.claude.json" in remove.json()["error"]["message"]
    assert settings.claude_config_file.read_text() == before


@pytest.mark.usefixtures("two_sources")
async def test_removing_a_server_of_kumiai_uncovers_claude_codes_one(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.delete(f"{V2}/shared")

    assert response.status_code == 204
    assert "shared" not in kumiai_file(settings)["mcpServers"]
    shared = (await client.get(f"{V2}/shared")).json()["data"]
    assert (shared["source"], shared["transport"]) == ("claude_code", "sse")


async def test_a_broken_kumiai_file_is_not_overwritten(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "mcp_servers.json").write_text("{broken")

    response = await client.post(V2, json={"name": "x", "command": "y"})

    assert response.status_code == 422
    assert (settings.home / "mcp_servers.json").read_text() == "{broken"


@pytest.mark.slow
async def test_testing_a_server_starts_it_and_lists_its_tools(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    write_config(settings, kumiai={"probe": stdio_entry()}, claude={})

    response = await client.post(f"{V2}/probe/test")

    result = response.json()["data"]
    assert result["ok"] is True, result
    echo = next(tool for tool in result["tools"] if tool["name"] == "echo")
    assert echo["agent_name"] == "mcp__probe__echo"
    assert echo["description"] == "Return the text, prefixed with 'echo: '."


async def test_testing_a_server_that_cannot_start_reports_why(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    write_config(
        settings,
        kumiai={"gone": {"command": "/nonexistent/server", "env": {"KEY": SECRET}}},
        claude={},
    )

    response = await client.post(f"{V2}/gone/test")

    assert response.status_code == 200
    result = response.json()["data"]
    assert result["ok"] is False
    assert result["error"] == (
        "MCP server 'gone' failed to start: command not found (/nonexistent/server)"
    )
    assert SECRET not in response.text
