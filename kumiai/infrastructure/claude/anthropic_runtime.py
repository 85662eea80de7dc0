"""The default :class:`AgentRuntime`: the Anthropic Messages API through the official SDK.

A turn is a loop of model responses. Each response is streamed: text deltas go to
the sink as they arrive, and tool calls are run once the response is complete. Their
results are sent back in the next request, until the model stops asking for tools.

Failures are retried here rather than in the SDK, because the SDK's retries only
cover opening a stream, not a stream that breaks halfway. Each retry is announced to
the sink (``retry``). A response cut after some of its text reached the sink is
*continued*, never repeated: the retry sends that text back as the start of the
assistant's reply (a prefill), and the text the model adds goes on in the same block,
so the user sees every word once and the block is stored once. Only a response that
had already shown a web tool call (which cannot be sent back) fails with
:class:`ClaudeStreamError`.

Every request is kept inside the model's context window (:mod:`.context_window`),
including the requests of a tool loop that keeps growing. A request the API still
refuses as too long is shrunk harder and sent once more; a second refusal ends the
turn with :class:`ContextWindowExceededError`, and the next turn starts trimmed.
"""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass, replace
from typing import Any

import anthropic
import httpx2
from anthropic import AsyncStream
from anthropic.types import (
    ContentBlock,
    Message,
    RawMessageStreamEvent,
    WebFetchToolResultBlock,
    WebSearchToolResultBlock,
)
from anthropic.types import Usage as ApiUsage

from kumiai.application.ports.agent_runtime import (
    RetryNotice,
    ToolCall,
    ToolExecutor,
    TurnOutcome,
    TurnRequest,
    TurnSink,
    Usage,
)
from kumiai.core.exceptions import ClaudeUnavailableError, ContextWindowExceededError
from kumiai.core.logging import get_logger
from kumiai.infrastructure.claude.accumulate import MessageBuilder
from kumiai.infrastructure.claude.context_window import (
    ContextWindow,
    PromptTooLongError,
    prompt_too_long,
    request_params,
)
from kumiai.infrastructure.claude.credentials import MISSING_KEY_MESSAGE
from kumiai.infrastructure.claude.retry import (
    RetryPolicy,
    StreamEndedEarlyError,
    describe,
    error_type,
    is_transient,
    retry_after_seconds,
)
from kumiai.infrastructure.claude.web_tools import (
    WebTools,
    WebToolsRefusedError,
    orphan_call,
    refuses_web_tools,
    server_call,
    server_outcome,
)

logger = get_logger(__name__)

MAX_ITERATIONS_STOP_REASON = "max_iterations"

# The API refuses an empty tool_result after an error, and an empty string tells the
# model less than saying so.
_EMPTY_TOOL_RESULT = "(no output)"

_API_FAILURES = (anthropic.APIError, httpx2.TransportError, StreamEndedEarlyError)


class ClaudeStreamError(ClaudeUnavailableError, code="claude_stream_error"):
    """The stream broke after a web tool call reached the sink, so it was not retried."""


@dataclass(frozen=True)
class _Response:
    """One complete model response, ready to be continued."""

    content: list[dict[str, Any]]
    tool_calls: list[ToolCall]
    stop_reason: str | None
    usage: Usage
    block_count: int


