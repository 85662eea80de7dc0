"""The :class:`AgentRuntime` of every agent CLI: one CLI process per turn, in JSON mode.

A :class:`CliBackend` says how to run its CLI for a turn and how to read what it prints;
everything else is the same for every CLI and lives here:

- the session's history continues through the CLI's own resume while the stored history
  still matches what the CLI holds (:mod:`kumiai.infrastructure.continuity`), and is
  replayed as a transcript in the first prompt of a fresh CLI session otherwise;
- the system prompt reaches the CLI through its own channel, files in a KumiAI-owned run
  folder when it takes one, never in the user's project;
- the CLI runs in the session's folder, in its own process group, which a cancel kills
  at once with SIGKILL;
- a CLI that cannot start, or reports a failed turn, fails the turn with
  :class:`AgentBackendUnavailableError`, its last output in the details;
- a CLI that stops after it began its turn and before it reported the end (it crashed,
  was killed, or exited) is a recoverable failure: the turn is retried
  (:class:`CliRetries`, announced to the sink) in a fresh CLI session whose transcript
  holds what the turn already did, so nothing shown is repeated; out of retries, the
  turn fails naming the cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from kumiai.application.ports.agent_runtime import (
    RetryNotice,
    ToolExecutor,
    TurnOutcome,
    TurnRequest,
    TurnSink,
    Workspace,
)
from kumiai.application.ports.mcp import McpServerDefinition
from kumiai.core.exceptions import AgentBackendUnavailableError
from kumiai.core.logging import get_logger
from kumiai.infrastructure.cli_agents.process import CliProcess
from kumiai.infrastructure.cli_agents.writer import TurnWriter
from kumiai.infrastructure.continuity import (
    ResumePoints,
    split_prompt,
    transcript_prompt,
)

logger = get_logger(__name__)

CLI_EXIT = "cli_exited"
"""The ``error_type`` of a retry after the CLI stopped mid-turn."""
CONTINUE_AFTER_EXIT = (
    "Your reply above was cut off: the program running you stopped unexpectedly. Continue "
    "it from where it stopped, without repeating what you already said or did."
)
STOPPED_CALL = "not completed: the CLI stopped before it finished"

EDITING_TOOLS = ("Write", "Edit", "MultiEdit", "NotebookEdit", "Bash")
"""KumiAI's tools that change files: an agent allowed none of them runs read-only."""


@dataclass(frozen=True)
class CliTurn:
    """Everything a backend needs to build one run of its CLI."""

    request: TurnRequest
    workspace: Workspace
    prompt: str
    """The new message, or the whole transcript when the CLI session starts fresh."""
    resume: str | None
    """The CLI's own session to continue, or None to start one."""
    run_dir: Path
    """KumiAI's folder for this session's CLI files (never the user's project)."""
    model: str | None
    """The model to ask for, or None for the CLI's own default."""
    environment: Mapping[str, str]
    """The environment the CLI starts with, before the backend's own additions."""
    mcp_servers: tuple[McpServerDefinition, ...] = ()
    """The agent's allowed MCP servers, for the CLI to start itself."""

    @property
    def may_edit(self) -> bool:
        """Whether the agent's tool allowlist lets it change files (empty allows all)."""
        allowed = self.workspace.allowed_tools
        return not allowed or any(tool in allowed for tool in EDITING_TOOLS)


@dataclass(frozen=True)
class Invocation:
    arguments: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    stdin: bytes | None = None


@dataclass(frozen=True)
class CliResult:
    """How the CLI ended the turn."""

    session_id: str | None
    stop_reason: str = "end_turn"
    error: str | None = None
    """The CLI's own report of a failed turn."""


class StreamReader(Protocol):
    async def on_event(self, event: dict[str, Any]) -> None:
        """One JSON event of the CLI's stream, translated into sink calls."""
        ...

    def result(self) -> CliResult | None:
        """How the turn ended, or None when the stream never said."""
        ...


