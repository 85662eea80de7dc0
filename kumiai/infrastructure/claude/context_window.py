"""Keeping every request of a turn inside the model's context window.

The whole request counts: system prompt, tool definitions and messages, plus the
``max_tokens`` the answer may take. Sizes are estimated from the request's JSON length
with a characters-per-token ratio that is calibrated against the API's own numbers
(``messages.count_tokens``, and the size a "prompt is too long" error states). Once an
estimate comes near the budget the request is counted exactly, when the API (or the
proxy in front of it) offers counting; not when a calibrated estimate is well over it
(a long session's every turn), which is shrunk without a round trip. A message's size
is measured once per request, and not again by its session's next request that repeats
it; a tool's, once for as long as its spec is sent.

A request over the budget is shrunk to a lower target (old tool outputs elided first,
then the oldest whole exchanges dropped, see ``history.fit_to_budget``), so the next
requests of the turn have room and share the same, cacheable prefix.

How the history appears in the request is the runtime's :class:`RequestLayout`: the API
runtime sends it as API messages (:class:`ApiLayout`); the Claude Code runtime sends it
as a transcript inside one prompt, next to a system prompt and tools of the CLI's own
(``claude_code/fitting.py``). The rules above are the same for both.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from typing import Any, Protocol
from uuid import UUID

import anthropic
import httpx2

from kumiai.application.ports.agent_runtime import ToolSpec, TurnRequest
from kumiai.application.services.runtime.history.budget import fit_to_budget
from kumiai.application.services.runtime.history.replay import ApiMessage
from kumiai.core.logging import get_logger

logger = get_logger(__name__)

# Conservative (over-estimating) until the API told us better; JSON and code run
# nearer 3 characters per token than prose's 4.
DEFAULT_CHARS_PER_TOKEN = 3.0
CHARS_PER_TOKEN_BOUNDS = (1.0, 6.0)
COUNT_ABOVE = 0.7  # count exactly once an estimate passes this share of the budget
# ...unless, with a ratio the API confirmed, it is this far over: it is shrunk anyway.
SURELY_OVER = 1.1
SHRINK_TO = 0.75  # a request over the budget is shrunk to this share of it
HARD_SHRINK_TO = 0.5  # after the API refused a request as too long
_STATED_SIZES = (
    re.compile(r"prompt is too long: (\d+) tokens(?: > (\d+) maximum)?"),
    # Claude Code's own report of the same refusal.
    re.compile(r"Prompt is too long\W+the request is ~?(\d+) tokens(?: \(limit (\d+)\))?"),
)
_TOO_LONG_MARKERS = ("prompt is too long", "exceed context limit", "context window")
SESSIONS_MEASURED = 32  # the sessions whose last request's message sizes are kept


class PromptTooLongError(Exception):
    """The API refused a request as larger than the model's context window."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        match = next(filter(None, (stated.search(reason) for stated in _STATED_SIZES)), None)
        self.stated_tokens = int(match.group(1)) if match else None
        self.stated_maximum = int(match.group(2)) if match and match.group(2) else None


def prompt_too_long(error: Exception) -> PromptTooLongError | None:
    """The context-length refusal ``error`` is, if it is one."""
    if not isinstance(error, anthropic.BadRequestError):
        return None
    message = _error_message(error)
    if any(marker in message.lower() for marker in _TOO_LONG_MARKERS):
        return PromptTooLongError(message)
    return None


class RequestLayout(Protocol):
    """Where the parts of a turn's request go on the wire, for measuring it."""

    def message_chars(self, message: ApiMessage) -> int:
        """The characters one history message adds to the request."""
        ...

    def fixed_chars(self, request: TurnRequest) -> int:
        """The characters of what else KumiAI sends: system prompt, tools, framing."""
        ...

    def count_params(self, request: TurnRequest, messages: list[ApiMessage]) -> dict[str, Any]:
        """The ``messages.count_tokens`` arguments that count what KumiAI sends."""
        ...

    def unseen_tokens(self, request: TurnRequest) -> int:
        """Tokens the request carries that KumiAI neither sees nor can count."""
        ...