class AnthropicRuntime:
    """Runs agent turns against the Anthropic Messages API.

    Tool calls of one response run sequentially, in the order the model wrote them,
    so their side effects and the sink's events are deterministic.

    ``block_index`` values passed to the sink count content blocks across the whole
    turn (not per response), so every text block of a turn has its own index.
    """

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        *,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        request_timeout: float = 600,
        prompt_caching: bool = False,
    ) -> None:
        self._policy = RetryPolicy(max_retries, backoff_base, backoff_max)
        self._prompt_caching = prompt_caching
        # Why the API refused the web tools, by model, so later turns skip the attempt.
        self._web_refusals: dict[str, str] = {}
        self._window = ContextWindow()
        # No client without a key: the SDK would otherwise fall back to environment
        # credentials the operator did not configure for KumiAI. KumiAI sets up no
        # OpenTelemetry tracer, so the SDK's spans would be neither recorded nor
        # propagated; building and dropping one cost ~0.1 ms of CPU per request.
        self._client = (
            anthropic.AsyncAnthropic(
                api_key=api_key,
                base_url=base_url,
                max_retries=0,
                timeout=request_timeout,
                open_telemetry=False,
            )
            if api_key
            else None
        )

    async def aclose(self) -> None:
        """Release the HTTP connection pool."""
        if self._client is not None:
            await self._client.close()

    async def run_turn(
        self, request: TurnRequest, tools: ToolExecutor, sink: TurnSink
    ) -> TurnOutcome:
        """Stream responses and run their tool calls until the model ends the turn."""
        client = self._require_client()
        messages = list(request.messages)
        total = Usage()
        block_offset = 0
        web = WebTools(request.server_tools, self._web_refusals.get(request.model))
        # Web tool calls by id until their result arrives (after a pause_turn, it may
        # come in the next response).
        server_calls: dict[str, ToolCall] = {}
        for iteration in range(1, request.max_iterations + 1):
            # The fitted list carries on, so later requests of the turn share its prefix.
            messages = await self._window.fit(client, request, messages)
            answer = functools.partial(
                self._respond_within_window,
                client,
                request,
                sink=sink,
                block_offset=block_offset,
                server_calls=server_calls,
            )
            try:
                response, messages = await answer(messages, web=web)
            except WebToolsRefusedError as refusal:
                web = self._without_web_tools(request, refusal.reason)
                response, messages = await answer(messages, web=web)
            block_offset += response.block_count
            total += response.usage
            await sink.usage(response.usage, response.stop_reason)
            continuation = await _continuation(response, web.executor(tools), sink)
            if continuation is None:
                return TurnOutcome(response.stop_reason or "end_turn", total, iteration)
            messages.extend(continuation)
        return TurnOutcome(MAX_ITERATIONS_STOP_REASON, total, request.max_iterations)

    def _params(
        self, request: TurnRequest, messages: list[dict[str, Any]], web: WebTools
    ) -> dict[str, Any]:
        return _stream_params(request, messages, web, self._prompt_caching)

    def _without_web_tools(self, request: TurnRequest, reason: str) -> WebTools:
        logger.warning("web_tools_refused", model=request.model, reason=reason)
        self._web_refusals[request.model] = reason
        return WebTools(request.server_tools, reason)

    def _require_client(self) -> anthropic.AsyncAnthropic:
        if self._client is None:
            raise ClaudeUnavailableError(MISSING_KEY_MESSAGE)
        return self._client

    async def _respond_within_window(
        self,
        client: anthropic.AsyncAnthropic,
        request: TurnRequest,
        messages: list[dict[str, Any]],
        *,
        web: WebTools,
        sink: TurnSink,
        block_offset: int,
        server_calls: dict[str, ToolCall],
    ) -> tuple[_Response, list[dict[str, Any]]]:
        """One response; a request refused as too long is shrunk harder and sent once more."""
        try:
            params = self._params(request, messages, web)
            return await self._respond(client, params, sink, block_offset, server_calls), messages
        except PromptTooLongError as refusal:
            logger.warning("claude_prompt_too_long_retry", reason=refusal.reason)
            messages = self._window.fit_harder(request, messages, refusal)
        try:
            params = self._params(request, messages, web)
            return await self._respond(client, params, sink, block_offset, server_calls), messages
        except PromptTooLongError as refusal:
            raise ContextWindowExceededError(
                "The conversation no longer fits the model's context window, even after "
                f"trimming old tool outputs and messages ({refusal.reason})",
                details={"reason": refusal.reason},
            ) from refusal

    async def _respond(
        self,
        client: anthropic.AsyncAnthropic,
        params: dict[str, Any],
        sink: TurnSink,
        block_offset: int,
        server_calls: dict[str, ToolCall],
    ) -> _Response:
        """One model response, retried on transient failures; a retry continues the text
        the response had already delivered."""
        retry_number = 0
        shown = _Shown(first_index=block_offset, next_index=block_offset)
        while True:
            reader = _ResponseReader(sink, shown, server_calls)
            try:
                stream = await _open_stream(client, shown.continuing(params))
                async with stream:
                    return await reader.read(stream)
            except _API_FAILURES as error:
                nothing_shown = not reader.delivered and not shown.texts()
                if nothing_shown and refuses_web_tools(error, params):
                    raise WebToolsRefusedError(describe(error)) from error
                if (too_long := prompt_too_long(error)) is not None:
                    raise too_long from error
                delay = self._retry_delay(error, reader.server_blocks, retry_number)
                shown = reader.shown()
                failure = error_type(error)
            await sink.retry(RetryNotice(retry_number + 1, self._policy.max_retries, failure))
            await asyncio.sleep(delay)
            retry_number += 1

    def _retry_delay(self, error: Exception, server_blocks: bool, retry_number: int) -> float:
        """How long to wait before retrying ``error``; raises when it must not be retried."""
        reason = describe(error)
        if server_blocks:
            raise ClaudeStreamError(
                f"The Claude stream broke after a web tool call was shown ({reason})",
                details={"reason": reason},
            ) from error
        if not is_transient(error):
            raise ClaudeUnavailableError(
                f"Claude API error: {reason}", details=_error_details(error)
            ) from error
        if retry_number >= self._policy.max_retries:
            raise ClaudeUnavailableError(
                f"Claude API unavailable after {retry_number + 1} attempts: {reason}",
                details=_error_details(error),
            ) from error
        delay = self._policy.delay(retry_number, retry_after_seconds(error))
        logger.warning(
            "claude_request_retry",
            retry=retry_number + 1,
            max_retries=self._policy.max_retries,
            delay_seconds=round(delay, 3),
            reason=reason,
        )
        return delay