class CliBackend(Protocol):
    @property
    def name(self) -> str:
        """The ``cli_backend`` value of the agents it runs: ``codex``, ``gemini``, ``opencode``."""
        ...

    @property
    def label(self) -> str:
        """The CLI's name for people: ``Codex``."""
        ...

    def invocation(self, turn: CliTurn) -> Invocation:
        """The CLI's arguments (after the executable), environment and input for ``turn``;
        files the CLI reads (its instructions, its settings) go into ``turn.run_dir``."""
        ...

    def reader(self, writer: TurnWriter) -> StreamReader: ...


McpServers = Callable[[Sequence[str]], Sequence[McpServerDefinition]]
"""The MCP servers (that can run) behind a list of an agent's ``allowed_mcps``."""


@dataclass(frozen=True)
class BackendModels:
    """The models an operator allows for a backend; the first is its default."""

    available: tuple[str, ...] = ()

    @property
    def default(self) -> str | None:
        return self.available[0] if self.available else None

    def choose(self, requested: str) -> str | None:
        """The requested model when the backend offers it, else the backend's default.

        A session's model is a Claude model unless its agent names one of this backend
        (``default_model``); a Claude model means "the backend's default" here. With no
        list configured, a model that is not Claude's is passed as it is.
        """
        if requested in self.available:
            return requested
        if not self.available and requested and not requested.startswith("claude"):
            return requested
        return self.default


class CliExitedEarlyError(AgentBackendUnavailableError):
    """The CLI stopped before it reported the end of its turn: worth retrying."""


@dataclass(frozen=True)
class CliRetries:
    """How often a turn whose CLI stopped mid-turn is retried, and how long it waits:
    ``backoff`` seconds first, twice as long each next time, at most ``backoff_max``."""

    max_retries: int = 3
    backoff: float = 0.5
    backoff_max: float = 8.0

    def delay(self, retry_number: int) -> float:
        return float(min(self.backoff * 2**retry_number, self.backoff_max))


