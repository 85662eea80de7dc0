"""Gemini CLI (``@google/gemini-cli``): ``gemini -o stream-json``, resumed with ``--resume``.

- Each KumiAI session has a Gemini home of its own in its run folder
  (``GEMINI_CLI_HOME``): the system prompt is that home's ``.gemini/GEMINI.md`` (Gemini's
  global context file, added to its own system prompt) and its ``settings.json`` is
  KumiAI's (telemetry, usage statistics and update checks off). The user's sign-in
  files are linked in from their own ``~/.gemini``, and their auth type copied, so their
  own login is used; their settings and context files are not.
- Files: ``--approval-mode auto_edit`` lets Gemini edit files inside the session's
  folder (its workspace) without asking; in headless mode tools that would need an
  approval (shell commands) are not offered. An agent that may not edit runs in
  ``plan`` mode (read-only).
- The stream reports text in chunks, tool calls with their results, and a result with
  usage; the CLI's session id (``init``) is what ``--resume`` continues.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kumiai.application.ports.agent_runtime import ToolCall, ToolOutcome
from kumiai.application.ports.mcp import McpServerDefinition
from kumiai.core.logging import get_logger
from kumiai.domain.value_objects import CliBackend
from kumiai.infrastructure.cli_agents.runtime import CliResult, CliTurn, Invocation
from kumiai.infrastructure.cli_agents.writer import TurnWriter, usage_from

logger = get_logger(__name__)

NO_SERVER = "common_tools"
SIGN_IN_FILES = ("oauth_creds.json", "google_accounts.json", "installation_id")
QUIET_SETTINGS: dict[str, Any] = {
    "telemetry": {"enabled": False},
    "privacy": {"usageStatisticsEnabled": False},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
}


def user_gemini_dir() -> Path:
    """The user's own Gemini folder: ``$GEMINI_CLI_HOME/.gemini``, else ``~/.gemini``."""
    home = os.environ.get("GEMINI_CLI_HOME")
    return (Path(home).expanduser() if home else Path.home()) / ".gemini"


@dataclass(frozen=True)
class GeminiBackend:
    """How KumiAI runs Gemini CLI; ``user_dir`` is where the user's sign-in lives."""

    user_dir: Path = field(default_factory=user_gemini_dir)
    name: str = "gemini"
    label: str = CliBackend.GEMINI.label

    def invocation(self, turn: CliTurn) -> Invocation:
        home = turn.run_dir / "home"
        self._prepare_home(home / ".gemini", turn)
        arguments = ["--output-format", "stream-json", "--skip-trust"]
        arguments += ["--approval-mode", "auto_edit" if turn.may_edit else "plan"]
        if turn.model is not None:
            arguments += ["--model", turn.model]
        if turn.resume is not None:
            arguments += ["--resume", turn.resume]
        # Only the agent's servers, whatever else a project's settings may name; with none,
        # a name KumiAI reserves for itself, which no configured server can have.
        names = [server.name for server in turn.mcp_servers] or [NO_SERVER]
        arguments += ["--allowed-mcp-server-names", ",".join(names)]
        # Headless because stdin is not a terminal; the prompt is read from it.
        # No relaunch: the CLI would otherwise start itself again in a child process.
        environment = {"GEMINI_CLI_HOME": str(home), "GEMINI_CLI_NO_RELAUNCH": "true"}
        return Invocation(arguments, environment=environment, stdin=turn.prompt.encode())

    def _prepare_home(self, folder: Path, turn: CliTurn) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "GEMINI.md").write_text(turn.request.system, encoding="utf-8")
        settings = dict(QUIET_SETTINGS)
        auth_type = self._auth_type(turn.environment)
        if auth_type is not None:
            settings["security"] = {"auth": {"selectedType": auth_type}}
        if turn.mcp_servers:
            settings["mcpServers"] = {
                server.name: _mcp_entry(server) for server in turn.mcp_servers
            }
        # The servers' secrets are in it: readable by the user only.
        settings_file = folder / "settings.json"
        settings_file.touch(mode=0o600)
        settings_file.write_text(json.dumps(settings, indent=2), encoding="utf-8")
        for name in SIGN_IN_FILES:
            _link(self.user_dir / name, folder / name)

    def _auth_type(self, environment: Mapping[str, str]) -> str | None:
        """The user's own auth type; an API key in the environment otherwise."""
        with contextlib.suppress(OSError, ValueError, AttributeError):
            settings = json.loads((self.user_dir / "settings.json").read_text(encoding="utf-8"))
            selected = settings["security"]["auth"]["selectedType"]
            if isinstance(selected, str):
                return selected
        if environment.get("GEMINI_API_KEY"):
            return "gemini-api-key"
        return None

    def reader(self, writer: TurnWriter) -> GeminiReader:
        return GeminiReader(writer)


def _mcp_entry(server: McpServerDefinition) -> dict[str, Any]:
    if server.transport == "stdio":
        return {"command": server.command, "args": list(server.args), "env": dict(server.env)}
    address = "httpUrl" if server.transport == "http" else "url"
    return {address: server.url, "headers": dict(server.headers)}


def _link(source: Path, target: Path) -> None:
    """``target`` points at ``source`` when the user has that file, and is gone otherwise."""
    if target.is_symlink() or target.exists():
        if target.is_symlink() and target.resolve() == source.resolve() and source.exists():
            return
        target.unlink()
    if source.exists():
        target.symlink_to(source)


@dataclass
class GeminiReader:
    """Turns ``gemini -o stream-json`` events into sink calls."""

    writer: TurnWriter
    session_id: str | None = None
    _ended: CliResult | None = None

    async def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "init":
            self.session_id = str(event.get("session_id"))
        elif kind == "message" and event.get("role") == "assistant":
            await self.writer.delta(str(event.get("content") or ""))
        elif kind == "tool_use":
            arguments = event.get("parameters")
            call = ToolCall(
                str(event.get("tool_id")),
                str(event.get("tool_name")),
                arguments if isinstance(arguments, dict) else {},
            )
            await self.writer.tool_use(call)
        elif kind == "tool_result":
            await self.writer.tool_result(str(event.get("tool_id")), _outcome(event))
        elif kind == "error":
            logger.info("gemini_warning", message=event.get("message"))
        elif kind == "result":
            await self._on_result(event)

    async def _on_result(self, event: dict[str, Any]) -> None:
        if event.get("status") != "success":
            error = event.get("error") or {}
            message = error.get("message") if isinstance(error, dict) else str(error)
            self._ended = CliResult(self.session_id, error=message or "the turn failed")
            return
        usage = usage_from(
            event.get("stats") or {},
            input_key="input_tokens",
            output_key="output_tokens",
            cached_key="cached",
        )
        await self.writer.usage(usage, "end_turn")
        self._ended = CliResult(self.session_id)

    def result(self) -> CliResult | None:
        return self._ended


def _outcome(event: dict[str, Any]) -> ToolOutcome:
    error = event.get("error")
    if event.get("status") == "error" or error:
        message = error.get("message") if isinstance(error, dict) else error
        return ToolOutcome(str(message or event.get("output") or "failed"), True)
    return ToolOutcome(str(event.get("output") or ""))