@dataclass(frozen=True)
class _Shown:
    """The text an interrupted response already showed, which its retry continues.

    ``finished`` are its complete text blocks, ``unfinished`` the text of the block the
    failure cut (at sink index ``next_index``; otherwise ``next_index`` is the next free
    one). ``first_index`` is the response's first sink index.
    """

    first_index: int
    next_index: int
    finished: tuple[str, ...] = ()
    unfinished: str | None = None

    def texts(self) -> list[str]:
        return [*self.finished, *([self.unfinished] if self.unfinished else [])]

    def continuing(self, params: dict[str, Any]) -> dict[str, Any]:
        """The request, with what was shown as the start of the assistant's reply."""
        blocks = [{"type": "text", "text": text} for text in self.texts() if text.strip()]
        if not blocks:
            return params
        # The API refuses a prefill that ends with white space.
        blocks[-1] = {"type": "text", "text": blocks[-1]["text"].rstrip()}
        prefill = {"role": "assistant", "content": blocks}
        return {**params, "messages": [*params["messages"], prefill]}

    def joined(self, text: str) -> str:
        """The unfinished text and the continuation of its block, as one text."""
        prefix = self.unfinished or ""
        return prefix + (text.lstrip() if prefix[-1:].isspace() else text)


class _ResponseReader:
    """Reads one streamed response, forwarding its text to the sink as it arrives.

    A reader that continues an interrupted response (``shown``) goes on with its first
    text block in the block the failure cut, after the text already shown."""

    def __init__(self, sink: TurnSink, shown: _Shown, server_calls: dict[str, ToolCall]) -> None:
        self._sink = sink
        self._shown = shown
        self._block_offset = shown.next_index
        self._builder = MessageBuilder()
        self._server_calls = server_calls
        # The white space the prefill left out must not come back twice.
        self._strip_leading = shown.unfinished is not None and shown.unfinished[-1:].isspace()
        self._continuing_cut_block = shown.unfinished is not None
        self.delivered = False
        """Whether any part of this response reached the sink."""
        self.server_blocks = False
        """Whether a web tool block reached the sink (then the response cannot go on)."""

    async def read(self, stream: AsyncStream[RawMessageStreamEvent]) -> _Response:
        builder, sink, offset = self._builder, self._sink, self._block_offset
        async for event in stream:
            # The hot path first: a text delta is one string kept and one sink call.
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                text = event.delta.text
                if self._strip_leading and event.index == 0:
                    text = text.lstrip()
                    self._strip_leading = not text
                if text:
                    builder.add_text(event.index, text)
                    self.delivered = True
                    await sink.text_delta(offset + event.index, text)
                continue
            builder.add(event)
            if event.type == "content_block_start" and event.index == 0:
                if builder.block(0).type != "text":
                    await self._finish_cut_block()  # the reply went on with something else
            elif event.type == "content_block_stop":
                await self._on_block_stop(event.index)
        if builder.message is None:
            raise StreamEndedEarlyError("the stream closed before message_stop")
        await self._finish_cut_block()
        return self._whole_response(builder.message)

    async def _finish_cut_block(self) -> None:
        """The cut block, continued by no text, ends with the text it had."""
        if self._continuing_cut_block and self._shown.unfinished is not None:
            self._continuing_cut_block = False
            await self._sink.text_done(self._shown.next_index, self._shown.unfinished)

    async def _on_block_stop(self, index: int) -> None:
        block = self._builder.block(index)
        if block.type == "text":
            text = block.text
            if index == 0 and self._continuing_cut_block:
                self._continuing_cut_block = False
                text = self._shown.joined(text)
            if text:
                self.delivered = True
                await self._sink.text_done(self._block_offset + index, text)
        else:
            await self._on_server_block(block)

    async def _on_server_block(self, block: ContentBlock) -> None:
        """Web tools run on the API's side: report their calls and results as they come."""
        if block.type == "server_tool_use":
            self.delivered = self.server_blocks = True
            started = server_call(block)
            self._server_calls[started.id] = started
            await self._sink.tool_use(started)
        elif isinstance(block, WebSearchToolResultBlock | WebFetchToolResultBlock):
            self.delivered = self.server_blocks = True
            call: ToolCall | None = self._server_calls.pop(block.tool_use_id, None)
            if call is None:  # never seen: record a call, so the result has one to answer
                call = orphan_call(block)
                await self._sink.tool_use(call)
            await self._sink.tool_result(call, server_outcome(block))

    def shown(self) -> _Shown:
        """What the response had shown when it broke, in this attempt and before."""
        shown, builder = self._shown, self._builder
        finished, cut = list(shown.finished), self._continuing_cut_block
        started = builder.started_blocks
        for index, block in enumerate(started):
            if block.type != "text":
                continue
            text = builder.text_so_far(index)
            if index == 0 and cut:
                text, cut = shown.joined(text), False
            if index in builder.closed:
                finished.append(text)
                continue
            next_index = self._block_offset + index
            return replace(shown, finished=tuple(finished), unfinished=text, next_index=next_index)
        if cut:  # broke again before the cut block went on
            return replace(shown, finished=tuple(finished))
        next_index = self._block_offset + len(started)
        return replace(shown, finished=tuple(finished), unfinished=None, next_index=next_index)

    def _whole_response(self, message: Message) -> _Response:
        """The response as the tool loop sends it back: what earlier attempts showed
        first, the cut block joined with its continuation."""
        response = _response_from(message)
        shown = self._shown
        content = list(response.content)
        if shown.unfinished is not None:
            first = message.content[0] if message.content else None
            if first is not None and first.type == "text" and first.text:
                content[0] = {**content[0], "text": shown.joined(content[0]["text"])}
            else:
                content.insert(0, {"type": "text", "text": shown.unfinished})
        earlier = [{"type": "text", "text": text} for text in shown.finished if text]
        used = self._block_offset - shown.first_index + response.block_count
        return replace(response, content=[*earlier, *content], block_count=used)


