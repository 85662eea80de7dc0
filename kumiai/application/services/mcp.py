"""MCP servers the user configured: listed, edited, and resolved for agents.

(Running them for sessions is :mod:`.mcp_sessions`' job.)

Two files hold them, both in Claude Code's ``mcpServers`` format
(``{"mcpServers": {"<name>": {"command": ..., "args": [...], "env": {...}}}}`` or, for
a remote server, ``{"type": "http" | "sse", "url": ..., "headers": {...}}``):

- ``$KUMIAI_HOME/mcp_servers.json``, KumiAI's own, which the API edits;
- the user's Claude Code config ``~/.claude.json``, read only.

KumiAI's file wins when both name the same server. Entries may add ``description``
and ``disabled``. A malformed file or entry is logged and left out, never fatal.
Env values and headers are secrets: they reach the server process and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from kumiai.application.dtos.mcp import (
    REDACTED,
    McpServerCreate,
    McpServerDetail,
    McpServerInput,
    McpServerView,
)
from kumiai.application.ports.files import TextFile, TextSource
from kumiai.application.ports.mcp import McpServerDefinition, Source
from kumiai.core.exceptions import ConflictError, NotFoundError, ValidationError
from kumiai.core.logging import get_logger

logger = get_logger(__name__)

MCP_SERVERS_FILE = "mcp_servers.json"
CLAUDE_CONFIG_FILE = "~/.claude.json"

# The orchestration tools already use these names (mcp__pm_management__..., ...).
RESERVED_NAMES = frozenset({"pm_management", "common_tools"})
_SECRET_KEYS = frozenset({"env", "headers"})
_REMOTE_TYPES = {"http": "http", "streamable-http": "http", "streamable_http": "http", "sse": "sse"}


@dataclass(frozen=True)
class McpResolution:
    """The servers a character may use, and why any of its ``allowed_mcps`` cannot run."""

    servers: list[McpServerDefinition]
    unavailable: dict[str, str] = field(default_factory=dict)


class McpConfig:
    def __init__(self, kumiai_file: TextFile, claude_config: TextSource) -> None:
        self._kumiai_file = kumiai_file
        self._claude_config = claude_config

    # --- reading ------------------------------------------------------------------------

    def definitions(self) -> list[McpServerDefinition]:
        """Every configured server: KumiAI's in file order, then Claude Code's new names."""
        merged = {server.name: server for server in self._read(self._claude_config, "claude_code")}
        ours = {server.name: server for server in self._read(self._kumiai_file, "kumiai")}
        return [*ours.values(), *(s for name, s in merged.items() if name not in ours)]

    def list_servers(self) -> list[McpServerView]:
        """The v1 list for the agent editor's picker, without secrets."""
        return [_view(server, self._raw_entry(server)) for server in self.definitions()]

    def servers(self) -> list[McpServerDetail]:
        return [McpServerDetail.of(server) for server in self.definitions()]

    def get(self, name: str) -> McpServerDetail:
        return McpServerDetail.of(self.definition(name))

    def resolve(self, names: Sequence[str]) -> McpResolution:
        """The servers behind a character's ``allowed_mcps``, for running its sessions.

        The same resolution serves anything else that runs an agent (e.g. a Claude Code
        config built for a character).
        """
        known = {server.name: server for server in self.definitions()}
        servers: list[McpServerDefinition] = []
        unavailable: dict[str, str] = {}
        for name in dict.fromkeys(names):
            server = known.get(name)
            if server is None:
                unavailable[name] = f"no MCP server named '{name}' is configured"
            elif server.disabled:
                unavailable[name] = f"MCP server '{name}' is disabled"
            elif name in RESERVED_NAMES:
                unavailable[name] = f"'{name}' is reserved for KumiAI's own tools"
            else:
                servers.append(server)
        return McpResolution(servers, unavailable)

    # --- editing (KumiAI's file only) ---------------------------------------------------

    def add(self, data: McpServerCreate) -> McpServerDetail:
        _check_name(data.name)
        document, entries = self._editable_document()
        if data.name in entries:
            raise ConflictError(
                f"an MCP server named '{data.name}' already exists", details={"name": data.name}
            )
        entries[data.name] = _entry(data, {})
        self._save(document, entries)
        logger.info("mcp_server_added", server=data.name)
        return self.get(data.name)

    def update(self, name: str, data: McpServerInput) -> McpServerDetail:
        """Replace a server's definition; redacted env values and headers keep theirs."""
        document, entries = self._editable_document()
        current = entries.get(name)
        if not isinstance(current, dict):
            self._refuse_foreign(name)
        entries[name] = _entry(data, current)
        self._save(document, entries)
        logger.info("mcp_server_updated", server=name)
        return self.get(name)

    def remove(self, name: str) -> None:
        document, entries = self._editable_document()
        if name not in entries:
            self._refuse_foreign(name)
        del entries[name]
        self._save(document, entries)
        logger.info("mcp_server_removed", server=name)

    # --- files --------------------------------------------------------------------------

    def definition(self, name: str) -> McpServerDefinition:
        """The server named ``name``; 404 when nobody defines it."""
        for server in self.definitions():
            if server.name == name:
                return server
        raise NotFoundError("mcp server", name)

    def _refuse_foreign(self, name: str) -> NoReturn:
        self.definition(name)  # 404 when nobody defines it
        raise ConflictError(
            f"MCP server '{name}' comes from {CLAUDE_CONFIG_FILE}, which KumiAI does not edit; "
            "add a server with the same name to override it",
            details={"name": name, "source": "claude_code"},
        )

    def _read(self, source: TextSource, origin: Source) -> list[McpServerDefinition]:
        servers = []
        for name, entry in _entries(source, origin).items():
            server = _definition(name, entry, origin)
            if server is None:
                logger.warning("mcp_server_skipped", server=name, source=origin)
            else:
                servers.append(server)
        return servers

    def _raw_entry(self, server: McpServerDefinition) -> dict[str, Any]:
        source = self._kumiai_file if server.source == "kumiai" else self._claude_config
        entry = _entries(source, server.source).get(server.name)
        return entry if isinstance(entry, dict) else {}

    def _editable_document(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """KumiAI's file as a document to change; refuses to overwrite a broken one."""
        text = self._kumiai_file.read()
        try:
            document = {} if text is None or not text.strip() else json.loads(text)
        except ValueError as problem:
            raise ValidationError(f"{MCP_SERVERS_FILE} is not valid JSON: {problem}") from None
        entries = document.get("mcpServers", {}) if isinstance(document, dict) else None
        if not isinstance(entries, dict):
            raise ValidationError(f"{MCP_SERVERS_FILE} has no mcpServers object")
        return document, entries

    def _save(self, document: dict[str, Any], entries: dict[str, Any]) -> None:
        document["mcpServers"] = entries
        self._kumiai_file.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _check_name(name: str) -> None:
    if name in RESERVED_NAMES:
        raise ValidationError(
            f"'{name}' is reserved for KumiAI's own tools", details={"field": "name"}
        )


def _entries(source: TextSource, origin: Source) -> dict[str, Any]:
    where = MCP_SERVERS_FILE if origin == "kumiai" else CLAUDE_CONFIG_FILE
    try:
        text = source.read()
        document = {} if text is None or not text.strip() else json.loads(text)
    except (ValidationError, ValueError) as problem:
        logger.warning("mcp_servers_unreadable", file=where, reason=str(problem))
        return {}
    if not isinstance(document, dict):
        logger.warning("mcp_servers_unreadable", file=where, reason="not a JSON object")
        return {}
    servers = document.get("mcpServers", {})
    if not isinstance(servers, dict):
        logger.warning("mcp_servers_unreadable", file=where, reason="no mcpServers object")
        return {}
    return servers


def _definition(name: str, entry: object, origin: Source) -> McpServerDefinition | None:
    """A Claude Code ``mcpServers`` entry; None when it cannot describe a server."""
    if not isinstance(entry, dict):
        return None
    kind = entry.get("type")
    command, url = _text(entry.get("command")), _text(entry.get("url"))
    if kind in (None, "stdio") and command:
        transport = "stdio"
    elif (kind in _REMOTE_TYPES or kind is None) and url:
        transport = _REMOTE_TYPES.get(str(kind), "http")
    else:
        return None
    return McpServerDefinition(
        name=name,
        transport=transport,  # type: ignore[arg-type]
        source=origin,
        command=command,
        args=tuple(str(arg) for arg in _list(entry.get("args"))),
        env=_strings(entry.get("env")),
        url=url,
        headers=_strings(entry.get("headers")),
        description=_text(entry.get("description")),
        disabled=entry.get("disabled") is True,
    )


def _entry(data: McpServerInput, current: dict[str, Any]) -> dict[str, Any]:
    """The file entry for ``data``, in Claude Code's format."""
    entry: dict[str, Any] = {"type": data.transport}
    if data.transport == "stdio":
        entry["command"] = data.command
        entry["args"] = list(data.args)
        if data.env:
            entry["env"] = _unredacted(data.env, current.get("env"), "env")
    else:
        entry["url"] = data.url
        if data.headers:
            entry["headers"] = _unredacted(data.headers, current.get("headers"), "headers")
    if data.description:
        entry["description"] = data.description
    if data.disabled:
        entry["disabled"] = True
    return entry


def _unredacted(values: dict[str, str], stored: object, field_name: str) -> dict[str, str]:
    known = _strings(stored)
    result = {}
    for key, value in values.items():
        if value != REDACTED:
            result[key] = value
        elif key in known:
            result[key] = known[key]
        else:
            raise ValidationError(
                f"{field_name}.{key} is {REDACTED!r} but no value is stored to keep",
                details={"field": f"{field_name}.{key}"},
            )
    return result


def _view(server: McpServerDefinition, entry: dict[str, Any]) -> McpServerView:
    stdio = server.transport == "stdio"
    command = " ".join([server.command, *server.args]) if stdio else server.url
    return McpServerView(
        id=server.name,
        name=_text(entry.get("name")) or server.name,
        description=server.description,
        command=command,
        config={key: value for key, value in entry.items() if key not in _SECRET_KEYS},
        status="inactive" if server.disabled else "active",
        source=server.source,
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(key): str(item) for key, item in value.items() if item is not None}