class ApiLayout:
    """The Messages API request the API runtime sends: every part is KumiAI's."""

    def __init__(self) -> None:
        # The JSON sizes of the tool definitions last measured, by spec identity (a spec
        # is never changed once built): most of an agent's tools are the same spec
        # objects turn after turn, and serialising every schema again cost more than
        # the rest of fitting a short request.
        self._tool_chars: dict[int, tuple[ToolSpec, int]] = {}

    def message_chars(self, message: ApiMessage) -> int:
        return len(json.dumps(message))

    def fixed_chars(self, request: TurnRequest) -> int:
        """``len(json.dumps(system)) + len(json.dumps(tools))``, with each tool measured once."""
        known = self._tool_chars
        self._tool_chars = {}
        tools = 0
        for spec in request.tools:
            cached = known.get(id(spec))
            size = cached[1] if cached is not None and cached[0] is spec else _tool_chars(spec)
            self._tool_chars[id(spec)] = (spec, size)
            tools += size
        # A JSON list: its brackets, and ", " between its items.
        tools += 2 + 2 * max(0, len(request.tools) - 1)
        return len(json.dumps(request.system)) + tools

    def count_params(self, request: TurnRequest, messages: list[ApiMessage]) -> dict[str, Any]:
        return request_params(request, messages)

    def unseen_tokens(self, request: TurnRequest) -> int:
        return 0


