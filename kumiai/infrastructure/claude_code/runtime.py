"""The Claude Code :class:`AgentRuntime`: one Claude Code CLI process per turn.

The CLI runs the model and its own tool loop; this adapter translates what it streams
into the same sink calls the API runtime makes:

- partial-message stream events give ``text_delta``, ``text_done`` (when a text block
  closes) and ``usage`` (when a model response ends);
- tool calls come from the assistant messages, tool results from the user messages
  that answer them;
- the result message ends the turn, or fails it with :class:`ClaudeUnavailableError`.

Retries of overloaded or failing API calls are Claude Code's own; each one it reports
(``api_retry``) goes to the sink as a retry. A CLI that fails on
its own (it exits unexpectedly, or writes a line the SDK cannot read, such as a tool
output past its buffer) is retried up to ``max_retries`` times, each retry announced to
the sink: what the failed attempt streamed is kept (its unfinished text ends there, its
open tool calls are answered as interrupted) and the next attempt resumes the CLI's own
session with a note to go on from there. A retry that changes what the model must do
(a tool output too large for the buffer) says so in a ``system`` note. A cancel
interrupts the CLI through the SDK and then stops the process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    ClaudeSDKError,
    CLIConnectionError,
    CLIJSONDecodeError,
    CLINotFoundError,
    ProcessError,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    get_session_info,
)

from kumiai.application.ports.agent_runtime import (
    RetryNotice,
    ToolCall,
    ToolExecutor,
    ToolOutcome,
    TurnOutcome,
    TurnRequest,
    TurnSink,
    Usage,
    Workspace,
)
from kumiai.core.exceptions import ClaudeUnavailableError
from kumiai.core.logging import get_logger
from kumiai.infrastructure.claude_code.fitting import TranscriptFitting, context_exceeded
from kumiai.infrastructure.claude_code.tools import (
    ToolCalls,
    builtin_tools,
    guard_hooks,
    kumiai_servers,
    permission_callback,
)
from kumiai.infrastructure.continuity import (
    ResumePoints,
    split_prompt,
)

logger = get_logger(__name__)

INTERRUPT_TIMEOUT = 2.0
"""How long a cancelled turn's CLI may take to acknowledge the interrupt before it is
stopped anyway."""
STDERR_LINES = 20

# A server must not update its own CLI behind the operator's back.
CLI_ENVIRONMENT = {"DISABLE_AUTOUPDATER": "1", "CLAUDE_AGENT_SDK_CLIENT_APP": "kumiai"}


class ClaudeCodeRuntime:
    """Runs agent turns in the Claude Code CLI bundled with ``claude-agent-sdk``."""

    def __init__(
        self,
        state_dir: Path,
        *,
        environment: Mapping[str, str] | None = None,
        cli_path: Path | None = None,
        max_retries: int = 3,
        backoff_base: float = 0.5,
    ) -> None:
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._resume_points = ResumePoints(state_dir / "sessions")
        self._environment = {**CLI_ENVIRONMENT, **(environment or {})}
        self._cli_path = cli_path
        self._stopping: set[asyncio.Task[None]] = set()
        self._fitting = TranscriptFitting(self._environment)

    async def aclose(self) -> None:
        """Wait for the CLI processes of cancelled turns to finish stopping."""
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)
        await self._fitting.aclose()

    def _stop_in_background(self, client: ClaudeSDKClient) -> None:
        """Interrupt a cancelled turn's CLI, then stop it, without holding up the cancel.

        The interrupt stops the model stream and any running tool at once; the process
        then needs a moment to write its transcript and exit, which the cancelled turn
        does not wait for (a cancel answers within a second).
        """
        task = asyncio.create_task(_interrupt_and_disconnect(client))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def run_turn(
        self, request: TurnRequest, tools: ToolExecutor, sink: TurnSink
    ) -> TurnOutcome:
        workspace = request.workspace
        if workspace is None:
            raise ClaudeUnavailableError("Claude Code needs the session's working folder")
        history, prompt = split_prompt(request.messages)
        resume = self._resume_point(request, workspace, history)
        # A fresh session is sent the history as a transcript, fitted to the budget.
        transcript = None if resume else await self._fitting.transcript(request, history)
        refused = False
        reader = _TurnReader(sink, ToolCalls())
        # What the turn asks the CLI; a retry asks again, or resumes with a note.
        asked = (resume, transcript.prompt if transcript else prompt)
        attempt = asked
        while True:
            try:
                await self._run_cli(
                    request, workspace, tools, reader, resume=attempt[0], prompt=attempt[1]
                )
                result = reader.finish()
                break
            except CliAttemptFailed as failed:
                attempt = await self._after_failed_attempt(failed, reader, workspace, asked)
                continue
            except ClaudeUnavailableError as error:
                refusal = self._fitting.too_long(request, transcript, str(error))
                if refusal is None:
                    raise
                if refused or reader.produced:
                    raise context_exceeded(refusal) from error
                # Refused before anything was said: shrunk harder, sent once more.
                logger.warning("claude_code_prompt_too_long_retry", reason=refusal.reason)
                refused = True
                transcript = await self._fitting.refit(request, history, transcript, refusal)
                asked = attempt = (None, transcript.prompt)
        if transcript and reader.responses:
            self._fitting.learn(request, transcript, reader.responses[0])
        if reader.retries:
            # The CLI's session holds the retry notes the stored history does not: the
            # next turn starts afresh from the history.
            return TurnOutcome(result.stop_reason or "end_turn", reader.total, result.num_turns)
        self._resume_points.record(
            workspace.session_id,
            workspace.working_dir,
            result.session_id,
            [*request.messages, *reader.produced],
            context_tokens=reader.context_tokens,
        )
        return TurnOutcome(result.stop_reason or "end_turn", reader.total, result.num_turns)

    async def _after_failed_attempt(
        self,
        failed: CliAttemptFailed,
        reader: _TurnReader,
        workspace: Workspace,
        asked: tuple[str | None, str],
    ) -> tuple[str | None, str]:
        """Keep what the failed attempt streamed, announce the retry and wait; the resume
        point and prompt of the next attempt. Raises when the retries are spent.

        The next attempt resumes the failed one's CLI session, told to go on; when there
        is none on disk, it asks what the turn ``asked`` again, told what was already
        shown of it."""
        if reader.retries >= self._max_retries:
            raise failed.error
        reader.retries += 1
        await reader.interrupted(failed.reason)
        notice = RetryNotice(
            reader.retries, self._max_retries, failed.error_type, failed.corrective
        )
        await reader.sink.retry(notice)
        logger.warning(
            "claude_code_retry",
            retry=reader.retries,
            error_type=failed.error_type,
            reason=failed.reason,
        )
        await asyncio.sleep(min(8.0, self._backoff_base * 2 ** (reader.retries - 1)))
        corrective = f" {failed.corrective}" if failed.corrective else ""
        started = reader.cli_session_id
        if started is not None and get_session_info(started, directory=workspace.working_dir):
            note = (
                f"[Your previous attempt at this reply stopped: {failed.reason}. Continue "
                f"from where you stopped, without repeating what you already wrote.{corrective}]"
            )
            return started, note
        resume, prompt = asked
        shown = reader.shown_so_far()
        if shown:
            prompt += (
                f"\n\n[A previous attempt at this reply stopped: {failed.reason}. It had "
                f"already done this, which the user has seen:\n{shown}\nContinue from there, "
                f"without repeating it.{corrective}]"
            )
        elif corrective:
            prompt += f"\n\n[{corrective.strip()}]"
        return resume, prompt

    async def _run_cli(
        self,
        request: TurnRequest,
        workspace: Workspace,
        tools: ToolExecutor,
        reader: _TurnReader,
        *,
        resume: str | None,
        prompt: str,
    ) -> None:
        """One CLI process, from ``prompt`` to its result (which the reader keeps)."""
        calls = reader.begin_attempt()
        options = self._options(request, workspace, tools, calls, resume)
        options.stderr = reader.stderr.append
        client = ClaudeSDKClient(options)
        try:
            await client.connect()
            await client.query(prompt)
            async for message in client.receive_response():
                await reader.on_message(message)
        except asyncio.CancelledError:
            self._stop_in_background(client)
            raise
        except CLINotFoundError as error:
            await _disconnect(client)
            raise ClaudeUnavailableError(
                f"Claude Code CLI not found: {error}", details={"runtime": "claude-code"}
            ) from error
        except ClaudeSDKError as error:
            await _disconnect(client)
            failure = _failure(error, reader.stderr)
            retry = retry_for(error)
            if retry is None:
                raise failure from error
            raise CliAttemptFailed(failure, *retry) from error
        except BaseException:
            await _disconnect(client)
            raise
        await _disconnect(client)

    def _resume_point(
        self, request: TurnRequest, workspace: Workspace, history: list[dict[str, Any]]
    ) -> str | None:
        """Claude Code's session to continue, when it holds exactly this history and the
        new message still fits beside it."""
        point = self._resume_points.continuing(workspace.session_id, workspace.working_dir, history)
        if point is None or not self._fitting.resumable(request, point):
            return None
        resume = point.cli_session_id
        if get_session_info(resume, directory=workspace.working_dir) is None:
            logger.info("claude_code_session_lost", claude_session_id=resume)
            return None
        return resume

    def _options(
        self,
        request: TurnRequest,
        workspace: Workspace,
        tools: ToolExecutor,
        calls: ToolCalls,
        resume: str | None,
    ) -> ClaudeAgentOptions:
        # The agent's own MCP servers arrive as request tools (mcp__<server>__<tool>),
        # run by KumiAI's pool, exactly as under the API runtime.
        servers: dict[str, Any] = kumiai_servers(request.tools, tools, calls)
        builtins = builtin_tools(request.tools, workspace)
        return ClaudeAgentOptions(
            cwd=workspace.working_dir,
            model=request.model,
            system_prompt={"type": "preset", "preset": "claude_code", "append": request.system},
            tools=builtins,
            allowed_tools=[],
            mcp_servers=servers,
            strict_mcp_config=True,
            hooks=guard_hooks(workspace, calls),  # type: ignore[arg-type]
            can_use_tool=permission_callback(tools),
            permission_mode="default",
            setting_sources=[],
            include_partial_messages=True,
            max_turns=request.max_iterations,
            resume=resume,
            # The answer's room the budget keeps free (ContextWindow.budget).
            env={**self._environment, "CLAUDE_CODE_MAX_OUTPUT_TOKENS": str(request.max_tokens)},
            cli_path=self._cli_path,
        )


@dataclass
class _Block:
    kind: str
    text: str = ""
    done: bool = False


@dataclass
class _TurnReader:
    """Turns the CLI's messages into sink calls, in the order they arrive."""

    sink: TurnSink
    calls: ToolCalls
    total: Usage = field(default_factory=Usage)
    produced: list[dict[str, Any]] = field(default_factory=list)
    """This turn's content in API message form, for the resume fingerprint."""
    responses: list[Usage] = field(default_factory=list)
    """The usage of each model response, in order."""
    stderr: list[str] = field(default_factory=list)
    retries: int = 0
    cli_session_id: str | None = None
    """The CLI's own session, once it started one (a retry resumes it)."""
    _result: ResultMessage | None = None
    _offset: int = 0
    _next_offset: int = 0
    _blocks: dict[int, _Block] = field(default_factory=dict)
    _usage: dict[str, int] = field(default_factory=dict)
    _stop_reason: str | None = None
    _streamed: set[str] = field(default_factory=set)
    _open: dict[str, ToolCall] = field(default_factory=dict)

    def shown_so_far(self) -> str:
        """What the turn produced so far (its texts, and the tools it called), in order."""
        lines = []
        for message in self.produced:
            for block in message["content"]:
                if block["type"] == "text":
                    lines.append(block["text"])
                elif block["type"] == "tool_use":
                    lines.append(f"(called {block['name']})")
        return "\n".join(lines)

    def begin_attempt(self) -> ToolCalls:
        """A CLI process starts (again): the calls its hooks hold until persisted."""
        self.calls = ToolCalls()
        self._result = None
        self._blocks.clear()
        self.stderr.clear()
        return self.calls

    async def interrupted(self, reason: str) -> None:
        """The attempt failed: its unfinished text ends where it stopped, and its open
        tool calls are answered, so the transcript stays whole and paired."""
        for index, block in sorted(self._blocks.items()):
            if block.kind == "text" and block.text and not block.done:
                await self._text_done(self._offset + index, block.text)
        self._blocks.clear()
        for call in list(self._open.values()):
            await self._tool_result(call, ToolOutcome(f"Interrupted: {reason}", True))

    async def on_message(self, message: object) -> None:
        if getattr(message, "parent_tool_use_id", None):
            return  # a subagent's inner work; its call and result are the main turn's
        if isinstance(message, SystemMessage) and message.subtype == "init":
            self.cli_session_id = message.data.get("session_id") or self.cli_session_id
        elif isinstance(message, SystemMessage) and message.subtype == "api_retry":
            await self.sink.retry(_api_retry(message.data))
        elif isinstance(message, StreamEvent):
            self.cli_session_id = message.session_id or self.cli_session_id
            await self._on_event(message.event)
        elif isinstance(message, AssistantMessage):
            await self._on_assistant(message)
        elif isinstance(message, UserMessage):
            await self._on_user(message)
        elif isinstance(message, ResultMessage):
            self._result = message

    async def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message_start":
            self._offset = self._next_offset
            self._blocks.clear()
            message = event.get("message") or {}
            self._streamed.add(str(message.get("id")))
            self._usage = dict(message.get("usage") or {})
            self._stop_reason = None
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            index = int(event.get("index", 0))
            self._blocks[index] = _Block(str(block.get("type")))
            self._next_offset = max(self._next_offset, self._offset + index + 1)
        elif kind == "content_block_delta":
            await self._on_delta(int(event.get("index", 0)), event.get("delta") or {})
        elif kind == "content_block_stop":
            await self._on_block_stop(int(event.get("index", 0)))
        elif kind == "message_delta":
            self._usage.update(event.get("usage") or {})
            self._stop_reason = (event.get("delta") or {}).get("stop_reason")
        elif kind == "message_stop":
            await self._on_response_end()

    async def _on_delta(self, index: int, delta: dict[str, Any]) -> None:
        block = self._blocks.get(index)
        text = delta.get("text")
        if block is None or delta.get("type") != "text_delta" or not text:
            return
        block.text += text
        await self.sink.text_delta(self._offset + index, text)

    async def _on_block_stop(self, index: int) -> None:
        block = self._blocks.get(index)
        if block is not None and block.kind == "text" and block.text:
            block.done = True
            await self._text_done(self._offset + index, block.text)

    async def _text_done(self, index: int, text: str) -> None:
        self.produced.append({"role": "assistant", "content": [{"type": "text", "text": text}]})
        await self.sink.text_done(index, text)

    async def _on_response_end(self) -> None:
        usage = _usage_from(self._usage)
        self.total += usage
        self.responses.append(usage)
        await self.sink.usage(usage, self._stop_reason)

    async def _on_assistant(self, message: AssistantMessage) -> None:
        if message.error is not None:
            return  # the CLI's own report of a failed request; the result carries it
        streamed = message.message_id in self._streamed
        for block in message.content:
            if isinstance(block, ToolUseBlock):
                await self._tool_use(ToolCall(block.id, block.name, dict(block.input)))
            elif isinstance(block, TextBlock) and block.text and not streamed:
                # A response the CLI did not stream (its non-streaming fallback).
                self._next_offset += 1
                await self._text_done(self._next_offset - 1, block.text)

    async def _tool_use(self, call: ToolCall) -> None:
        if call.id in self._open:
            return
        self._open[call.id] = call
        self.produced.append(
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": call.id, "name": call.name}],
            }
        )
        await self.sink.tool_use(call)
        self.calls.persisted(call)

    async def _on_user(self, message: UserMessage) -> None:
        if isinstance(message.content, str):
            return
        for block in message.content:
            if isinstance(block, ToolResultBlock):
                call = self._open.get(block.tool_use_id)
                if call is not None:
                    outcome = ToolOutcome(_result_text(block.content), bool(block.is_error))
                    await self._tool_result(call, outcome)

    async def _tool_result(self, call: ToolCall, outcome: ToolOutcome) -> None:
        del self._open[call.id]
        self.produced.append(
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id}]}
        )
        await self.sink.tool_result(call, outcome)

    @property
    def context_tokens(self) -> int | None:
        """The size of the CLI's session after the last response: its prompt and answer."""
        if not self.responses:
            return None
        last = self.responses[-1]
        return last.prompt_tokens + last.output_tokens

    def finish(self) -> ResultMessage:
        """The turn's result; raises when the CLI reported a failure or never finished."""
        result = self._result
        if result is None:
            stopped = ClaudeUnavailableError(
                "Claude Code stopped before finishing the turn", details={"runtime": "claude-code"}
            )
            raise CliAttemptFailed(stopped, "cli_exited", "the Claude Code process stopped")
        if result.is_error:
            reason = result.result or "; ".join(result.errors or []) or result.subtype
            details: dict[str, Any] = {"runtime": "claude-code", "subtype": result.subtype}
            if result.api_error_status is not None:
                details["status"] = result.api_error_status
            raise ClaudeUnavailableError(f"Claude Code: {reason}", details=details)
        return result


