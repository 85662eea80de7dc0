"""OpenCode (``opencode-ai``): ``opencode run --format json``, resumed with ``--session``.

- KumiAI's settings arrive as ``OPENCODE_CONFIG_CONTENT``, which OpenCode applies over
  every config file: the system prompt is an ``instructions`` file in the session's run
  folder; the project's own ``opencode.json`` is not loaded; the user's login and
  providers (``~/.local/share/opencode``, ``~/.config/opencode``) still are.
- Files: edits are allowed without asking, inside the session's folder only
  (``external_directory`` is denied); shell commands and web fetches are denied. An
  agent that may not edit has edits denied too.
- The session is titled by KumiAI, so OpenCode makes no extra model request for a title.
- The stream reports finished parts: each ``text`` part is one text block, each
  ``tool_use`` part a finished tool call, each ``step_finish`` one model response with
  its usage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kumiai.application.ports.agent_runtime import ToolCall, ToolOutcome, Usage
from kumiai.application.ports.mcp import McpServerDefinition
from kumiai.core.logging import get_logger
from kumiai.domain.value_objects import CliBackend
from kumiai.infrastructure.cli_agents.runtime import CliResult, CliTurn, Invocation
from kumiai.infrastructure.cli_agents.writer import TurnWriter

logger = get_logger(__name__)

INSTRUCTIONS_FILE = "AGENTS.md"
TITLE = "KumiAI session"
# OpenCode checks for no update and shares no session for KumiAI's turns.
QUIET_ENVIRONMENT = {
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_PROJECT_CONFIG": "1",
    # The agent's instructions are KumiAI's, not the user's Claude Code ones.
    "OPENCODE_DISABLE_CLAUDE_CODE": "1",
}


def merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` laid over it, objects merged key by key."""
    result = dict(base)
    for key, value in extra.items():
        current = result.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            result[key] = merged(current, value)
        else:
            result[key] = value
    return result


@dataclass(frozen=True)
class OpenCodeBackend:
    """How KumiAI runs OpenCode; ``config`` is laid over KumiAI's (a provider, say)."""

    config: Mapping[str, Any] = field(default_factory=dict)
    name: str = "opencode"
    label: str = CliBackend.OPENCODE.label

    def invocation(self, turn: CliTurn) -> Invocation:
        instructions = turn.run_dir / INSTRUCTIONS_FILE
        instructions.write_text(turn.request.system, encoding="utf-8")
        edit = "allow" if turn.may_edit else "deny"
        settings: dict[str, Any] = {
            "autoupdate": False,
            "share": "disabled",
            "instructions": [str(instructions)],
            "permission": {
                "edit": edit,
                "bash": "deny",
                "webfetch": "deny",
                "external_directory": "deny",
            },
        }
        if turn.mcp_servers:
            settings["mcp"] = {server.name: _mcp_entry(server) for server in turn.mcp_servers}
        arguments = ["run", "--format", "json", "--title", TITLE]
        arguments += ["--dir", turn.workspace.working_dir]
        if turn.model is not None:
            arguments += ["--model", turn.model]
        if turn.resume is not None:
            arguments += ["--session", turn.resume]
        environment = {
            **QUIET_ENVIRONMENT,
            "OPENCODE_CONFIG_CONTENT": json.dumps(merged(settings, self.config)),
        }
        # The message is read from stdin: no length limit, never taken for an option.
        return Invocation(arguments, environment=environment, stdin=turn.prompt.encode())

    def reader(self, writer: TurnWriter) -> OpenCodeReader:
        return OpenCodeReader(writer)


def _mcp_entry(server: McpServerDefinition) -> dict[str, Any]:
    if server.transport == "stdio":
        command = [server.command, *server.args]
        return {"type": "local", "command": command, "environment": dict(server.env)}
    return {"type": "remote", "url": server.url, "headers": dict(server.headers)}


@dataclass
class OpenCodeReader:
    """Turns ``opencode run --format json`` events into sink calls."""

    writer: TurnWriter
    session_id: str | None = None
    _finished: bool = False
    _error: str | None = None

    async def on_event(self, event: dict[str, Any]) -> None:
        self.session_id = str(event.get("sessionID") or self.session_id or "") or None
        kind = event.get("type")
        part = event.get("part") or {}
        if kind == "text":
            await self.writer.text(str(part.get("text") or ""))
        elif kind == "tool_use":
            await self._tool(part)
        elif kind == "step_finish":
            await self._step_finish(part)
        elif kind == "error":
            self._error = _error_message(event.get("error"))

    async def _tool(self, part: dict[str, Any]) -> None:
        state = part.get("state") or {}
        arguments = state.get("input")
        call = ToolCall(
            str(part.get("callID") or part.get("id")),
            str(part.get("tool")),
            arguments if isinstance(arguments, dict) else {},
        )
        failed = state.get("status") == "error"
        output = state.get("error") if failed else state.get("output")
        await self.writer.tool(call, ToolOutcome(str(output or ""), failed))

    async def _step_finish(self, part: dict[str, Any]) -> None:
        tokens = part.get("tokens") or {}
        cache = tokens.get("cache") or {}

        def number(source: Mapping[str, Any], key: str) -> int:
            value = source.get(key)
            return value if isinstance(value, int) else 0

        usage = Usage(
            input_tokens=number(tokens, "input"),
            output_tokens=number(tokens, "output"),
            cache_creation_input_tokens=number(cache, "write"),
            cache_read_input_tokens=number(cache, "read"),
        )
        reason = str(part.get("reason") or "")
        await self.writer.usage(usage, "tool_use" if reason == "tool-calls" else "end_turn")
        self._finished = True

    def result(self) -> CliResult | None:
        if self._error is not None:
            return CliResult(self.session_id, error=self._error)
        return CliResult(self.session_id) if self._finished else None


def _error_message(error: object) -> str:
    if isinstance(error, dict):
        data = error.get("data") or {}
        message = data.get("message") if isinstance(data, dict) else None
        return str(message or error.get("name") or "the turn failed")
    return str(error or "the turn failed")
