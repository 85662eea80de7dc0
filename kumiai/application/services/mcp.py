"""MCP servers the user configured, offered by the agent editor's picker.

They are read from ``$KUMIAI_HOME/mcp_servers.json`` in the format of Claude Code's
``.mcp.json``: ``{"mcpServers": {"<id>": {"command": ..., "args": [...]}}}`` or, for
a remote server, ``{"type": "http", "url": ...}``. Entries may add ``name``,
``description`` and ``disabled``. KumiAI only lists them; it does not run them.
"""

from __future__ import annotations

import json
from typing import Any

from kumiai.application.dtos.mcp import McpServerView
from kumiai.application.ports.files import TextSource
from kumiai.core.exceptions import ValidationError
from kumiai.core.logging import get_logger

logger = get_logger(__name__)

MCP_SERVERS_FILE = "mcp_servers.json"

# Secrets stay on disk: the list is for choosing servers, not for connecting to them.
_SECRET_KEYS = frozenset({"env", "headers"})


class McpService:
    def __init__(self, source: TextSource) -> None:
        self._source = source

    def list_servers(self) -> list[McpServerView]:
        """The configured servers in file order; none when the file is missing.

        Listing never fails: a malformed file or entry is logged and left out.
        """
        servers = []
        for server_id, entry in self._entries().items():
            if isinstance(entry, dict):
                servers.append(_server(server_id, entry))
            else:
                logger.warning("mcp_server_skipped", server_id=server_id, reason="not an object")
        return servers

    def _entries(self) -> dict[str, Any]:
        try:
            text = self._source.read()
            document = {} if text is None else json.loads(text)
        except (ValidationError, ValueError) as problem:
            logger.warning("mcp_servers_unreadable", file=MCP_SERVERS_FILE, reason=str(problem))
            return {}
        servers = document.get("mcpServers", {}) if isinstance(document, dict) else None
        if not isinstance(servers, dict):
            logger.warning(
                "mcp_servers_unreadable", file=MCP_SERVERS_FILE, reason="no mcpServers object"
            )
            return {}
        return servers


def _server(server_id: str, entry: dict[str, Any]) -> McpServerView:
    return McpServerView(
        id=server_id,
        name=_text(entry.get("name")) or server_id,
        description=_text(entry.get("description")),
        command=_command(entry),
        config={key: value for key, value in entry.items() if key not in _SECRET_KEYS},
        status="inactive" if entry.get("disabled") is True else "active",
    )


def _command(entry: dict[str, Any]) -> str:
    command = _text(entry.get("command"))
    if not command:
        return _text(entry.get("url"))
    args = entry.get("args")
    if isinstance(args, list):
        return " ".join([command, *(str(arg) for arg in args)])
    return command


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
