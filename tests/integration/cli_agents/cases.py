"""Each agent CLI as the shared scenarios see it: its scripted server, its runtime, and
how its requests and tools look."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kumiai.infrastructure.cli_agents.codex import CodexBackend
from kumiai.infrastructure.cli_agents.gemini import GeminiBackend
from kumiai.infrastructure.cli_agents.opencode import OpenCodeBackend
from kumiai.infrastructure.cli_agents.runtime import BackendModels, CliAgentRuntime, McpServers
from tests.integration.cli_agents.helpers import installed_cli
from tests.support.scripted_anthropic import RecordedRequest, ScriptedAnthropic, ToolUse
from tests.support.scripted_gemini import ScriptedGemini, contents_texts
from tests.support.scripted_openai import (
    NAMESPACE_SEPARATOR,
    ScriptedResponses,
    codex_provider,
    input_texts,
)

KEY_VARIABLE = "KUMIAI_SCRIPTED_KEY"


@dataclass(frozen=True)
class CliCase:
    name: str
    server: type[ScriptedAnthropic]
    models: tuple[str, ...]
    build: Callable[[ScriptedAnthropic, Path, McpServers | None], CliAgentRuntime]
    write_file: Callable[[Path, str], ToolUse]
    """A tool call of this CLI that writes ``text`` to a file."""
    user_texts: Callable[[RecordedRequest], list[str]]
    assistant_texts: Callable[[RecordedRequest], list[str]]
    system_text: Callable[[RecordedRequest], str]
    model_of: Callable[[RecordedRequest], str | None]
    mcp_tool: Callable[[str, str], str]
    """The name the model calls an MCP server's tool by."""

    def runtime(
        self, server: ScriptedAnthropic, folder: Path, mcp_servers: McpServers | None = None
    ) -> CliAgentRuntime:
        return self.build(server, folder, mcp_servers)


def _codex(
    server: ScriptedAnthropic, folder: Path, mcp_servers: McpServers | None
) -> CliAgentRuntime:
    assert isinstance(server, ScriptedResponses)
    codex_home = folder / "codex-home"
    codex_home.mkdir()
    return CliAgentRuntime(
        CodexBackend(config=codex_provider(server, KEY_VARIABLE)),
        installed_cli("codex"),
        folder / "state",
        models=BackendModels(CODEX.models),
        environment={"CODEX_HOME": str(codex_home), KEY_VARIABLE: "test-key"},
        mcp_servers=mcp_servers,
    )


def _gemini(
    server: ScriptedAnthropic, folder: Path, mcp_servers: McpServers | None
) -> CliAgentRuntime:
    return CliAgentRuntime(
        GeminiBackend(user_dir=folder / "user-gemini"),
        installed_cli("gemini"),
        folder / "state",
        models=BackendModels(GEMINI.models),
        environment={"GEMINI_API_KEY": "test-key", "GOOGLE_GEMINI_BASE_URL": server.base_url},
        mcp_servers=mcp_servers,
    )


def _opencode(
    server: ScriptedAnthropic, folder: Path, mcp_servers: McpServers | None
) -> CliAgentRuntime:
    provider = {
        "npm": "@ai-sdk/anthropic",
        "options": {"baseURL": f"{server.base_url}/v1", "apiKey": "test-key"},
        "models": {model.split("/", 1)[1]: {} for model in OPENCODE.models},
    }
    return CliAgentRuntime(
        OpenCodeBackend(config={"provider": {"scripted": provider}}),
        installed_cli("opencode"),
        folder / "state",
        models=BackendModels(OPENCODE.models),
        # OpenCode installs its plugin package in the background: never from a test.
        environment={"npm_config_offline": "true", "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1"},
        mcp_servers=mcp_servers,
    )


def _anthropic_texts(request: RecordedRequest, role: str) -> list[str]:
    return [
        str(block.get("text"))
        for message in request.messages
        if message["role"] == role
        for block in (
            [{"type": "text", "text": message["content"]}]
            if isinstance(message["content"], str)
            else message["content"]
        )
        if block.get("type") == "text"
    ]


CODEX = CliCase(
    name="codex",
    server=ScriptedResponses,
    models=("gpt-scripted", "gpt-other"),
    build=_codex,
    write_file=lambda path, text: ToolUse("exec_command", {"cmd": f"printf {text} > {path}"}),
    user_texts=lambda request: input_texts(request, "user"),
    assistant_texts=lambda request: input_texts(request, "assistant"),
    system_text=lambda request: "\n".join(input_texts(request, "developer")),
    model_of=lambda request: request.model,
    mcp_tool=lambda server, tool: f"mcp__{server}{NAMESPACE_SEPARATOR}{tool}",
)
GEMINI = CliCase(
    name="gemini",
    server=ScriptedGemini,
    models=("gemini-scripted", "gemini-other"),
    build=_gemini,
    write_file=lambda path, text: ToolUse("write_file", {"file_path": str(path), "content": text}),
    user_texts=lambda request: contents_texts(request, "user"),
    assistant_texts=lambda request: contents_texts(request, "model"),
    system_text=lambda request: json.dumps(request.body.get("systemInstruction")),
    model_of=lambda request: request.path.rsplit("/", 1)[-1].partition(":")[0],
    mcp_tool=lambda server, tool: f"mcp_{server}_{tool}",
)
OPENCODE = CliCase(
    name="opencode",
    server=ScriptedAnthropic,
    models=("scripted/opencode-scripted", "scripted/opencode-other"),
    build=_opencode,
    write_file=lambda path, text: ToolUse("write", {"filePath": str(path), "content": text}),
    user_texts=lambda request: _anthropic_texts(request, "user"),
    assistant_texts=lambda request: _anthropic_texts(request, "assistant"),
    system_text=lambda request: json.dumps(request.system),
    model_of=lambda request: f"scripted/{request.model}",
    mcp_tool=lambda server, tool: f"{server}_{tool}",
)
CASES = {case.name: case for case in (CODEX, GEMINI, OPENCODE)}