async def _continuation(
    response: _Response, tools: ToolExecutor, sink: TurnSink
) -> list[dict[str, Any]] | None:
    """The messages that carry the turn on, or ``None`` when the model has finished."""
    if response.stop_reason == "tool_use" and response.tool_calls:
        results = [await _run_tool(call, tools, sink) for call in response.tool_calls]
        return [
            {"role": "assistant", "content": response.content},
            {"role": "user", "content": results},
        ]
    if response.stop_reason == "pause_turn":
        # The API resumes a paused response when it gets its own content back.
        return [{"role": "assistant", "content": response.content}]
    return None


async def _run_tool(call: ToolCall, tools: ToolExecutor, sink: TurnSink) -> dict[str, Any]:
    """Run one call with its sink events around it; return its ``tool_result`` block."""
    await sink.tool_use(call)
    outcome = await tools.execute(call)
    await sink.tool_result(call, outcome)
    return {
        "type": "tool_result",
        "tool_use_id": call.id,
        "content": outcome.content or _EMPTY_TOOL_RESULT,
        "is_error": outcome.is_error,
    }


# The SDK's own JSON encoding (compact, UTF-8 as is, no NaN).
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


async def _open_stream(
    client: anthropic.AsyncAnthropic, params: dict[str, Any]
) -> AsyncStream[RawMessageStreamEvent]:
    """``client.messages.create(**params, stream=True)``, the body encoded here.

    ``messages.create`` copies the whole body into plain data before encoding it, so
    that its own retries could send it again. Ours are made afresh for each attempt,
    of plain JSON values already, so the copy is pure cost, and it grows with the
    history every request of a tool loop sends again: 0.34 ms of CPU at 128 messages,
    1.95 ms at 600 (the copy alone; the encoding costs as much either way). The request
    is the one ``messages.create`` makes: the same path, headers and client (retries,
    timeout, errors), and the same typed event stream back.
    """
    return await client.post(
        "/v1/messages",
        cast_to=Message,
        content=_ENCODE({**params, "stream": True}).encode(),
        stream=True,
        stream_cls=AsyncStream[RawMessageStreamEvent],
    )