class ContextWindow:
    """Measures requests and shrinks them to the budget; one per runtime."""

    def __init__(self, layout: RequestLayout | None = None) -> None:
        self._layout: RequestLayout = layout or ApiLayout()
        self._chars_per_token = DEFAULT_CHARS_PER_TOKEN
        self._calibrated = False
        self._counting = True
        # JSON sizes of the messages of a session's last request, by identity: a long
        # session's next request repeats most of them (the same objects), and each is
        # measured once. Kept for each of the latest sessions, as the turns of concurrent
        # sessions interleave; ``_sizes`` are those of the request being fitted.
        self._measured: OrderedDict[UUID | None, dict[int, tuple[ApiMessage, int]]] = OrderedDict()
        self._sizes: dict[int, tuple[ApiMessage, int]] = {}
        # The window a model's refusal stated, when smaller than the configured one.
        self._stated_windows: dict[str, int] = {}

    async def fit(
        self,
        client: anthropic.AsyncAnthropic | None,
        request: TurnRequest,
        messages: list[ApiMessage],
    ) -> list[ApiMessage]:
        """``messages`` if the request fits, else a shrunk copy. Without a ``client`` the
        request is only estimated, never counted."""
        session = request.workspace.session_id if request.workspace else None
        previous = self._measured.pop(session, {})  # what its last request measured
        self._sizes = {
            id(message): (message, self._chars(message, previous)) for message in messages
        }
        self._measured[session] = self._sizes
        while len(self._measured) > SESSIONS_MEASURED:
            self._measured.popitem(last=False)
        budget = self.budget(request)
        if await self._measure(client, request, messages, budget) <= budget:
            return messages
        return self._shrink(request, messages, SHRINK_TO, keep_last=2)

    def fit_harder(
        self, request: TurnRequest, messages: list[ApiMessage], refusal: PromptTooLongError
    ) -> list[ApiMessage]:
        """After the API refused ``messages`` as too long: learn its size, shrink further."""
        self.learn_window(request, refusal)
        if refusal.stated_tokens:
            seen = refusal.stated_tokens - self._layout.unseen_tokens(request)
            self._learn(self._request_chars(request, messages), max(1, seen))
        else:
            self._chars_per_token = max(CHARS_PER_TOKEN_BOUNDS[0], self._chars_per_token * 0.75)
        return self._shrink(request, messages, HARD_SHRINK_TO, keep_last=1)

    def learn_window(self, request: TurnRequest, refusal: PromptTooLongError) -> None:
        """Keep to the window a refusal states, when smaller than the configured one."""
        if refusal.stated_maximum:
            self._stated_windows[request.model] = refusal.stated_maximum

    def estimate(self, message: ApiMessage) -> int:
        return max(1, round(self._chars(message) / self._chars_per_token))

    def seen_tokens(self, request: TurnRequest, messages: list[ApiMessage]) -> int:
        """The estimated size of the part of the request KumiAI sends itself."""
        return round(self._request_chars(request, messages) / self._chars_per_token)

    def text_tokens(self, text: str) -> int:
        """The estimated size of a text."""
        return round(len(text) / self._chars_per_token)

    def _chars(
        self, message: ApiMessage, sizes: dict[int, tuple[ApiMessage, int]] | None = None
    ) -> int:
        """``message``'s JSON size, as ``sizes`` (by default the request's) measured it."""
        known = (self._sizes if sizes is None else sizes).get(id(message))
        if known is not None and known[0] is message:
            return known[1]
        return self._layout.message_chars(message)

    def _request_chars(self, request: TurnRequest, messages: list[ApiMessage]) -> int:
        return self._layout.fixed_chars(request) + sum(self._chars(message) for message in messages)

    def _shrink(
        self, request: TurnRequest, messages: list[ApiMessage], share: float, *, keep_last: int
    ) -> list[ApiMessage]:
        fixed = round(self._layout.fixed_chars(request) / self._chars_per_token)
        fixed += self._layout.unseen_tokens(request)
        budget = self.budget(request)
        room = max(0, int(budget * share) - fixed)
        shrunk = fit_to_budget(messages, room, self.estimate, keep_last=keep_last)
        logger.info(
            "claude_request_trimmed",
            budget_tokens=budget,
            room_tokens=room,
            messages_before=len(messages),
            messages_after=len(shrunk),
        )
        return shrunk

    async def _measure(
        self,
        client: anthropic.AsyncAnthropic | None,
        request: TurnRequest,
        messages: list[ApiMessage],
        budget: int,
    ) -> int:
        chars = self._request_chars(request, messages)
        unseen = self._layout.unseen_tokens(request)
        estimate = round(chars / self._chars_per_token) + unseen
        if client is None or estimate < budget * COUNT_ABOVE or not self._counting:
            return estimate
        if self._calibrated and estimate > budget * SURELY_OVER:
            return estimate
        try:
            params = self._layout.count_params(request, messages)
            counted = await client.messages.count_tokens(**params)
        except anthropic.NotFoundError:
            # A gateway without the counting endpoint: estimates from now on.
            self._counting = False
            return estimate
        except (anthropic.APIError, httpx2.TransportError) as error:
            logger.warning("claude_count_tokens_failed", error=str(error))
            return estimate
        self._learn(chars, counted.input_tokens)
        return counted.input_tokens + unseen

    def budget(self, request: TurnRequest) -> int:
        """Input tokens a request may use: the window less the room for the answer."""
        window = request.context_window_tokens
        window = min(window, self._stated_windows.get(request.model, window))
        return max(1, window - request.max_tokens)

    def _learn(self, chars: int, tokens: int) -> None:
        low, high = CHARS_PER_TOKEN_BOUNDS
        self._calibrated = True
        self._chars_per_token = min(high, max(low, chars / max(1, tokens)))


def request_params(request: TurnRequest, messages: list[ApiMessage]) -> dict[str, Any]:
    """What the model reads: model, system prompt, tools and messages."""
    params: dict[str, Any] = {"model": request.model, "messages": messages}
    if request.system:
        params["system"] = request.system
    if request.tools:
        params["tools"] = [_tool_definition(tool) for tool in request.tools]
    return params


def _tool_definition(tool: ToolSpec) -> dict[str, Any]:
    """A tool as the request's ``tools`` lists it."""
    return {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}


def _tool_chars(tool: ToolSpec) -> int:
    return len(json.dumps(_tool_definition(tool)))


def _error_message(error: anthropic.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        detail = body.get("error")
        message = detail.get("message") if isinstance(detail, dict) else None
        if isinstance(message, str):
            return message
    return str(error.message)