def _api_retry(data: dict[str, Any]) -> RetryNotice:
    """Claude Code's own retry of a failed API request, as the retry it is."""
    status, error = data.get("error_status"), str(data.get("error") or "")
    if not error:
        error = f"http_{status}" if status else "api_error"
    elif not error.endswith("_error"):
        error += "_error"  # the API's names: "overloaded" is its overloaded_error
    return RetryNotice(int(data.get("attempt") or 1), int(data.get("max_retries") or 0), error)


BUFFER_NOTE = (
    "A tool output was too large for Claude Code to pass on. Keep tool outputs small: "
    "read large files in parts, and limit what commands print (for example with head)."
)


class CliAttemptFailed(Exception):
    """A CLI process failed on its own in a way another attempt may not: retry it."""

    def __init__(
        self,
        error: ClaudeUnavailableError,
        error_type: str,
        reason: str,
        corrective: str | None = None,
    ) -> None:
        super().__init__(error.message)
        self.error = error
        """What the turn fails with once the retries are spent."""
        self.error_type = error_type
        self.reason = reason
        self.corrective = corrective


def retry_for(error: ClaudeSDKError) -> tuple[str, str, str | None] | None:
    """(error type, reason, corrective note) when ``error`` is worth another attempt."""
    if isinstance(error, CLINotFoundError):
        return None
    if isinstance(error, CLIJSONDecodeError):
        if "buffer size" in f"{error} {error.line}":
            return "cli_buffer_overflow", "a tool output was too large for the CLI", BUFFER_NOTE
        return "cli_json_error", "the CLI wrote output that could not be read", None
    if isinstance(error, ProcessError | CLIConnectionError):
        return "cli_exited", "the Claude Code process exited unexpectedly", None
    return None


