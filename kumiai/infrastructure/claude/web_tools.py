"""``WebSearch`` and ``WebFetch``: the Anthropic API's own web search and web fetch tools.

The API runs these tools itself (server tools): a response holds the call
(``server_tool_use``) and its result (``web_search_tool_result`` /
``web_fetch_tool_result``). The runtime reports both to the sink as a tool call and
its result, under Claude Code's names, so they are persisted and streamed like every
other tool. The versions chosen are the ones every current model accepts.

A model or account without them answers the request with a 400 naming the tool. The
turn then goes on without the server tools: stand-in tools of the same names answer
every call with an error that says why, so the agent can tell the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anthropic
from anthropic.types import WebFetchToolResultBlock, WebSearchToolResultBlock

from kumiai.application.ports.agent_runtime import (
    WEB_FETCH,
    WEB_SEARCH,
    WEB_TOOL_SPECS,
    ToolCall,
    ToolExecutor,
    ToolOutcome,
)
from kumiai.infrastructure.claude.retry import describe

API_TOOLS: dict[str, dict[str, Any]] = {
    WEB_SEARCH: {"type": "web_search_20250305", "name": "web_search"},
    WEB_FETCH: {"type": "web_fetch_20250910", "name": "web_fetch"},
}
KUMIAI_NAMES = {tool["name"]: name for name, tool in API_TOOLS.items()}
RESULT_TYPES = frozenset({"web_search_tool_result", "web_fetch_tool_result"})

# A fetched page is shown and replayed in later turns; the model read it whole already.
MAX_FETCHED_CHARS = 20_000

_STAND_INS: dict[str, dict[str, Any]] = {
    name: {"name": spec.name, "description": spec.description, "input_schema": spec.input_schema}
    for name, spec in WEB_TOOL_SPECS.items()
}


class WebToolsRefusedError(Exception):
    """The API refused the request because of its web tools."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WebTools:
    """The web tools of one turn, and why the API refused them, if it did."""

    names: tuple[str, ...]
    refused: str | None = None

    def definitions(self) -> list[dict[str, Any]]:
        """What goes into the request's ``tools`` after the agent's own tools."""
        source = _STAND_INS if self.refused else API_TOOLS
        return [dict(source[name]) for name in self.names]

    def executor(self, tools: ToolExecutor) -> ToolExecutor:
        return _StandIns(tools, self) if self.refused and self.names else tools


class _StandIns:
    def __init__(self, tools: ToolExecutor, web: WebTools) -> None:
        self._tools = tools
        self._web = web

    async def execute(self, call: ToolCall) -> ToolOutcome:
        if call.name in self._web.names:
            return ToolOutcome(
                f"{call.name} is not available for this model or account: {self._web.refused}",
                is_error=True,
            )
        return await self._tools.execute(call)


def refuses_web_tools(error: Exception, params: dict[str, Any]) -> bool:
    """Whether ``error`` is the API refusing the server web tools in ``params``."""
    if not isinstance(error, anthropic.BadRequestError):
        return False
    offered = {tool.get("name") for tool in params.get("tools", []) if "type" in tool}
    text = describe(error).lower()
    return any(name in text for name in offered if isinstance(name, str))


def server_call(block: Any) -> ToolCall:
    """A ``server_tool_use`` block as the tool call the sink persists."""
    arguments = dict(block.input) if isinstance(block.input, dict) else {}
    return ToolCall(block.id, KUMIAI_NAMES.get(block.name, block.name), arguments, True)


def orphan_call(block: WebSearchToolResultBlock | WebFetchToolResultBlock) -> ToolCall:
    """A call for a result whose ``server_tool_use`` was never seen."""
    api_name = block.type.removesuffix("_tool_result")
    return ToolCall(block.tool_use_id, KUMIAI_NAMES.get(api_name, api_name), {}, True)


def server_outcome(block: WebSearchToolResultBlock | WebFetchToolResultBlock) -> ToolOutcome:
    """The text the client shows (and later turns replay) for a web tool's result."""
    if isinstance(block, WebSearchToolResultBlock):
        return _search_outcome(block)
    return _fetch_outcome(block)


def _search_outcome(block: WebSearchToolResultBlock) -> ToolOutcome:
    content = block.content
    if not isinstance(content, list):
        return ToolOutcome(f"Web search failed: {content.error_code}", is_error=True)
    lines = [f"{result.title} — {result.url}" for result in content]
    return ToolOutcome("\n".join(lines) or "No results.")


def _fetch_outcome(block: WebFetchToolResultBlock) -> ToolOutcome:
    content = block.content
    if content.type == "web_fetch_tool_result_error":
        return ToolOutcome(f"Web fetch failed: {content.error_code}", is_error=True)
    document = content.content
    source = document.source
    body = source.data if source.type == "text" else f"[{source.media_type} document]"
    if len(body) > MAX_FETCHED_CHARS:
        body = body[:MAX_FETCHED_CHARS] + "\n[… cut here; the rest was read at the time]"
    heading = f"{content.url}\n{document.title}" if document.title else content.url
    return ToolOutcome(f"{heading}\n\n{body}")
