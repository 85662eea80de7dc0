"""A small MCP server (stdio, official SDK) for tests of agents' MCP tools.

Run it as ``python tests/support/mcp_probe_server.py``; a test's ``mcp_servers.json``
names it as a stdio server. Its tools answer deterministically, crash the process, or
take their time, so tests can check results, crashes and cancellation.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer

SCRIPT = Path(__file__).resolve()

server = MCPServer("probe")


@server.tool()
def echo(text: str) -> str:
    """Return the text, prefixed with 'echo: '."""
    return f"echo: {text}"


@server.tool()
def whoami() -> str:
    """Report the working directory and the PROBE_SECRET environment variable."""
    return f"cwd={os.getcwd()} secret={os.environ.get('PROBE_SECRET', '')}"


@server.tool()
def crash() -> str:
    """End the server process at once, as a crashing server would."""
    sys.stdout.flush()
    os._exit(3)


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep for the given number of seconds, then answer 'slept'."""
    await asyncio.sleep(seconds)
    return "slept"


def stdio_entry(**extra: object) -> dict[str, object]:
    """The ``mcpServers`` entry that starts this server with the running interpreter."""
    return {"command": sys.executable, "args": [str(SCRIPT)], **extra}


if __name__ == "__main__":
    server.run()
