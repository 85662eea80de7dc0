"""A turn runs on its agent's backend: Claude's runtime, or the agent's CLI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kumiai.composition import build_container, open_database
from kumiai.core.config import load_settings
from kumiai.core.exceptions import AgentBackendUnavailableError
from kumiai.infrastructure.claude import AnthropicRuntime
from kumiai.infrastructure.cli import CliDiscoverer
from kumiai.infrastructure.cli_agents.codex import CodexBackend
from kumiai.infrastructure.cli_agents.router import BackendRouter, CliRuntimes, CliSetup
from kumiai.infrastructure.cli_agents.runtime import BackendModels
from tests.integration.cli_agents.cases import KEY_VARIABLE
from tests.integration.cli_agents.helpers import installed_cli, turn_request
from tests.support.scripted_anthropic import Reply, ScriptedAnthropic
from tests.support.scripted_openai import ScriptedResponses, codex_provider
from tests.support.sinks import RecordingSink, ScriptedTools

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ScriptedAnthropic, ScriptedResponses]]:
    with ScriptedAnthropic() as claude, ScriptedResponses() as openai:
        yield claude, openai


@pytest.fixture
async def router(
    servers: tuple[ScriptedAnthropic, ScriptedResponses], tmp_path: Path
) -> AsyncIterator[BackendRouter]:
    claude, openai = servers
    claude.reset()
    openai.reset()
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    codex = CliSetup(
        models=BackendModels(("gpt-scripted",)),
        backend=CodexBackend(config=codex_provider(openai, KEY_VARIABLE)),
        environment={"CODEX_HOME": str(codex_home), KEY_VARIABLE: "test-key"},
    )
    # The discovery the settings configure: codex where the tests install it, gemini at
    # a path with nothing there.
    discovery = CliDiscoverer(
        {"codex": installed_cli("codex"), "gemini": tmp_path / "nowhere" / "gemini"}
    )
    router = BackendRouter(
        AnthropicRuntime("test-key", claude.base_url),
        CliRuntimes(tmp_path / "state", discovery, {"codex": codex}),
    )
    yield router
    await router.aclose()


async def test_a_claude_agent_s_turn_runs_on_claude_and_a_codex_one_in_codex(
    router: BackendRouter, servers: tuple[ScriptedAnthropic, ScriptedResponses], project: Path
) -> None:
    claude, openai = servers
    claude.enqueue(Reply.text("From Claude."))
    openai.enqueue(Reply.text("From Codex."))

    on_claude, on_codex = RecordingSink(), RecordingSink()
    await router.run_turn(turn_request(project, HELLO), ScriptedTools(), on_claude)
    await router.run_turn(turn_request(project, HELLO, backend="codex"), ScriptedTools(), on_codex)

    assert on_claude.of("text_done") == [("text_done", 0, "From Claude.")]
    assert on_codex.of("text_done") == [("text_done", 0, "From Codex.")]
    assert (len(claude.requests), len(openai.requests)) == (1, 1)


async def test_a_backend_whose_cli_is_missing_fails_the_turn_naming_it(
    router: BackendRouter, project: Path
) -> None:
    with pytest.raises(AgentBackendUnavailableError) as raised:
        await router.run_turn(
            turn_request(project, HELLO, backend="gemini"), ScriptedTools(), RecordingSink()
        )

    assert raised.value.message.startswith("the gemini runtime is not available")
    assert "KUMIAI_GEMINI_CLI is not an executable file" in raised.value.message
    assert "nowhere/gemini" in raised.value.message


async def test_an_unknown_backend_fails_the_turn_listing_the_known_ones(
    router: BackendRouter, project: Path
) -> None:
    with pytest.raises(AgentBackendUnavailableError) as raised:
        await router.run_turn(
            turn_request(project, HELLO, backend="cobol"), ScriptedTools(), RecordingSink()
        )

    assert raised.value.details["known"] == ["claude", "codex", "gemini", "opencode"]


async def test_the_server_runs_codex_turns_in_the_configured_cli_with_the_configured_settings(
    servers: tuple[ScriptedAnthropic, ScriptedResponses],
    tmp_path: Path,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, openai = servers
    openai.reset()
    openai.enqueue(Reply.text("Configured."))
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    monkeypatch.setenv("CODEX_HOME", str(codex_home))
    monkeypatch.setenv(KEY_VARIABLE, "test-key")
    settings = load_settings(
        home=tmp_path / "home",
        database_url="postgresql://nobody@127.0.0.1:1/none",
        codex_cli=installed_cli("codex"),
        codex_models=json.dumps(["gpt-configured"]),
        codex_config=json.dumps(codex_provider(openai, KEY_VARIABLE)),
        _env_file=None,
    )
    container = build_container(settings, open_database(settings, settings.database_url or ""))
    sink = RecordingSink()
    try:
        await container.agent_runtime.run_turn(
            turn_request(project, HELLO, backend="codex"), ScriptedTools(), sink
        )
    finally:
        await container.aclose()

    assert sink.of("text_done") == [("text_done", 0, "Configured.")]
    assert openai.requests[0].model == "gpt-configured"
