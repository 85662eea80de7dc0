"""What a Claude Code turn sends, kept inside the context window by the API runtime's rules.

A turn sends the CLI one of two things (``runtime.py``):

- **resume**: only the new message, the CLI's own session holding the rest. That
  session's size is known from the usage of its last response (kept in the resume
  point), and it is resumed only while that size and the new message fit the budget.
- **transcript**: a fresh CLI session whose first prompt carries the stored history as
  a transcript (``continuity.transcript_prompt``). The history is fitted by the API
  runtime's :class:`ContextWindow`, measured on the transcript's own text
  (:class:`TranscriptLayout`): the same budget (the window less the answer's
  ``max_tokens``, which the CLI is told to keep to), the same exact count near the
  budget, the same shrinking (old tool outputs elided first, the latest results whole,
  then the oldest whole exchanges dropped).

The CLI adds a system prompt, tool definitions and reminders of its own that KumiAI
neither sees nor can count. Their size is learned from the first response of every
fresh session (its usage covers the whole request) less the part KumiAI sent; a
generous default stands in until then. A refusal Claude Code reports teaches the window
and the request's size, and the turn is sent once more, shrunk harder (``refit``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anthropic

from kumiai.application.ports.agent_runtime import TurnRequest, Usage
from kumiai.application.services.runtime.history.replay import ApiMessage
from kumiai.core.exceptions import ContextWindowExceededError
from kumiai.infrastructure.claude.context_window import (
    ContextWindow,
    PromptTooLongError,
    request_params,
)
from kumiai.infrastructure.claude_code.tools import MCP_PREFIX, builtin_tools
from kumiai.infrastructure.continuity import (
    LINE_SEPARATOR,
    TRANSCRIPT_CLOSING,
    TRANSCRIPT_OPENING,
    ResumePoint,
    split_prompt,
    transcript_lines,
    transcript_prompt,
)

DEFAULT_UNSEEN_TOKENS = 24_000
"""What Claude Code adds to a request, until a response reported it: its system prompt,
the definitions of its built-in tools and its reminders (some 58,000 characters with
every file tool in Claude Code 2, about 16,000 tokens), with a margin."""
COUNT_TIMEOUT = 10.0
TOO_LONG = "prompt is too long"


@dataclass(frozen=True)
class Transcript:
    history: list[ApiMessage]
    """The history as fitted, in API form."""
    prompt: str
    """What the fresh CLI session is sent: the fitted transcript and the new message."""


class TranscriptLayout:
    """A fresh Claude Code session's first request: the CLI's own system prompt with
    KumiAI's appended, the CLI's built-in tools and KumiAI's ``mcp__`` tools, and one
    user message holding the transcript and the new message."""

    def __init__(self) -> None:
        # By model and built-in tools: what the CLI adds depends on both.
        self._unseen: dict[tuple[str, tuple[str, ...]], int] = {}

    def message_chars(self, message: ApiMessage) -> int:
        lines = transcript_lines(message, None)
        return sum(len(line) + len(LINE_SEPARATOR) for line in lines)

    def fixed_chars(self, request: TurnRequest) -> int:
        _, prompt = split_prompt(request.messages)
        # Each line was counted with a separator; there is one fewer between them.
        framing = len(TRANSCRIPT_OPENING) - len(LINE_SEPARATOR) + len(TRANSCRIPT_CLOSING)
        tools = len(json.dumps(_kumiai_tools(request)))
        return framing + len(prompt) + len(request.system) + tools

    def count_params(self, request: TurnRequest, messages: list[ApiMessage]) -> dict[str, Any]:
        _, prompt = split_prompt(request.messages)
        params: dict[str, Any] = {
            "model": request.model,
            "messages": [
                {"role": "user", "content": transcript_prompt(messages, prompt, preview=None)}
            ],
        }
        if request.system:
            params["system"] = request.system
        if tools := _kumiai_tools(request):
            params["tools"] = tools
        return params

    def unseen_tokens(self, request: TurnRequest) -> int:
        return self._unseen.get(_cli_part(request), DEFAULT_UNSEEN_TOKENS)

    def learn_unseen(self, request: TurnRequest, tokens: int) -> None:
        self._unseen[_cli_part(request)] = tokens


class TranscriptFitting:
    """Decides between resume and a fitted transcript; one per runtime, as it learns."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        self.layout = TranscriptLayout()
        self.window = ContextWindow(self.layout)
        self._client = _counting_client(environment)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()

    def resumable(self, request: TurnRequest, point: ResumePoint) -> bool:
        """Whether the CLI's session, with the new message, still fits the budget; a
        point from before sizes were kept is resumed (the CLI compacts on its own)."""
        if point.context_tokens is None:
            return True
        _, prompt = split_prompt(request.messages)
        needed = point.context_tokens + self.window.text_tokens(prompt)
        return needed <= self.window.budget(request)

    async def transcript(self, request: TurnRequest, history: list[ApiMessage]) -> Transcript:
        """The first prompt of a fresh session: ``history`` fitted, then the new message."""
        fitted = await self.window.fit(self._client, request, history)
        _, prompt = split_prompt(request.messages)
        return Transcript(fitted, transcript_prompt(fitted, prompt, preview=None))

    def learn(self, request: TurnRequest, sent: Transcript, first_response: Usage) -> None:
        """What the CLI added to ``sent``, from the whole request's size the first
        response reports."""
        self._learn_request_size(request, sent, first_response.prompt_tokens)

    def too_long(
        self, request: TurnRequest, sent: Transcript | None, reason: str
    ) -> PromptTooLongError | None:
        """Claude Code's report of a request refused as too long (None for another
        failure). What it states is kept: the window, and the whole request's size, of
        which Claude Code added all but KumiAI's part."""
        if TOO_LONG not in reason.lower():
            return None
        refusal = PromptTooLongError(reason)
        self.window.learn_window(request, refusal)
        if sent is not None and refusal.stated_tokens:
            self._learn_request_size(request, sent, refusal.stated_tokens)
        return refusal

    async def refit(
        self,
        request: TurnRequest,
        history: list[ApiMessage],
        sent: Transcript | None,
        refusal: PromptTooLongError,
    ) -> Transcript:
        """What a fresh session is sent after ``refusal``: the transcript shrunk harder,
        as the API runtime does, or fitted at all when the CLI's own session was refused."""
        if sent is None:
            return await self.transcript(request, history)
        fitted = self.window.fit_harder(request, sent.history, refusal)
        _, prompt = split_prompt(request.messages)
        return Transcript(fitted, transcript_prompt(fitted, prompt, preview=None))

    def _learn_request_size(self, request: TurnRequest, sent: Transcript, tokens: int) -> None:
        """Claude Code's part of a request of ``tokens``: all but KumiAI's."""
        seen = self.window.seen_tokens(request, sent.history)
        if tokens > seen:  # else the size is not the request's (a stub server's usage)
            self.layout.learn_unseen(request, tokens - seen)


