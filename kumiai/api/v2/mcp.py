"""MCP servers: the ones agents can be given, and editing KumiAI's own list of them.

Env values and headers never leave the server: responses show their names with the
value `<redacted>`, and sending `<redacted>` back in an update keeps the stored value.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response, status

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.schemas import Envelope
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.mcp import (
    McpServerCreate,
    McpServerDetail,
    McpServerInput,
    McpTestResult,
)

router = FlatRouter(prefix="/mcp/servers", tags=["mcp"])

Name = Annotated[str, Path(description="The server's name, as in `allowed_mcps`.")]


@router.get("", responses=errors())
async def list_servers(container: ContainerDep) -> Envelope[list[McpServerDetail]]:
    """KumiAI's servers, then those only Claude Code's `~/.claude.json` defines."""
    return Envelope(data=container.mcp.servers())


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(409, 422))
async def add_server(data: McpServerCreate, container: ContainerDep) -> Envelope[McpServerDetail]:
    """Add a server to `$KUMIAI_HOME/mcp_servers.json`. A name that Claude Code's config
    also defines is allowed: KumiAI's definition then wins."""
    return Envelope(data=container.mcp.add(data))


@router.get("/{name}", responses=errors(404))
async def get_server(name: Name, container: ContainerDep) -> Envelope[McpServerDetail]:
    return Envelope(data=container.mcp.get(name))


@router.put("/{name}", responses=errors(404, 409, 422))
async def update_server(
    name: Name, data: McpServerInput, container: ContainerDep
) -> Envelope[McpServerDetail]:
    """Replace a server of KumiAI's file (409 for one only Claude Code's config defines).
    Sessions using it restart it with the new definition on their next use."""
    return Envelope(data=container.mcp.update(name, data))


@router.delete(
    "/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(404, 409),
)
async def remove_server(name: Name, container: ContainerDep) -> None:
    """Remove a server from KumiAI's file (409 for one only Claude Code's config defines)."""
    container.mcp.remove(name)


@router.post("/{name}/test", responses=errors(404))
async def test_server(name: Name, container: ContainerDep) -> Envelope[McpTestResult]:
    """Start the server on its own, list its tools and stop it. A server that cannot be
    reached is `ok: false` with the reason, not an HTTP error."""
    return Envelope(data=await container.mcp_sessions.test(name))
