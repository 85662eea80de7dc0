"""The system endpoints of the current web client's Settings and Agents pages
(V1_CURRENT_CLIENT §4): version, the coding-agent CLIs, their plans and live usage.

CLIs are small scripts on a PATH of the test's own; the CLIs' files live in a home of
the test's own; Claude's usage is scripted on the Anthropic-compatible server.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kumiai import __version__
from kumiai.application.services.models import FALLBACK_MODELS
from kumiai.composition import build_container
from kumiai.core.config import DEFAULT_CLI_MODELS, Settings, load_settings
from kumiai.infrastructure.database.engine import Database
from kumiai.main import create_app
from tests.support.fake_cli import printing_version
from tests.support.processes import free_port
from tests.support.scripted_anthropic import ApiError, ScriptedAnthropic, ScriptedModel

SYSTEM = "/api/v1/system"
JSON = dict[str, Any]
CLAUDE_VERSION = "2.1.337 (Claude Code)"
MODEL_LIST_DOWN = ApiError(500, "api_error", "down", should_retry=False)


@dataclass
class Machine:
    """The test's stand-in for the user's machine: a home, Claude Code's folder, a PATH."""

    home: Path
    claude_dir: Path
    bin: Path

    def write_json(self, relative: str, content: object) -> Path:
        path = self.home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content) if not isinstance(content, str) else content)
        return path

    def claude_credentials(self, **oauth: object) -> None:
        self.claude_dir.mkdir(parents=True, exist_ok=True)
        (self.claude_dir / ".credentials.json").write_text(json.dumps({"claudeAiOauth": oauth}))


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Machine:
    found = Machine(tmp_path / "user", tmp_path / "user" / ".claude", tmp_path / "bin")
    found.home.mkdir()
    found.bin.mkdir()
    monkeypatch.setenv("HOME", str(found.home))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(found.claude_dir))
    monkeypatch.setenv("PATH", str(found.bin))
    monkeypatch.delenv("CODEX_HOME", raising=False)
    return found


Serve = Callable[..., Any]


