"""How the turn machinery is put together, from the ports it runs on.

Built in dependency order, each piece whole when it is made: the inbox (accept, queue,
wake) first, since delegation sends through it; then what a turn needs (context,
delegation, sink hooks) and the runner; the workers last, around the runner and the
inbox. Nothing is wired after construction: a turn reaches other sessions only by
ringing the inbox's doorbell, which the workers answer.

The composition root calls this with the real adapters; the unit tests call it with
an in-memory unit of work and a fake runtime, so they test the same assembly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kumiai.application.ports.agent_runtime import AgentRuntime
from kumiai.application.ports.files import ProjectFiles
from kumiai.application.ports.prompts import PromptSource
from kumiai.application.ports.tools import Tool
from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.application.services.models import ModelResolver
from kumiai.application.services.runtime.autosave import DefinitionAutoSave, FolderIndexer
from kumiai.application.services.runtime.context import McpTools, TurnContextBuilder
from kumiai.application.services.runtime.delegation import DelegationLimits, DelegationService
from kumiai.application.services.runtime.events import EventHub
from kumiai.application.services.runtime.inbox import Inbox
from kumiai.application.services.runtime.ownership import SessionOwnership
from kumiai.application.services.runtime.questions import QuestionDesk
from kumiai.application.services.runtime.runner import TurnRunner
from kumiai.application.services.runtime.sink import StreamFlush
from kumiai.application.services.runtime.slots import TurnCaps, TurnSlots
from kumiai.application.services.runtime.workers import SessionCloser, SessionWorkers
from kumiai.application.services.working_directories import WorkingDirectories
from kumiai.domain.value_objects import SessionType


@dataclass(frozen=True)
class RuntimeLimits:
    turn_caps: TurnCaps = field(default_factory=lambda: TurnCaps(per_runtime={}, default=64))
    delegation: DelegationLimits = field(default_factory=DelegationLimits)
    context_window_tokens: int = 200_000
    stream_flush: StreamFlush = field(default_factory=StreamFlush)


@dataclass(frozen=True)
class TurnServices:
    """What a turn uses besides the database and the model."""

    prompts: PromptSource
    project_files: ProjectFiles
    file_tools: Sequence[Tool]
    directories: WorkingDirectories
    models: ModelResolver
    mcp: McpTools
    libraries: Mapping[SessionType, tuple[str, FolderIndexer]]
    """The library each assistant kind writes into (``kind``, its indexer)."""


@dataclass(frozen=True)
class Runtime:
    inbox: Inbox
    workers: SessionWorkers
    delegation: DelegationService
    questions: QuestionDesk


def assemble_runtime(
    uow: UnitOfWorkFactory,
    hub: EventHub,
    agent: AgentRuntime,
    services: TurnServices,
    *,
    claude_configured: Callable[[], bool],
    limits: RuntimeLimits,
    session_closers: Sequence[SessionCloser] = (),
    ownership: SessionOwnership | None = None,
) -> Runtime:
    slots = TurnSlots(limits.turn_caps)
    inbox = Inbox(uow, hub, slots, claude_configured)
    delegation = DelegationService(
        uow, inbox, hub, services.prompts, services.project_files, limits=limits.delegation
    )
    ownership = ownership or SessionOwnership()
    questions = QuestionDesk(uow, ownership)
    contexts = TurnContextBuilder(
        uow,
        services.prompts,
        services.project_files,
        file_tools=services.file_tools,
        delegation=delegation,
        questions=questions,
        directories=services.directories,
        models=services.models,
        mcp=services.mcp,
        context_window_tokens=limits.context_window_tokens,
    )
    autosave = DefinitionAutoSave(services.libraries, services.directories, hub)
    runner = TurnRunner(uow, hub, agent, contexts, autosave.after_tool, flush=limits.stream_flush)
    workers = SessionWorkers(
        uow, inbox, runner, slots, hub, session_closers=session_closers, ownership=ownership
    )
    return Runtime(inbox=inbox, workers=workers, delegation=delegation, questions=questions)
