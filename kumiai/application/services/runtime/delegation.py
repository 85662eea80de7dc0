"""Cross-session work behind the orchestration tools: spawning and messaging sessions.

Runaway guards live here, where agents reach other sessions: a session cannot message
itself, a PM may keep only so many specialists, and the messages agents send each other
on behalf of one request of the user come out of a fixed budget (:mod:`.chains`). A
refusal is a tool error the model reads, and a notification the user sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from kumiai.application.dtos.tasks import TaskCreate, TaskUpdate, TaskView
from kumiai.application.ports.events import EventPublisher
from kumiai.application.ports.files import ProjectFiles
from kumiai.application.ports.prompts import PromptSource
from kumiai.application.ports.tools import ToolContext
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import project_of, require_session
from kumiai.application.services.runtime.chains import Chain, MessageChains
from kumiai.application.services.runtime.inbox import Inbox
from kumiai.application.services.session_lifecycle import open_session
from kumiai.application.services.sessions import bindable_task
from kumiai.application.services.tasks import TaskEvents, TaskService
from kumiai.core.exceptions import LimitReachedError, ValidationError
from kumiai.domain.entities import Character, Project, Session
from kumiai.domain.value_objects import KanbanStage, SessionType, TaskStatus

TITLE_CHARS = 120
GUARD_TITLE = "An agent was stopped by a safety limit"


@dataclass(frozen=True)
class DelegationLimits:
    """The runaway guards (``KUMIAI_MAX_SPECIALISTS_PER_SESSION``,
    ``KUMIAI_AGENT_MESSAGE_BUDGET``)."""

    specialists_per_session: int = 20
    agent_messages_per_request: int = 50


class DelegationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        inbox: Inbox,
        events: EventPublisher,
        prompts: PromptSource,
        project_files: ProjectFiles,
        *,
        limits: DelegationLimits | None = None,
    ) -> None:
        self._uow = uow
        self._inbox = inbox
        self._events = events
        self._prompts = prompts
        self._project_files = project_files
        self._limits = limits or DelegationLimits()
        self._chains = MessageChains(self._limits.agent_messages_per_request)
        self._tasks = TaskService(uow, TaskEvents(events))

    async def team_of(self, caller: ToolContext) -> list[dict[str, Any]]:
        async with self._uow(read_only=True) as uow:
            _, project = await _session_and_project(uow, caller.session_id)
            members = await uow.characters.get_many(project.team_character_ids)
        return [_member(member) for member in members if not member.is_deleted]

    async def spawn(
        self, caller: ToolContext, agent_ref: str, task: str, task_id: UUID | None = None
    ) -> dict[str, Any]:
        """Start a specialist of the team; with ``task_id``, bound to that task of the
        PM's project (any other task is refused)."""
        chain = self._chain_of(caller)
        async with self._uow() as uow:
            pm, project = await _session_and_project(uow, caller.session_id)
            if pm.session_type != SessionType.PM:
                raise ValidationError("only a project manager can start specialists")
            project.refuse_if_archived()
            with self._alerting(pm.id, project, chain):
                await self._check_room_for_specialist(uow, pm)
                if chain is not None:
                    self._chains.require_room(chain)
            character = await _team_member(uow, project, agent_ref)
            bound = await bindable_task(uow, task_id, project)
            specialist = Session.create(
                SessionType.SPECIALIST,
                character.id,
                project.id,
                _specialist_context(pm, task, project),
                bound.id if bound else None,
                cli_backend=character.cli_backend,
            )
            await open_session(uow, specialist)
            pm_name = await _agent_name(uow, pm)
            await uow.commit()
        await self._deliver(
            chain, project, specialist.id, task, sender_id=pm.id, sender_name=pm_name
        )
        return {
            "instance_id": str(specialist.id),
            "session_id": str(specialist.id),
            "agent_id": character.slug,
            "agent_name": character.name,
            "task_id": str(bound.id) if bound else None,
            "status": "started",
        }

    # --- the PM's tasks (confined to the PM's own project) --------------------------------

    async def create_task(
        self, caller: ToolContext, name: str, description: str | None
    ) -> TaskView:
        project_id = await self._pm_project(caller)
        return await self._tasks.create(project_id, TaskCreate(name=name, description=description))

    async def list_tasks(self, caller: ToolContext) -> list[TaskView]:
        return await self._tasks.list_all(await self._pm_project(caller))

    async def update_task_status(
        self, caller: ToolContext, task_id: UUID, status: TaskStatus
    ) -> tuple[TaskStatus, TaskView]:
        """The task's status before, and the task after. Another project's task is not
        found."""
        project_id = await self._pm_project(caller)
        before = await self._tasks.get(task_id, project_id=project_id)
        after = await self._tasks.update(task_id, TaskUpdate(status=status), project_id=project_id)
        return before.status, after

    async def _pm_project(self, caller: ToolContext) -> UUID:
        """The project of the calling PM session; the task tools work only there."""
        async with self._uow(read_only=True) as uow:
            session, project = await _session_and_project(uow, caller.session_id)
        if session.session_type != SessionType.PM:
            raise ValidationError("only a project manager can manage the project's tasks")
        return project.id

    async def contact(self, caller: ToolContext, target_id: UUID, message: str) -> None:
        sender_id = caller.session_id
        if target_id == sender_id:
            raise ValidationError(
                "this is your own session: contact_instance sends to another session; "
                "continue the work yourself instead"
            )
        chain = self._chain_of(caller)
        async with self._uow(read_only=True) as uow:
            sender, project = await _session_and_project(uow, sender_id)
            target = await uow.sessions.get(target_id)
            if target is None or target.project_id != project.id:
                raise ValidationError(f"session {target_id} is not part of this project")
            name = await _agent_name(uow, sender)
        await self._deliver(
            chain, project, target_id, message, sender_id=sender_id, sender_name=name
        )

    async def contact_pm(self, caller: ToolContext, message: str) -> UUID:
        sender_id = caller.session_id
        chain = self._chain_of(caller)
        async with self._uow(read_only=True) as uow:
            sender, project = await _session_and_project(uow, sender_id)
            if project.pm_session_id is None:
                raise ValidationError("this project has no project manager")
            name = await _agent_name(uow, sender)
        pm_session_id = project.pm_session_id
        await self._deliver(
            chain, project, pm_session_id, message, sender_id=sender_id, sender_name=name
        )
        return pm_session_id

    # --- guards -----------------------------------------------------------------------

    def _chain_of(self, caller: ToolContext) -> Chain | None:
        """The chain of the caller's running turn (None outside a turn)."""
        return None if caller.chain is None else self._chains.of(caller.chain)

    async def _check_room_for_specialist(self, uow: UnitOfWork, pm: Session) -> None:
        limit = self._limits.specialists_per_session
        if await uow.sessions.count_spawned_by(pm.id) >= limit:
            raise LimitReachedError(
                f"this session already started {limit} specialists, the most it may "
                "start; give more work to the specialists you have (contact_instance)",
                details={"limit": "specialists_per_session", "max": limit},
            )

    @contextmanager
    def _alerting(self, session_id: UUID, project: Project, chain: Chain | None) -> Iterator[None]:
        """When a guard stops the agent, tell the user too; the model gets the error."""
        try:
            yield
        except LimitReachedError as error:
            self._alert_user(session_id, project, chain, error)
            raise

    async def _deliver(
        self,
        chain: Chain | None,
        project: Project,
        target_id: UUID,
        message: str,
        *,
        sender_id: UUID,
        sender_name: str | None,
    ) -> None:
        """Send an agent's message to another session, out of its chain's budget."""
        project.refuse_if_archived()
        if chain is not None:
            with self._alerting(sender_id, project, chain):
                self._chains.spend(chain)
        try:
            await self._inbox.accept(
                target_id,
                message,
                sender_session_id=sender_id,
                sender_name=sender_name,
                metadata=chain.as_metadata() if chain else None,
            )
        except BaseException:
            if chain is not None:
                self._chains.refund(chain)
            raise

    def _alert_user(
        self, session_id: UUID, project: Project, chain: Chain | None, error: LimitReachedError
    ) -> None:
        """A notification on the session that was stopped and on the one the user wrote in."""
        if chain is not None and chain.alerted:
            return
        sessions = {session_id} | ({chain.origin_session_id} if chain else set())
        for target in sessions:
            self._events.publish(
                target,
                "notification",
                title=GUARD_TITLE,
                message=_for_the_user(error),
                priority="high",
                project_name=project.name,
            )
        if chain is not None:
            chain.alerted = True

    async def info(self, caller: ToolContext) -> dict[str, Any]:
        async with self._uow(read_only=True) as uow:
            session = await require_session(uow, caller.session_id)
            project = await project_of(uow, session)
            name = await _agent_name(uow, session)
        return {
            "session_id": str(session.id),
            "session_type": session.session_type.value,
            "status": session.status.value,
            "agent_name": name,
            "project_id": str(project.id) if project else None,
            "project_name": project.name if project else None,
            "pm_session_id": str(project.pm_session_id)
            if project and project.pm_session_id
            else None,
            "working_directory": caller.working_dir,
            "task": session.description,
        }

    async def show_file(self, caller: ToolContext, path: str) -> str:
        # Reading proves the path is inside the working directory and exists.
        self._project_files.read_file(caller.working_dir, path)
        return f"Showing {path} to the user."

    async def load_skill(self, slug: str) -> str:
        return self._prompts.skill_text(slug)

    async def notify(self, caller: ToolContext, title: str, message: str, priority: str) -> None:
        async with self._uow(read_only=True) as uow:
            project = await project_of(uow, await require_session(uow, caller.session_id))
        self._events.publish(
            caller.session_id,
            "notification",
            title=title,
            message=message,
            priority=priority,
            project_name=project.name if project else None,
        )


