"""Codex (``@openai/codex``): ``codex exec --json``, resumed with ``codex exec resume``.

- The system prompt is Codex's ``developer_instructions`` (a developer message added to
  Codex's own instructions); the user's ``config.toml`` is not loaded
  (``--ignore-user-config``), while their login (``CODEX_HOME``) still is.
- Files: Codex's ``workspace-write`` sandbox confines writes to the session's folder
  (``/tmp`` and ``$TMPDIR`` excluded), read-only when the agent may not edit; approvals
  are off (``never``), so a command the sandbox refuses fails instead of waiting.
- The agent's MCP servers are Codex's ``mcp_servers``, required (so ``codex exec`` waits
  for them) and approved: their tools are offered in a namespace per server.
- The stream reports whole messages and finished tool items: each ``agent_message`` is
  one text block; shell commands, file changes, MCP calls and web searches are tool
  calls with their results.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kumiai.application.ports.agent_runtime import ToolCall, ToolOutcome
from kumiai.application.ports.mcp import McpServerDefinition
from kumiai.core.logging import get_logger
from kumiai.domain.value_objects import CliBackend
from kumiai.infrastructure.cli_agents.runtime import CliResult, CliTurn, Invocation
from kumiai.infrastructure.cli_agents.writer import TurnWriter, usage_from

logger = get_logger(__name__)

# Codex runs no update check or analytics for KumiAI's turns.
QUIET = (
    "analytics.enabled=false",
    "check_for_update_on_startup=false",
    'history.persistence="none"',
)

# How Codex runs the agent's MCP servers. Required: `codex exec` waits for them to start;
# an optional server still starting after a second is left out of the model's tools
# (openai/codex#17904, #31641), as a Python server always is. Approved: a call runs
# without asking, as KumiAI's own MCP calls do (with approvals `never`, a call that must
# ask is refused).
MCP_SERVER_MODE = ("required=true", 'default_tools_approval_mode="approve"')


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (what ``-c key=value`` parses)."""
    escaped = json.dumps(text, ensure_ascii=False)
    # JSON leaves DEL raw, which TOML forbids in a basic string.
    return escaped.replace("\x7f", "\\u007f")


@dataclass(frozen=True)
class CodexBackend:
    """How KumiAI runs Codex. ``config`` adds ``key=value`` overrides (a model provider)."""

    config: Sequence[str] = ()
    name: str = "codex"
    label: str = CliBackend.CODEX.label

    def invocation(self, turn: CliTurn) -> Invocation:
        options = ["--json", "--skip-git-repo-check", "--ignore-user-config"]
        for setting in self._settings(turn):
            options += ["-c", setting]
        if turn.model is not None:
            options += ["-m", turn.model]
        servers, secrets = _mcp_settings(turn.mcp_servers)
        for setting in servers:
            options += ["-c", setting]
        resume = ["resume", turn.resume] if turn.resume else []
        # The prompt arrives on stdin ("-"): no length limit, and never read as an option.
        return Invocation(
            ["exec", *options, *resume, "-"], environment=secrets, stdin=turn.prompt.encode()
        )

    def _settings(self, turn: CliTurn) -> list[str]:
        return [
            'sandbox_mode="workspace-write"' if turn.may_edit else 'sandbox_mode="read-only"',
            'approval_policy="never"',
            "sandbox_workspace_write.exclude_slash_tmp=true",
            "sandbox_workspace_write.exclude_tmpdir_env_var=true",
            f"developer_instructions={toml_string(turn.request.system)}",
            *QUIET,
            *self.config,
        ]

    def reader(self, writer: TurnWriter) -> CodexReader:
        return CodexReader(writer)


def _mcp_settings(
    servers: Sequence[McpServerDefinition],
) -> tuple[list[str], dict[str, str]]:
    """``mcp_servers.<name>`` settings for Codex, and the secrets they name.

    Secrets (a server's environment, its HTTP headers) never go on the command line:
    they are set in Codex's environment, and the settings name the variables to pass on.
    """
    settings: list[str] = []
    secrets: dict[str, str] = {}
    for server in servers:
        if server.transport == "stdio":
            secrets.update(server.env)
            fields = [
                f"command={toml_string(server.command)}",
                f"args=[{', '.join(toml_string(argument) for argument in server.args)}]",
                f"env_vars=[{', '.join(toml_string(name) for name in server.env)}]",
            ]
        else:
            headers = {
                f"KUMIAI_MCP_{server.name.upper()}_{index}": (name, value)
                for index, (name, value) in enumerate(server.headers.items())
            }
            secrets.update({variable: value for variable, (_, value) in headers.items()})
            named = ", ".join(
                f"{toml_string(name)}={toml_string(variable)}"
                for variable, (name, _) in headers.items()
            )
            fields = [f"url={toml_string(server.url)}", f"env_http_headers={{{named}}}"]
        settings.append(f"mcp_servers.{server.name}={{{', '.join([*fields, *MCP_SERVER_MODE])}}}")
    return settings, secrets