class CliAgentRuntime:
    """Runs agent turns in one agent CLI (``backend``) found at ``executable``."""

    def __init__(
        self,
        backend: CliBackend,
        executable: Path,
        state_dir: Path,
        *,
        models: BackendModels = BackendModels(),
        environment: Mapping[str, str] | None = None,
        mcp_servers: McpServers | None = None,
        retries: CliRetries = CliRetries(),
    ) -> None:
        self.backend = backend
        self._retries = retries
        self._executable = executable
        self._state_dir = state_dir / backend.name
        self._resume_points = ResumePoints(self._state_dir / "sessions")
        self._models = models
        self._environment = dict(environment or {})
        self._mcp_servers = mcp_servers
        self._stopping: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        """Wait for the CLIs of cancelled turns to be reaped."""
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)

    async def run_turn(
        self, request: TurnRequest, tools: ToolExecutor, sink: TurnSink
    ) -> TurnOutcome:
        workspace = request.workspace
        if workspace is None:
            raise self._unavailable("needs the session's working folder")
        history, prompt = split_prompt(request.messages)
        point = self._resume_points.continuing(workspace.session_id, workspace.working_dir, history)
        resume = point.cli_session_id if point else None
        run_dir = self._state_dir / "runs" / str(workspace.session_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        turn = CliTurn(
            request=request,
            workspace=workspace,
            prompt=prompt if resume else transcript_prompt(history, prompt),
            resume=resume,
            run_dir=run_dir,
            model=self._models.choose(request.model),
            # PWD too: a CLI that trusts it over its real working folder (OpenCode) would
            # otherwise take KumiAI's folder for the project.
            environment={**os.environ, **self._environment, "PWD": workspace.working_dir},
            mcp_servers=self._allowed_mcp_servers(workspace),
        )
        writer = TurnWriter(sink)
        result = await self._run_with_retries(turn, writer)
        if result.session_id is not None:
            self._resume_points.record(
                workspace.session_id,
                workspace.working_dir,
                result.session_id,
                [*request.messages, *writer.produced],
            )
        return TurnOutcome(result.stop_reason, writer.total, max(writer.responses, 1))

    async def _run_with_retries(self, turn: CliTurn, writer: TurnWriter) -> CliResult:
        retry_number = 0
        while True:
            try:
                return await self._run(turn, writer)
            except CliExitedEarlyError as error:
                if retry_number >= self._retries.max_retries:
                    raise
                logger.warning("cli_turn_retry", runtime=self.backend.name, error=error.message)
                await writer.cut(STOPPED_CALL)
            await writer.sink.retry(
                RetryNotice(retry_number + 1, self._retries.max_retries, CLI_EXIT)
            )
            await asyncio.sleep(self._retries.delay(retry_number))
            retry_number += 1
            turn = replace(turn, resume=None, prompt=_continuation(turn, writer))

    async def _run(self, turn: CliTurn, writer: TurnWriter) -> CliResult:
        invocation = self.backend.invocation(turn)
        environment = {**turn.environment, **invocation.environment}
        reader = self.backend.reader(writer)
        try:
            process = await CliProcess.start(
                [str(self._executable), *invocation.arguments],
                cwd=turn.workspace.working_dir,
                environment=environment,
                stdin=invocation.stdin,
            )
        except OSError as error:
            raise self._unavailable(f"could not start {self._executable}: {error}") from error
        try:
            started = False
            async for event in process.events():
                started = True
                await reader.on_event(event)
            code = await process.wait()
        except BaseException:
            process.kill()
            self._reap_in_background(process)
            raise
        # Whatever the CLI left running in its group (a shell command's children) ends too.
        process.kill()
        await writer.close_text()
        return self._ending(reader.result(), code, process, started=started)

    def _ending(
        self, result: CliResult | None, code: int, process: CliProcess, *, started: bool
    ) -> CliResult:
        """The turn's result; raises for a failed one. A CLI that exits with an error
        before it starts the turn (a bad setting, a required MCP server that cannot
        start) is not worth retrying: it would fail the same way. One that stops later,
        or that a signal kills, is."""
        details: dict[str, Any] = {"exit_code": code}
        output = process.output_tail()
        if output:
            details["output"] = output
        if result is not None and result.error is not None:
            raise self._unavailable(result.error, **details)
        said = f": {_reason(output)}" if output else ""
        if result is None and (started or code <= 0):
            stopped = _exit(code) if code != 0 else "stopped before finishing the turn"
            raise CliExitedEarlyError(
                f"{self.backend.label}: {process.program} {stopped}{said}",
                details={"runtime": self.backend.name, **details},
            )
        if code != 0 or result is None:
            raise self._unavailable(f"{process.program} {_exit(code)}{said}", **details)
        return result

    def _reap_in_background(self, process: CliProcess) -> None:
        task = asyncio.create_task(process.reap())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def _allowed_mcp_servers(self, workspace: Workspace) -> tuple[McpServerDefinition, ...]:
        if self._mcp_servers is None or not workspace.allowed_mcps:
            return ()
        return tuple(self._mcp_servers(workspace.allowed_mcps))

    def _unavailable(self, reason: str, **details: Any) -> AgentBackendUnavailableError:
        return AgentBackendUnavailableError(
            f"{self.backend.label}: {reason}", details={"runtime": self.backend.name, **details}
        )


def _continuation(turn: CliTurn, writer: TurnWriter) -> str:
    """The prompt of a retry in a fresh CLI session: the whole turn so far, and to go on
    from where it stopped (or the turn's first prompt again when nothing came of it)."""
    history, prompt = split_prompt(turn.request.messages)
    if not writer.produced:
        return transcript_prompt(history, prompt)
    return transcript_prompt([*turn.request.messages, *writer.produced], CONTINUE_AFTER_EXIT)


def _exit(code: int) -> str:
    """How the CLI ended: its exit code, or the signal that killed it (a crash)."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _reason(output: str) -> str:
    """The line of the CLI's last output that says why: its last error line (a stack
    trace may follow it), else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith(("error", "fatal"))]
    return (errors or lines)[-1]