@pytest.fixture
def serve(settings: Settings, database: Database, machine: Machine) -> Serve:
    """An in-process client of an app whose settings add ``overrides`` to the test's."""

    @asynccontextmanager
    async def serving(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        configured = load_settings(
            home=settings.home,
            database_url=settings.database_url,
            claude_config_file=machine.home / ".claude.json",
            _env_file=None,
            **overrides,
        )
        container = build_container(configured, database)
        transport = httpx.ASGITransport(app=create_app(configured, container))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
                yield http
        finally:
            await container.workers.shutdown()
            await container.models.aclose()

    return serving


def with_api(claude: ScriptedAnthropic, **overrides: Any) -> dict[str, Any]:
    """Settings of a server running Claude through the API, against the scripted one."""
    return {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": claude.base_url, **overrides}


async def get(client: httpx.AsyncClient, path: str) -> JSON:
    response = await client.get(f"{SYSTEM}/{path}")
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


def backend(name: str, **fields: Any) -> JSON:
    """A backend of `cli-backends` that is not installed, with ``fields`` changed."""
    models = list(DEFAULT_CLI_MODELS.get(name, ()))
    found = {
        "name": name,
        "installed": False,
        "version": None,
        "path": None,
        "default_model": models[0] if models else "",
        "available_models": models,
        "orchestration_tools": False,
    }
    return found | fields


def offline(name: str, **fields: Any) -> JSON:
    """A backend of `cli-usage` that cannot be used here."""
    found = {
        "name": name,
        "installed": False,
        "plan": "unknown",
        "plan_tier": "",
        "configured_model": "",
        "auth_status": "not installed",
        "dashboard_url": "",
        "rate_limits": None,
        "extra": {},
    }
    return found | fields


# --- version -----------------------------------------------------------------------------------


async def test_the_version_is_the_packages(client: httpx.AsyncClient) -> None:
    assert await get(client, "version") == {
        "backend_version": __version__,
        "frontend_version": None,
        "app_version": __version__,
    }


# --- cli-backends ------------------------------------------------------------------------------


async def test_each_cli_is_reported_as_found_with_its_version_and_models(
    serve: Serve, machine: Machine, claude: ScriptedAnthropic, tmp_path: Path
) -> None:
    claude_cli = printing_version(tmp_path / "opt", "claude", CLAUDE_VERSION)
    codex = printing_version(machine.bin, "codex", "codex-cli 0.98.0")

    async with serve(**with_api(claude, claude_code_cli=claude_cli)) as client:
        report = await get(client, "cli-backends")

    assert report == {
        "backends": [
            {
                "name": "claude",
                "installed": True,
                "version": CLAUDE_VERSION,
                "path": str(claude_cli),
                "default_model": "sonnet",
                "available_models": ["haiku", "sonnet", "opus"],
                "orchestration_tools": True,
            },
            backend("codex", installed=True, version="codex-cli 0.98.0", path=str(codex)),
            backend("gemini"),
            backend("opencode"),
        ],
        "codeagent_wrapper_installed": False,
        "codeagent_wrapper_version": None,
    }


async def test_configured_models_replace_a_backends_defaults(
    serve: Serve, machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUMIAI_GEMINI_MODELS", "gemini-3-pro, gemini-2.5-flash")
    monkeypatch.setenv("KUMIAI_OPENCODE_MODELS", '["anthropic/claude-sonnet-4-6"]')

    async with serve() as client:
        backends = (await get(client, "cli-backends"))["backends"]

    assert backends[2:] == [
        backend(
            "gemini",
            default_model="gemini-3-pro",
            available_models=["gemini-3-pro", "gemini-2.5-flash"],
        ),
        backend(
            "opencode",
            default_model="anthropic/claude-sonnet-4-6",
            available_models=["anthropic/claude-sonnet-4-6"],
        ),
    ]


async def test_claude_offers_the_families_the_apis_model_list_has(
    serve: Serve, claude: ScriptedAnthropic
) -> None:
    claude.set_models([ScriptedModel("claude-sonnet-4-6", "2026-02-17T00:00:00Z", "sonnet")])

    async with serve(**with_api(claude)) as client:
        first = (await get(client, "cli-backends"))["backends"][0]

    assert (first["default_model"], first["available_models"]) == ("sonnet", ["sonnet"])


async def test_claude_offers_the_built_in_table_while_the_model_list_is_unavailable(
    serve: Serve, claude: ScriptedAnthropic
) -> None:
    claude.set_models(MODEL_LIST_DOWN)

    async with serve(**with_api(claude)) as client:
        first = (await get(client, "cli-backends"))["backends"][0]

    assert first["available_models"] == ["haiku", "sonnet", "opus"]


async def test_a_full_model_id_as_the_default_is_offered_too(
    serve: Serve, claude: ScriptedAnthropic
) -> None:
    async with serve(**with_api(claude, default_model="claude-opus-4-6")) as client:
        first = (await get(client, "cli-backends"))["backends"][0]

    assert (first["default_model"], first["available_models"]) == (
        "claude-opus-4-6",
        ["claude-opus-4-6", "haiku", "sonnet", "opus"],
    )


async def test_claude_code_without_an_api_key_offers_the_table_and_asks_for_no_list(
    serve: Serve, machine: Machine, claude: ScriptedAnthropic
) -> None:
    machine.claude_credentials(accessToken="oauth-token")  # a Claude Code login

    async with serve(ANTHROPIC_BASE_URL=claude.base_url) as client:
        first = (await get(client, "cli-backends"))["backends"][0]
        runtime = (await client.get("/api/health")).json()["runtime"]["active"]

    assert runtime == "claude-code"
    assert first["available_models"] == ["haiku", "sonnet", "opus"]
    assert claude.model_list_requests == 0


async def test_without_a_runtime_claude_offers_no_models(serve: Serve, machine: Machine) -> None:
    async with serve() as client:
        first = (await get(client, "cli-backends"))["backends"][0]

    assert (first["default_model"], first["available_models"]) == ("sonnet", [])


# --- cli-usage ---------------------------------------------------------------------------------


async def test_usage_tells_each_clis_plan_sign_in_and_model_from_its_own_files(
    serve: Serve, machine: Machine
) -> None:
    machine.write_json(
        ".claude.json",
        {"oauthAccount": {"emailAddress": "dana@example.com", "organizationName": "Acme"}},
    )
    machine.claude_credentials(accessToken="oauth-token", subscriptionType="max")
    printing_version(machine.bin, "codex", "codex-cli 0.98.0")
    machine.write_json(".codex/config.toml", 'model = "o3"\nmodel_reasoning_effort = "high"\n')
    machine.write_json(".codex/auth.json", {"tokens": {"access_token": "t", "account_id": "a"}})
    printing_version(machine.bin, "gemini", "0.1.0")
    machine.write_json(".gemini/settings.json", {"model": {"name": "gemini-2.5-pro"}})
    machine.write_json(".gemini/oauth_creds.json", {"access_token": "g"})

    async with serve() as client:
        report = await get(client, "cli-usage")

    assert report == {
        "backends": [
            {
                "name": "claude",
                "installed": True,
                "plan": "MAX",
                "plan_tier": "max",
                # No API key: Claude Code runs, and the model comes from the built-in table.
                "configured_model": FALLBACK_MODELS["sonnet"],
                "auth_status": "authenticated",
                "dashboard_url": "https://claude.ai/settings/usage",
                "rate_limits": {
                    "requests_per_minute": None,
                    "input_tokens_per_minute": None,
                    "output_tokens_per_minute": None,
                    "requests_per_day": None,
                    "tokens_per_day": None,
                    "reset_window": "5-hour rolling window",
                },
                "extra": {
                    "organization": "Acme",
                    "account": "d***@example.com",
                    "runtime": "claude-code",
                },
            },
            {
                "name": "codex",
                "installed": True,
                "plan": "ChatGPT",
                "plan_tier": "subscription",
                "configured_model": "o3",
                "auth_status": "authenticated",
                "dashboard_url": "https://platform.openai.com/usage",
                "rate_limits": None,
                "extra": {"reasoning_effort": "high"},
            },
            {
                "name": "gemini",
                "installed": True,
                "plan": "Google AI",
                "plan_tier": "",
                "configured_model": "gemini-2.5-pro",
                "auth_status": "authenticated",
                "dashboard_url": "https://aistudio.google.com/apikey",
                "rate_limits": None,
                "extra": {},
            },
            offline("opencode"),
        ]
    }


async def test_usage_without_the_clis_files_falls_back_to_the_configured_models(
    serve: Serve, machine: Machine, claude: ScriptedAnthropic
) -> None:
    printing_version(machine.bin, "codex", "codex-cli 0.98.0")
    printing_version(machine.bin, "opencode", "0.3.1")

    async with serve(**with_api(claude)) as client:
        claude_usage, codex, _gemini, opencode = (await get(client, "cli-usage"))["backends"]

    assert claude_usage == {
        "name": "claude",
        "installed": True,
        "plan": "API",
        "plan_tier": "api",
        "configured_model": "claude-sonnet-4-6",  # the newest sonnet of the model list
        "auth_status": "api key",
        "dashboard_url": "https://console.anthropic.com/settings/usage",
        "rate_limits": None,
        "extra": {"runtime": "anthropic"},
    }
    assert codex == offline(
        "codex",
        installed=True,
        configured_model=DEFAULT_CLI_MODELS["codex"][0],
        auth_status="not configured",
    )
    assert opencode == offline(
        "opencode",
        installed=True,
        plan="Open Source",
        plan_tier="oss",
        auth_status="not configured",
    )


async def test_claude_is_usable_on_the_api_runtime_without_any_cli(
    serve: Serve, claude: ScriptedAnthropic, tmp_path: Path
) -> None:
    nowhere = tmp_path / "no-claude-here"

    async with serve(**with_api(claude, claude_code_cli=nowhere)) as client:
        cli = (await get(client, "cli-backends"))["backends"][0]
        usage = (await get(client, "cli-usage"))["backends"][0]

    assert (cli["installed"], cli["path"], cli["available_models"]) == (
        False,
        None,
        ["haiku", "sonnet", "opus"],
    )
    assert (usage["installed"], usage["plan"], usage["extra"]) == (
        True,
        "API",
        {"runtime": "anthropic"},
    )


async def test_claude_is_offline_without_a_runtime_even_with_its_cli(
    serve: Serve, tmp_path: Path
) -> None:
    claude_cli = printing_version(tmp_path / "opt", "claude", CLAUDE_VERSION)

    async with serve(claude_code_cli=claude_cli) as client:
        first = (await get(client, "cli-usage"))["backends"][0]

    assert first == offline("claude", auth_status="not configured")


async def test_malformed_cli_files_tell_less_and_break_nothing(
    serve: Serve, machine: Machine, claude: ScriptedAnthropic
) -> None:
    machine.write_json(".claude.json", "{not json")
    machine.claude_dir.mkdir()
    (machine.claude_dir / ".credentials.json").write_text('["a list"]')
    printing_version(machine.bin, "codex", "1")
    machine.write_json(".codex/config.toml", "model = = broken")

    async with serve(**with_api(claude)) as client:
        claude_usage, codex, *_ = (await get(client, "cli-usage"))["backends"]

    assert (claude_usage["plan"], claude_usage["extra"]) == ("API", {"runtime": "anthropic"})
    assert codex["configured_model"] == DEFAULT_CLI_MODELS["codex"][0]


# --- cli-usage/live ----------------------------------------------------------------------------

UNAVAILABLE = {"windows": [], "error": "unavailable"}


async def test_live_usage_reads_claudes_windows_through_the_configured_base_url(
    serve: Serve, claude: ScriptedAnthropic
) -> None:
    async with serve(**with_api(claude, CLAUDE_CODE_OAUTH_TOKEN="oauth-token")) as client:
        report = await get(client, "cli-usage/live")

    assert report == {
        "usage": {
            "claude": {
                "windows": [
                    {
                        "label": "5-hour",
                        "utilization": 0.37,
                        "resets_at": "2026-03-09T15:00:00+00:00",
                    },
                    {
                        "label": "7-day",
                        "utilization": 0.625,
                        "resets_at": "2026-03-12T08:00:00+00:00",
                    },
                    {
                        "label": "7-day Sonnet",
                        "utilization": 0.12,
                        "resets_at": "2026-03-12T08:00:00+00:00",
                    },
                ],
                "error": None,
            },
            "codex": UNAVAILABLE,
            "gemini": UNAVAILABLE,
            "opencode": UNAVAILABLE,
        }
    }
    (request,) = claude.oauth_usage_requests
    assert request.headers["authorization"] == "Bearer oauth-token"
    assert request.headers["anthropic-beta"] == "oauth-2025-04-20"


async def test_live_usage_uses_claude_codes_stored_token_and_clamps_to_one(
    serve: Serve, machine: Machine, claude: ScriptedAnthropic
) -> None:
    machine.claude_credentials(accessToken="stored-token", subscriptionType="pro")
    claude.set_oauth_usage({"seven_day_opus": {"utilization": 104.0, "resets_at": None}})

    async with serve(ANTHROPIC_BASE_URL=claude.base_url) as client:
        live = (await get(client, "cli-usage/live"))["usage"]["claude"]

    assert live == {
        "windows": [{"label": "7-day Opus", "utilization": 1.0, "resets_at": None}],
        "error": None,
    }
    assert claude.oauth_usage_requests[0].headers["authorization"] == "Bearer stored-token"


async def test_without_a_token_live_usage_is_unauthenticated_and_asks_nothing(
    serve: Serve, machine: Machine, claude: ScriptedAnthropic
) -> None:
    async with serve(**with_api(claude)) as client:
        live = (await get(client, "cli-usage/live"))["usage"]["claude"]

    assert live == {"windows": [], "error": "unauthenticated"}
    assert claude.oauth_usage_requests == []


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (ApiError(401, "authentication_error", "token expired", should_retry=False), "http_401"),
        (ApiError(429, "rate_limit_error", "slow down", should_retry=False), "http_429"),
        ("{not json", "unavailable"),
        ('{"five_hour": {"utilization": "lots"}}', "unavailable"),
    ],
    ids=["401", "429", "not-json", "bad-number"],
)
async def test_a_failed_usage_answer_is_an_error_not_a_failure(
    serve: Serve, claude: ScriptedAnthropic, answer: Any, error: str
) -> None:
    claude.set_oauth_usage(answer)

    async with serve(**with_api(claude, CLAUDE_CODE_OAUTH_TOKEN="t")) as client:
        live = (await get(client, "cli-usage/live"))["usage"]["claude"]

    assert live == {"windows": [], "error": error}


async def test_an_unreachable_base_url_makes_usage_unavailable(serve: Serve) -> None:
    closed = f"http://127.0.0.1:{free_port()}"

    async with serve(ANTHROPIC_BASE_URL=closed, CLAUDE_CODE_OAUTH_TOKEN="t") as client:
        live = (await get(client, "cli-usage/live"))["usage"]["claude"]

    assert live == {"windows": [], "error": "unavailable"}


# --- no other host, ever -----------------------------------------------------------------------


@pytest.fixture
def contacts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host this process looks up or connects to from now on; others are refused."""
    seen: list[str] = []
    connect, lookup = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            seen.append(f"{address[0]}:{address[1]}")
            if address[0] not in ("127.0.0.1", "::1"):
                raise OSError(f"test refused a connection to {address}")
        connect(self, address)

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(f"lookup {host}")
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise socket.gaierror(f"test refused to look up {host}")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    return seen


async def test_the_system_endpoints_contact_no_host_but_the_configured_base_url(
    serve: Serve, machine: Machine, claude: ScriptedAnthropic, contacts: list[str]
) -> None:
    # Every provider has credentials here; only Claude's base URL may be asked.
    machine.claude_credentials(accessToken="oauth-token", subscriptionType="max")
    for name in ("codex", "gemini", "opencode"):
        printing_version(machine.bin, name, f"{name} 1.0")
    machine.write_json(".codex/auth.json", {"tokens": {"access_token": "t", "account_id": "a"}})
    machine.write_json(".gemini/oauth_creds.json", {"access_token": "g"})

    async with serve(**with_api(claude)) as client:
        for path in ("version", "cli-backends", "cli-usage", "cli-usage/live"):
            await get(client, path)

    port = claude.base_url.rsplit(":", 1)[1]
    assert contacts
    assert {contact.split(" ")[-1].rsplit(":", 1)[0] for contact in contacts} == {"127.0.0.1"}
    assert all(contact.endswith(f":{port}") for contact in contacts if ":" in contact)


async def test_without_a_base_url_or_a_token_nothing_is_contacted(
    serve: Serve, machine: Machine, contacts: list[str]
) -> None:
    printing_version(machine.bin, "codex", "codex 1.0")
    machine.write_json(".codex/auth.json", {"tokens": {"access_token": "t", "account_id": "a"}})

    async with serve() as client:
        for path in ("version", "cli-backends", "cli-usage", "cli-usage/live"):
            await get(client, path)

    assert contacts == []