@dataclass
class CodexReader:
    """Turns ``codex exec --json`` events into sink calls."""

    writer: TurnWriter
    thread_id: str | None = None
    _run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _ended: CliResult | None = None
    _last_error: str | None = None

    async def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "thread.started":
            self.thread_id = str(event.get("thread_id"))
        elif kind == "item.started":
            await self._started(event.get("item") or {})
        elif kind == "item.completed":
            await self._completed(event.get("item") or {})
        elif kind == "turn.completed":
            usage = usage_from(
                event.get("usage") or {},
                input_key="input_tokens",
                output_key="output_tokens",
                cached_key="cached_input_tokens",
            )
            await self.writer.usage(usage, "end_turn")
            self._ended = CliResult(self.thread_id)
        elif kind == "turn.failed":
            message = (event.get("error") or {}).get("message") or self._last_error
            self._ended = CliResult(self.thread_id, error=message or "the turn failed")
        elif kind == "error":
            # Retries announce themselves as errors; only turn.failed ends the turn.
            self._last_error = str(event.get("message") or "")
            logger.info("codex_error_event", message=self._last_error)

    def result(self) -> CliResult | None:
        return self._ended

    async def _started(self, item: dict[str, Any]) -> None:
        call = self._call(item)
        if call is not None:
            await self.writer.tool_use(call)

    async def _completed(self, item: dict[str, Any]) -> None:
        kind = item.get("type")
        if kind == "agent_message":
            await self.writer.text(str(item.get("text") or ""))
            return
        if kind == "error":
            logger.info("codex_warning", message=item.get("message"))
            return
        call = self._call(item)
        if call is not None:
            await self.writer.tool(call, _outcome(item))

    def _call(self, item: dict[str, Any]) -> ToolCall | None:
        """The tool call an item stands for; None for items that are not tools."""
        kind = item.get("type")
        call_id = f"codex_{self._run}_{item.get('id')}"
        if kind == "command_execution":
            return ToolCall(call_id, "Bash", {"command": str(item.get("command") or "")})
        if kind == "file_change":
            changes = [
                {"path": change.get("path"), "kind": change.get("kind")}
                for change in item.get("changes") or []
                if isinstance(change, dict)
            ]
            return ToolCall(call_id, "Edit", {"changes": changes})
        if kind == "mcp_tool_call":
            name = f"mcp__{item.get('server')}__{item.get('tool')}"
            arguments = item.get("arguments")
            return ToolCall(call_id, name, arguments if isinstance(arguments, dict) else {})
        if kind == "web_search":
            return ToolCall(call_id, "WebSearch", {"query": str(item.get("query") or "")})
        return None


def _outcome(item: dict[str, Any]) -> ToolOutcome:
    failed = item.get("status") == "failed"
    kind = item.get("type")
    if kind == "command_execution":
        code = item.get("exit_code")
        failed = failed or (isinstance(code, int) and code != 0)
        return ToolOutcome(str(item.get("aggregated_output") or ""), failed)
    if kind == "file_change":
        paths = ", ".join(str(change.get("path")) for change in item.get("changes") or [])
        return ToolOutcome(f"changed {paths}" if paths else "no change", failed)
    if kind == "mcp_tool_call":
        error = item.get("error")
        if error:
            message = error.get("message") if isinstance(error, dict) else error
            return ToolOutcome(str(message), True)
        return ToolOutcome(_mcp_text(item.get("result")), failed)
    return ToolOutcome("", failed)


def _mcp_text(result: object) -> str:
    if not isinstance(result, dict):
        return ""
    parts = result.get("content") or []
    return "\n".join(
        str(part.get("text", "")) for part in parts if isinstance(part, dict) and "text" in part
    )
