"""KumiAI's runtime and session services on an in-memory database and a fake model.

The runtime is put together by the application's own ``assemble_runtime``, as the
composition root does, but over :mod:`tests.support.memory` and
:mod:`tests.support.fake_runtime`: the rules of the queue, the claim, settling,
cancelling, delegation and the sink, tested with no database and no server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from kumiai.application.dtos.conversation import SendMessage, SentMessage
from kumiai.application.dtos.projects import ProjectCreate
from kumiai.application.dtos.sessions import SessionCreate
from kumiai.application.ports.events import SessionEvent
from kumiai.application.ports.mcp import McpToolset
from kumiai.application.ports.models import ModelInfo
from kumiai.application.ports.tools import Tool
from kumiai.application.services.conversation import ConversationService
from kumiai.application.services.models import ModelResolver
from kumiai.application.services.projects import ProjectService
from kumiai.application.services.runtime.assembly import (
    Runtime,
    RuntimeLimits,
    TurnServices,
    assemble_runtime,
)
from kumiai.application.services.runtime.autosave import FolderIndexer
from kumiai.application.services.runtime.delegation import DelegationLimits
from kumiai.application.services.runtime.events import FROM_THE_START, EventHub
from kumiai.application.services.runtime.sink import StreamFlush
from kumiai.application.services.runtime.slots import TurnCaps
from kumiai.application.services.sessions import SessionService
from kumiai.application.services.working_directories import WorkingDirectories
from kumiai.core.exceptions import NotFoundError
from kumiai.domain.entities import Character, UserProfile
from kumiai.domain.value_objects import SessionType
from kumiai.infrastructure.filesystem.stores import ProjectFolderStore
from tests.support.fake_runtime import FakeRuntime
from tests.support.memory import MemoryDatabase

MODEL = "claude-test-1"
TERMINAL = frozenset({"done", "error", "cancelled"})
_numbers = itertools.count(1)


class _Prompts:
    """Prompt text as the folders would hold it."""

    def __init__(self) -> None:
        self.skills: dict[str, str] = {}

    def character_body(self, slug: str) -> str:
        return f"You are {slug}."

    def skill_text(self, slug: str) -> str:
        if slug not in self.skills:
            raise NotFoundError("skill", slug)
        return self.skills[slug]


class _NoModelList:
    """A model list never asked: the tests name full model ids."""

    async def list_models(self) -> list[ModelInfo]:
        raise AssertionError("a full model id needs no model list")

    async def aclose(self) -> None:
        return None


class _NoMcp:
    async def toolset(self, session_id: UUID, working_dir: str, names: Any) -> McpToolset:
        return McpToolset(tools=[], unavailable={name: "not configured" for name in names})

    async def unstarted(self, names: Any) -> McpToolset:
        return McpToolset(tools=[], unavailable={name: "not configured" for name in names})


@dataclass
class RuntimeApp:
    db: MemoryDatabase
    hub: EventHub
    claude: FakeRuntime
    runtime: Runtime
    sessions: SessionService
    projects: ProjectService
    conversation: ConversationService
    home: Path
    prompts: _Prompts

    # --- arranging ----------------------------------------------------------------------

    def character(self, name: str, **fields: Any) -> Character:
        slug = f"{name.lower()}-{next(_numbers)}"
        character = Character.create(
            slug=slug,
            file_path=str(self.home / "characters" / slug / "agent.md"),
            name=name,
            **{"default_model": MODEL, **fields},
        )
        self.db.insert(character)
        return character

    async def team(self, *members: str) -> tuple[UUID, UUID, dict[str, Character]]:
        """A project run by PM 'Pat' with these members: (project, PM session, members)."""
        pm = self.character("Pat", role="project manager")
        team = {name: self.character(name) for name in members}
        project = await self.projects.create(
            ProjectCreate(
                name=f"Apollo {next(_numbers)}",
                team_character_ids=[member.slug for member in team.values()],
                pm_character_id=pm.slug,
            )
        )
        assert project.pm_session_id is not None
        return project.id, project.pm_session_id, team

    async def specialist(self, project_id: UUID, character: Character) -> UUID:
        created = await self.sessions.create(
            SessionCreate(
                session_type=SessionType.SPECIALIST,
                character_id=character.slug,
                project_id=project_id,
                context={"description": "a task"},
            )
        )
        return created.id

    async def assistant(self) -> UUID:
        created = await self.sessions.create(SessionCreate(session_type=SessionType.ASSISTANT))
        return created.id

    # --- acting -------------------------------------------------------------------------

    async def send(self, session_id: UUID, content: str) -> SentMessage:
        return await self.conversation.send(session_id, SendMessage(content=content))

    # --- waiting and looking ------------------------------------------------------------

    def events(self, session_id: UUID) -> list[SessionEvent]:
        """Every event the session's log still holds, oldest first."""
        subscription = self.hub.log(session_id).subscribe(FROM_THE_START, capacity=10**6)
        try:
            return subscription.ready()
        finally:
            subscription.close()

    def types(self, session_id: UUID, run_id: UUID | None = None) -> list[str]:
        """The types of the session's events (of one run, when given)."""
        return [
            event.type
            for event in self.events(session_id)
            if run_id is None or event.data.get("run_id") == str(run_id)
        ]

    async def event(
        self,
        session_id: UUID,
        event_type: str,
        *,
        run_id: UUID | None = None,
        timeout: float = 5,
        **data: object,
    ) -> SessionEvent:
        """The first ``event_type`` event (of ``run_id``, holding ``data``) in the log, or
        the next to come."""
        if run_id is not None:
            data["run_id"] = str(run_id)
        subscription = await self.hub.subscribe(session_id, after=0)
        try:
            async with asyncio.timeout(timeout):
                async for event in subscription:
                    holds = all(event.data.get(key) == value for key, value in data.items())
                    if event.type == event_type and holds:
                        return event
        finally:
            subscription.close()
        raise AssertionError(f"no {event_type} event")

    async def finished(self, session_id: UUID, run_id: UUID, timeout: float = 5) -> str:
        """The terminal event of the run (done, error or cancelled)."""
        subscription = await self.hub.subscribe(session_id, after=0)
        try:
            async with asyncio.timeout(timeout):
                async for event in subscription:
                    if event.is_terminal and event.data.get("run_id") == str(run_id):
                        return event.type
        finally:
            subscription.close()
        raise AssertionError("the run never ended")

    async def idle(self, *session_ids: UUID, timeout: float = 5) -> None:
        """Until these sessions have nothing running and nothing waiting."""
        inbox, workers = self.runtime.inbox, self.runtime.workers
        async with asyncio.timeout(timeout):
            for session_id in session_ids:
                while (await inbox.queue(session_id)).waiting or workers.running(session_id):
                    await asyncio.sleep(0.005)

    async def drained(self, timeout: float = 5) -> None:
        """Until every wake-up was answered and every worker retired (nothing may hang)."""
        inbox, workers = self.runtime.inbox, self.runtime.workers
        async with asyncio.timeout(timeout):
            while True:
                await asyncio.sleep(0)  # the doorbell is answered on the next loop turn
                drains = [w.drain for w in workers._workers.values() if w.drain]
                if not drains and inbox._doorbell.empty():
                    return
                await asyncio.gather(*drains, return_exceptions=True)

    def transcript(self, session_id: UUID) -> list[tuple[str, str]]:
        """(role, content) of each stored message, in order."""
        return [(m.role.value, m.content) for m in self.db.transcript(session_id)]

    def status(self, session_id: UUID) -> str:
        return self.db.session(session_id).status.value