def _stream_params(
    request: TurnRequest, messages: list[dict[str, Any]], web: WebTools, prompt_caching: bool
) -> dict[str, Any]:
    params = {**request_params(request, messages), "max_tokens": request.max_tokens}
    tools = [*params.get("tools", []), *web.definitions()]
    if tools:
        params["tools"] = tools
    return _with_cache_breakpoints(params) if prompt_caching else params


EPHEMERAL = {"type": "ephemeral"}


def _with_cache_breakpoints(params: dict[str, Any]) -> dict[str, Any]:
    """Mark the tools, the system prompt and the conversation so far as cacheable.

    Each request of a turn (and the next turn) repeats that prefix, so the API can
    serve it from its prompt cache. Three breakpoints, under the API's limit of four;
    the stored history itself is left untouched.
    """
    cached = dict(params)
    if "tools" in cached:
        *rest, last = cached["tools"]
        cached["tools"] = [*rest, {**last, "cache_control": EPHEMERAL}]
    if "system" in cached:
        cached["system"] = [{"type": "text", "text": cached["system"], "cache_control": EPHEMERAL}]
    if cached["messages"]:
        *earlier, final = cached["messages"]
        *blocks, last_block = _blocks(final["content"])
        cached["messages"] = [
            *earlier,
            {**final, "content": [*blocks, {**last_block, "cache_control": EPHEMERAL}]},
        ]
    return cached


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def _response_from(message: Message) -> _Response:
    return _Response(
        content=[_replayable(block) for block in message.content if not _is_empty_text(block)],
        tool_calls=[
            ToolCall(block.id, block.name, _as_arguments(block.input))
            for block in message.content
            if block.type == "tool_use"
        ],
        stop_reason=message.stop_reason,
        usage=_usage_from(message.usage),
        block_count=len(message.content),
    )


def _replayable(block: ContentBlock) -> dict[str, Any]:
    """A content block as the API returned it, in the shape it accepts back."""
    replayed: dict[str, Any] = block.to_dict(mode="json", exclude_none=True)
    return replayed


def _is_empty_text(block: ContentBlock) -> bool:
    # The API rejects empty text blocks in a request, so they are not replayed.
    return block.type == "text" and not block.text


def _as_arguments(value: object) -> dict[str, Any]:
    # Tool input is a JSON object by the API's contract; anything else is passed on
    # as empty arguments so the tool reports what is missing.
    return dict(value) if isinstance(value, dict) else {}


def _usage_from(usage: ApiUsage) -> Usage:
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
        cache_read_input_tokens=usage.cache_read_input_tokens or 0,
    )


def _error_details(error: Exception) -> dict[str, Any]:
    """Machine-readable facts about an API failure, for the error event."""
    if not isinstance(error, anthropic.APIStatusError):
        return {"reason": describe(error)}
    return {
        "status": error.status_code,
        "type": error.type,
        "request_id": error.request_id,
    }
