"""The tools KumiAI gives agents, described for the v1 tool list."""

from __future__ import annotations

from collections.abc import Iterable

from kumiai.application.dtos.tools import ToolInfo
from kumiai.application.ports.agent_runtime import WEB_TOOL_SPECS
from kumiai.application.ports.tools import Tool

# Orchestration tools are named like MCP tools, ``mcp__<provider>__<tool>``, so the web
# client renders them; every other tool is built in.
_MCP_PREFIX = "mcp__"
BUILTIN_PROVIDER = "kumiai"

_WEB_TOOLS = [
    ToolInfo(
        id=spec.name,
        provider="anthropic",
        category="web",
        name=spec.name,
        description=spec.description,
        input_schema=spec.input_schema,
    )
    for spec in WEB_TOOL_SPECS.values()
]


class ToolCatalogService:
    def __init__(self, tools: Iterable[Tool]) -> None:
        # Several session types share tools, so the same name can come more than once.
        unique = {tool.spec.name: tool for tool in tools}
        self._tools = [_info(tool) for tool in unique.values()]

    def list_tools(self) -> list[ToolInfo]:
        """Every tool an agent of some session type may call: the file tools (Read,
        Write, Edit, Glob, Grep, Bash, TodoWrite), the orchestration tools, and the web
        tools a character may list in ``allowed_tools``."""
        return [*self._tools, *_WEB_TOOLS]


def _info(tool: Tool) -> ToolInfo:
    spec = tool.spec
    if spec.name.startswith(_MCP_PREFIX):
        provider, _, name = spec.name.removeprefix(_MCP_PREFIX).partition("__")
        category = "orchestration"
    else:
        provider, name, category = BUILTIN_PROVIDER, spec.name, "builtin"
    return ToolInfo(
        id=spec.name,
        provider=provider,
        category=category,
        name=name,
        description=spec.description,
        input_schema=spec.input_schema,
    )