def _result_text(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) for part in content if part.get("type") == "text"
        )
    return content or ""


def _usage_from(raw: Mapping[str, Any]) -> Usage:
    def number(key: str) -> int:
        value = raw.get(key)
        return value if isinstance(value, int) else 0

    return Usage(
        input_tokens=number("input_tokens"),
        output_tokens=number("output_tokens"),
        cache_creation_input_tokens=number("cache_creation_input_tokens"),
        cache_read_input_tokens=number("cache_read_input_tokens"),
    )


async def _interrupt_and_disconnect(client: ClaudeSDKClient) -> None:
    """Ask the CLI to stop the turn; the process is stopped right after either way."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(INTERRUPT_TIMEOUT):
            await client.interrupt()
    await _disconnect(client)


async def _disconnect(client: ClaudeSDKClient) -> None:
    with contextlib.suppress(Exception):
        await client.disconnect()


def _failure(error: ClaudeSDKError, stderr: list[str]) -> ClaudeUnavailableError:
    details: dict[str, Any] = {"runtime": "claude-code"}
    if isinstance(error, ProcessError):
        details["exit_code"] = error.exit_code
    if stderr:
        details["stderr"] = "\n".join(stderr[-STDERR_LINES:])
    return ClaudeUnavailableError(f"Claude Code failed: {error}", details=details)


def cli_environment(
    base_url: str | None, api_key: str | None, oauth_token: str | None
) -> dict[str, str]:
    """What the CLI needs from KumiAI's settings (it inherits the rest of the environment)."""
    environment = {}
    if base_url:
        environment["ANTHROPIC_BASE_URL"] = base_url
    if api_key:
        environment["ANTHROPIC_API_KEY"] = api_key
    if oauth_token:
        environment["CLAUDE_CODE_OAUTH_TOKEN"] = oauth_token
    return environment
