"""Each agent CLI as the shared scenarios see it: its scripted server, its runtime, and
how its requests and tools look."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kumiai.infrastructure.cli_agents.codex import CodexBackend
from kumiai.infrastructure.cli_agents.gemini import GeminiBackend
from kumiai.infrastructure.cli_agents.runtime import BackendModels, CliAgentRuntime
from tests.integration.cli_agents.conftest import installed_cli
from tests.support.scripted_anthropic import RecordedRequest, ScriptedAnthropic, ToolUse
from tests.support.scripted_gemini import ScriptedGemini, contents_texts
from tests.support.scripted_openai import ScriptedResponses, codex_provider, input_texts

KEY_VARIABLE = "KUMIAI_SCRIPTED_KEY"


@dataclass(frozen=True)
class CliCase:
    name: str
    server: type[ScriptedAnthropic]
    models: tuple[str, ...]
    build: Callable[[ScriptedAnthropic, Path], CliAgentRuntime]
    write_file: Callable[[Path, str], ToolUse]
    """A tool call of this CLI that writes ``text`` to a file."""
    user_texts: Callable[[RecordedRequest], list[str]]
    assistant_texts: Callable[[RecordedRequest], list[str]]
    system_text: Callable[[RecordedRequest], str]
    model_of: Callable[[RecordedRequest], str | None]

    def runtime(self, server: ScriptedAnthropic, folder: Path) -> CliAgentRuntime:
        return self.build(server, folder)


def _codex(server: ScriptedAnthropic, folder: Path) -> CliAgentRuntime:
    assert isinstance(server, ScriptedResponses)
    codex_home = folder / "codex-home"
    codex_home.mkdir()
    return CliAgentRuntime(
        CodexBackend(config=codex_provider(server, KEY_VARIABLE)),
        installed_cli("codex"),
        folder / "state",
        models=BackendModels(CODEX.models),
        environment={"CODEX_HOME": str(codex_home), KEY_VARIABLE: "test-key"},
    )


def _gemini(server: ScriptedAnthropic, folder: Path) -> CliAgentRuntime:
    return CliAgentRuntime(
        GeminiBackend(user_dir=folder / "user-gemini"),
        installed_cli("gemini"),
        folder / "state",
        models=BackendModels(GEMINI.models),
        environment={"GEMINI_API_KEY": "test-key", "GOOGLE_GEMINI_BASE_URL": server.base_url},
    )


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
)
CASES = {case.name: case for case in (CODEX, GEMINI)}