@contextlib.asynccontextmanager
async def runtime_app(
    home: Path,
    *,
    max_concurrent_turns: int | None = None,
    turn_caps: TurnCaps | None = None,
    delegation: DelegationLimits | None = None,
    libraries: dict[SessionType, tuple[str, FolderIndexer]] | None = None,
    claude_configured: bool = True,
    file_tools: Sequence[Tool] = (),
    db: MemoryDatabase | None = None,
    stream_flush: StreamFlush | None = None,
) -> AsyncIterator[RuntimeApp]:
    """The runtime, started (recovered, answering its doorbell), stopped on exit.

    Pass the ``db`` of an earlier app to start again on what it left (a restart)."""
    if db is None:
        db = MemoryDatabase()
        db.profile = UserProfile(display_name="Ada")
    hub = EventHub()
    claude = FakeRuntime()
    uow = db.unit_of_work(hub)
    directories = WorkingDirectories(home)
    prompts = _Prompts()
    project_files = ProjectFolderStore()
    runtime = assemble_runtime(
        uow,
        hub,
        claude,
        TurnServices(
            prompts=prompts,
            project_files=project_files,
            file_tools=file_tools,
            directories=directories,
            models=ModelResolver(_NoModelList(), default=MODEL),
            mcp=_NoMcp(),
            libraries=libraries or {},
        ),
        claude_configured=lambda: claude_configured,
        limits=RuntimeLimits(
            turn_caps=turn_caps
            or TurnCaps(per_runtime={}, default=64, server=max_concurrent_turns),
            delegation=delegation or DelegationLimits(),
            stream_flush=stream_flush or StreamFlush(),
        ),
    )
    inbox, workers = runtime.inbox, runtime.workers
    app = RuntimeApp(
        db=db,
        hub=hub,
        claude=claude,
        runtime=runtime,
        sessions=SessionService(uow, workers, inbox, directories),
        projects=ProjectService(uow, project_files, home / "projects", workers, inbox),
        conversation=ConversationService(uow, inbox, workers, hub, runtime.questions),
        home=home,
        prompts=prompts,
    )
    await workers.start()
    try:
        yield app
    finally:
        await workers.shutdown()
