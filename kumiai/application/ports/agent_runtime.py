"""The port between the application and whatever model runs an agent's turn.

The application hands the runtime a fully assembled request (system prompt, replayed
history in Anthropic message format, tool definitions), a :class:`ToolExecutor` that
runs tools, and a :class:`TurnSink` that persists and publishes what happens. The
runtime streams the model, calls tools, feeds their results back, and repeats until
the model ends its turn. It never touches the database itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model sees it."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    input: dict[str, Any]
    server_side: bool = False
    """Run by the API itself (web search, web fetch), not by a :class:`ToolExecutor`."""


# Claude Code's names for the web tools. The Anthropic API runs them itself (server
# tools): the runtime reports their calls and results to the sink, but never executes them.
WEB_SEARCH = "WebSearch"
WEB_FETCH = "WebFetch"
SERVER_TOOLS = (WEB_SEARCH, WEB_FETCH)
WEB_TOOL_SPECS = {
    WEB_SEARCH: ToolSpec(
        WEB_SEARCH,
        "Search the web (run by the Anthropic API).",
        {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    ),
    WEB_FETCH: ToolSpec(
        WEB_FETCH,
        "Fetch a web page or PDF by URL (run by the Anthropic API).",
        {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
    ),
}
"""How the web tools look to the model when the API cannot run them, and in the catalog."""


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool returned. ``content`` is text the model will read."""

    content: str
    is_error: bool = False
    data: Mapping[str, Any] | None = None
    """What the tool returned as data, for a runtime that words the result itself
    (Claude Code words the answers of ``AskUserQuestion``)."""


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        """The size of the request the response answered, cached parts included."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=(
                self.cache_creation_input_tokens + other.cache_creation_input_tokens
            ),
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
        )


@dataclass(frozen=True)
class Workspace:
    """Whose turn it is and where it works.

    A runtime that runs its own tools (Claude Code) needs this to confine them as the
    :class:`ToolExecutor` confines KumiAI's, and to keep its own session per KumiAI one.
    """

    session_id: UUID
    working_dir: str
    bash_enabled: bool = True
    allowed_tools: tuple[str, ...] = ()
    """The character's tool allowlist; empty means every tool."""
    allowed_mcps: tuple[str, ...] = ()
    """Ids of the user's MCP servers (``mcp_servers.json``) this agent may use."""


CLAUDE_BACKEND = "claude"
"""The ``cli_backend`` of agents that run on Claude (the API or Claude Code)."""


@dataclass(frozen=True)
class TurnRequest:
    model: str
    system: str
    messages: list[dict[str, Any]]
    tools: list[ToolSpec] = field(default_factory=list)
    server_tools: tuple[str, ...] = ()
    """Names from :data:`SERVER_TOOLS` the agent may use."""
    max_tokens: int = 8192
    max_iterations: int = 50
    workspace: Workspace | None = None
    # The model's context window: each request (system prompt, tools, messages) plus
    # ``max_tokens`` of answer must fit; the runtime trims the messages to make it so.
    context_window_tokens: int = 200_000
    backend: str = CLAUDE_BACKEND
    """The agent's ``cli_backend``: which runtime runs the turn (``codex``, ``gemini``,
    ``opencode`` run in that CLI)."""


@dataclass(frozen=True)
class TurnOutcome:
    stop_reason: str
    usage: Usage
    iterations: int


@dataclass(frozen=True)
class RetryNotice:
    """A recoverable failure the runtime retries: retry ``attempt`` of ``max_retries``."""

    attempt: int
    max_retries: int
    error_type: str
    corrective_message: str | None = None
    """What the model must do differently, if anything (kept as a ``system`` row)."""


class ToolExecutor(Protocol):
    async def execute(self, call: ToolCall) -> ToolOutcome:
        """Run one tool call. Must not raise for tool failures: return is_error instead."""
        ...


class TurnSink(Protocol):
    """Receives the turn as it happens, in order. Each method may persist and publish."""

    async def text_delta(self, block_index: int, text: str) -> None: ...

    async def text_done(self, block_index: int, text: str) -> None:
        """A text block is complete; persist it once."""
        ...

    async def tool_use(self, call: ToolCall) -> None:
        """The model asked for a tool; persist the call before it runs."""
        ...

    async def tool_result(self, call: ToolCall, outcome: ToolOutcome) -> None: ...

    async def usage(self, usage: Usage, stop_reason: str | None) -> None:
        """Usage for one model response (one iteration of the tool loop)."""
        ...

    async def retry(self, notice: RetryNotice) -> None:
        """The runtime retries a recoverable failure; what was already delivered stays,
        and the retry continues after it."""
        ...


class AgentRuntime(Protocol):
    async def run_turn(
        self, request: TurnRequest, tools: ToolExecutor, sink: TurnSink
    ) -> TurnOutcome:
        """Run the model and the tool loop to the end of the turn.

        Raises ``ClaudeUnavailableError`` when credentials are missing or the API keeps
        failing after retries, and lets ``asyncio.CancelledError`` through unchanged so a
        cancel stops the stream at once.
        """
        ...