def context_exceeded(refusal: PromptTooLongError) -> ContextWindowExceededError:
    return ContextWindowExceededError(
        "The conversation no longer fits the model's context window, even after "
        f"trimming old tool outputs and messages ({refusal.reason})",
        details={"runtime": "claude-code", "reason": refusal.reason},
    )


def _kumiai_tools(request: TurnRequest) -> list[dict[str, Any]]:
    """KumiAI's tools as the CLI offers them (the built-in ones are the CLI's own)."""
    tools: list[dict[str, Any]] = request_params(request, []).get("tools", [])
    return [tool for tool in tools if str(tool["name"]).startswith(MCP_PREFIX)]


def _cli_part(request: TurnRequest) -> tuple[str, tuple[str, ...]]:
    workspace = request.workspace
    builtins = builtin_tools(request.tools, workspace) if workspace is not None else []
    return request.model, tuple(builtins)


def _counting_client(environment: Mapping[str, str]) -> anthropic.AsyncAnthropic | None:
    """A client that counts tokens where the CLI sends its requests, when KumiAI has the
    API key the CLI uses; a subscription's login only gets estimates."""
    api_key = environment.get("ANTHROPIC_API_KEY")
    if not api_key:
        return None
    return anthropic.AsyncAnthropic(
        api_key=api_key,
        base_url=environment.get("ANTHROPIC_BASE_URL"),
        max_retries=0,
        timeout=COUNT_TIMEOUT,
    )
