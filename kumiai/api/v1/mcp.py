"""v1 MCP servers (V1_CONTRACT §2.6): the choices of the agent editor's MCP picker."""

from __future__ import annotations

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.application.dtos.mcp import McpServerView

router = FlatRouter(prefix="/mcp", tags=["v1 mcp"])


@router.get("/servers")
async def list_mcp_servers(container: ContainerDep) -> list[McpServerView]:
    """The servers under `mcpServers` in `$KUMIAI_HOME/mcp_servers.json` (the format of
    Claude Code's `.mcp.json`); an empty list when the file is missing or malformed."""
    return container.mcp.list_servers()