async def _session_and_project(uow: UnitOfWork, session_id: UUID) -> tuple[Session, Project]:
    session = await require_session(uow, session_id)
    project = await project_of(uow, session)
    if project is None:
        raise ValidationError("this session does not belong to a project")
    return session, project


async def _team_member(uow: UnitOfWork, project: Project, agent_ref: str) -> Character:
    character = await uow.characters.get_by_slug(agent_ref)
    if character is None or character.id not in project.team_character_ids:
        team = await uow.characters.get_many(project.team_character_ids)
        raise ValidationError(
            f"'{agent_ref}' is not on this project's team",
            details={"team": [member.slug for member in team]},
        )
    return character


async def _agent_name(uow: UnitOfWork, session: Session) -> str | None:
    if session.character_id is None:
        return None
    found = await uow.characters.get_many([session.character_id])
    return found[0].name if found else None


def _for_the_user(error: LimitReachedError) -> str:
    if error.details.get("limit") == "agent_messages":
        return (
            f"The agents sent each other {error.details['budget']} messages for one of "
            "your requests, the most they may; further messages between them are refused. "
            "Send a new message to let them continue."
        )
    return (
        f"A project manager tried to start more than {error.details['max']} specialists; "
        "it was refused. Delete specialists you no longer need to make room."
    )


def _member(character: Character) -> dict[str, Any]:
    return {
        "agent_id": character.slug,
        "name": character.name,
        "role": character.role,
        "description": character.description,
        "skills": character.skills,
    }


def _specialist_context(pm: Session, task: str, project: Project) -> dict[str, Any]:
    return {
        "description": task.strip().splitlines()[0][:TITLE_CHARS],
        "task_description": task,
        "spawned_by_session_id": str(pm.id),
        "kanban_stage": KanbanStage.ACTIVE.value,
        "project_path": project.path,
    }
