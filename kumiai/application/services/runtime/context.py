"""Everything a turn needs before it talks to the model, gathered in one short read."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from kumiai.application.ports.agent_runtime import SERVER_TOOLS, TurnRequest, Workspace
from kumiai.application.ports.files import ProjectFiles
from kumiai.application.ports.mcp import McpToolset
from kumiai.application.ports.prompts import PromptSource
from kumiai.application.ports.tools import ChainRef, Tool, ToolContext
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import found, project_of
from kumiai.application.services.models import ModelResolver
from kumiai.application.services.runtime.history.window import SessionHistories
from kumiai.application.services.runtime.orchestration import Delegation, orchestration_tools
from kumiai.application.services.runtime.prompt import PromptInputs, build_system_prompt
from kumiai.application.services.runtime.questions import AskUserQuestionTool, QuestionDesk
from kumiai.application.services.runtime.toolbox import ToolBox
from kumiai.application.services.working_directories import WorkingDirectories
from kumiai.core.exceptions import NotFoundError
from kumiai.domain.entities import Character, Message, Project, Session, Skill, UserProfile
from kumiai.domain.value_objects import SessionType


class McpTools(Protocol):
    async def toolset(self, session_id: UUID, working_dir: str, names: Sequence[str]) -> McpToolset:
        """The tools of the MCP servers in ``names`` (a character's ``allowed_mcps``)."""
        ...

    async def unstarted(self, names: Sequence[str]) -> McpToolset:
        """Why servers in ``names`` cannot run, without starting any."""
        ...


@dataclass(frozen=True)
class EarlyRead:
    """The parts of a turn's context its claim does not change, read while it claims;
    ``history_read`` when the history was read too, up to the claimed message, which
    the claim adds (see :meth:`TurnContextBuilder.read_early`)."""

    session: Session
    character: Character | None
    project: Project | None
    team: list[Character]
    skills: list[Skill]
    profile: UserProfile | None
    history_read: bool = False


@dataclass(frozen=True)
class PreparedTurn:
    request: TurnRequest
    toolbox: ToolBox
    agent_name: str | None


@dataclass(frozen=True)
class _Snapshot:
    session: Session
    character: Character | None
    project: Project | None
    team: list[Character]
    skills: list[Skill]
    profile: UserProfile
    history_messages: list[dict[str, object]]

    @classmethod
    def of(
        cls, parts: EarlyRead, profile: UserProfile, history: list[dict[str, object]]
    ) -> _Snapshot:
        return cls(
            session=parts.session,
            character=parts.character,
            project=parts.project,
            team=parts.team,
            skills=parts.skills,
            profile=profile,
            history_messages=history,
        )


def chosen_model(character: Character | None, profile: UserProfile) -> str | None:
    """The character's model, then the user's; None leaves it to the configured default."""
    return (character.default_model if character else None) or profile.preferred_model


class TurnContextBuilder:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        prompts: PromptSource,
        project_files: ProjectFiles,
        *,
        file_tools: Sequence[Tool],
        delegation: Delegation,
        questions: QuestionDesk,
        directories: WorkingDirectories,
        models: ModelResolver,
        mcp: McpTools,
        context_window_tokens: int = 200_000,
        max_tokens: int = 8192,
    ) -> None:
        self._uow = uow
        self._prompts = prompts
        self._project_files = project_files
        self._file_tools = file_tools
        self._delegation = delegation
        self._ask = AskUserQuestionTool(questions)
        self._directories = directories
        self._models = models
        self._mcp = mcp
        self._context_window = context_window_tokens
        self._max_tokens = max_tokens
        self._histories = SessionHistories()

    def forget_history(self, session_id: UUID) -> None:
        """Read the session's history afresh next turn: a row it holds has changed."""
        self._histories.forget(session_id)

    async def read_early(
        self,
        session: Session,
        project: Project | None,
        profile: UserProfile | None,
        *,
        with_history: bool,
    ) -> EarlyRead:
        """What a claim leaves as it is (it moves only the status, which the context
        does not use), read on another connection while the claim runs, off the path to
        the model request. ``session`` is the row the claim locked, ``project`` its
        project and ``profile`` the user's, read with it: none is read again.

        ``with_history``: the history too, but for the claimed message. The claim holds
        the session row's lock, which every append and every clear takes, so the rows
        read are those before that message. Not while the claim changes rows in place
        (it repairs a session a failed settle left running)."""
        async with self._uow(read_only=True) as uow:
            parts = await _read_parts_of(uow, session, project, profile)
            if not with_history:
                return parts
            await self._histories.load(uow.messages, session.id, self._context_window)
            return dataclasses.replace(parts, history_read=True)

    async def build(
        self,
        session_id: UUID,
        early: EarlyRead | None = None,
        chain: ChainRef | None = None,
        claimed: Message | None = None,
    ) -> PreparedTurn:
        """The turn's request and tools; ``chain`` is what its tools send on behalf of,
        ``claimed`` the message the turn answers (committed), which an early read of the
        history did not see."""
        snapshot = await self._snapshot(session_id, early, claimed)
        working_dir = self._directories.for_session(snapshot.session, snapshot.project)
        self._project_files.create_project_dir(working_dir)
        allowed_mcps = snapshot.character.allowed_mcps if snapshot.character else []
        # An agent CLI starts the agent's servers itself (its own MCP configuration) and
        # never calls KumiAI's tools: KumiAI starts none of them for its turns.
        if snapshot.session.cli_backend.runs_kumiai_tools:
            mcp = await self._mcp.toolset(session_id, working_dir, allowed_mcps)
        else:
            mcp = await self._mcp.unstarted(allowed_mcps)
        tool_context = self._tool_context(snapshot, working_dir, chain)
        character = snapshot.character
        toolbox = ToolBox([*self._tools_for(snapshot), *mcp.tools], tool_context)
        prompt = self._prompt_inputs(snapshot, working_dir, mcp.unavailable)
        request = TurnRequest(
            model=(
                await self._models.resolve(chosen_model(snapshot.character, snapshot.profile))
            ).id,
            system=build_system_prompt(prompt),
            messages=snapshot.history_messages,
            tools=toolbox.specs,
            server_tools=_server_tools(snapshot.character),
            max_tokens=self._max_tokens,
            workspace=Workspace(
                session_id=snapshot.session.id,
                working_dir=working_dir,
                bash_enabled=tool_context.bash_enabled,
                allowed_tools=tuple(character.allowed_tools if character else ()),
                allowed_mcps=tuple(character.allowed_mcps if character else ()),
            ),
            # The runtime fits the whole request (system, tools, history) into this.
            context_window_tokens=self._context_window,
            # Which runtime runs it: Claude, or the agent's CLI (a model name that is not
            # Claude's, an agent's default_model for its CLI, passes through as given).
            backend=snapshot.session.cli_backend.value,
        )
        agent_name = snapshot.character.name if snapshot.character else None
        return PreparedTurn(request=request, toolbox=toolbox, agent_name=agent_name)

    async def _snapshot(
        self, session_id: UUID, early: EarlyRead | None, claimed: Message | None
    ) -> _Snapshot:
        if early is not None and early.history_read and early.profile is not None and claimed:
            # Nothing left to read: the claimed message joins the history read early.
            history = self._histories.extended(session_id, self._context_window, claimed)
            if history is not None:
                return _Snapshot.of(early, early.profile, history)
        # Reads only, in autocommit: no BEGIN and COMMIT before the model request. (Each
        # read of a READ COMMITTED transaction saw its own snapshot anyway.)
        async with self._uow(read_only=True) as uow:
            parts = early or await _read_parts(uow, session_id)
            profile = parts.profile or await self._first_profile()
            # A rough bound by the window for any runtime, read from the newest rows only
            # (and only those added since the last turn); the API runtime then fits the
            # whole request (system prompt and tools too) exactly.
            history = await self._histories.load(uow.messages, session_id, self._context_window)
            return _Snapshot.of(parts, profile, history)

    async def _first_profile(self) -> UserProfile:
        async with self._uow() as uow:
            profile = await uow.profiles.get_or_create()
            await uow.commit()
            return profile

    def _tools_for(self, snapshot: _Snapshot) -> list[Tool]:
        files = [*self._file_tools, self._ask]
        allowed = set(snapshot.character.allowed_tools) if snapshot.character else set()
        if allowed:
            files = [tool for tool in files if tool.spec.name in allowed]
        session_type = snapshot.session.session_type.value
        return [*files, *orchestration_tools(self._delegation, session_type)]

    def _tool_context(
        self, snapshot: _Snapshot, working_dir: str, chain: ChainRef | None
    ) -> ToolContext:
        return ToolContext(
            session_id=snapshot.session.id,
            project_id=snapshot.session.project_id,
            working_dir=working_dir,
            session_type=snapshot.session.session_type.value,
            bash_enabled=snapshot.profile.bash_enabled,
            chain=chain,
        )

    def _prompt_inputs(
        self, snapshot: _Snapshot, working_dir: str, unavailable_mcps: dict[str, str]
    ) -> PromptInputs:
        character = snapshot.character
        backend = snapshot.session.cli_backend
        return PromptInputs(
            session_type=snapshot.session.session_type,
            working_dir=working_dir,
            character=character,
            character_body=self._prompts.character_body(character.slug) if character else "",
            project=snapshot.project,
            team=snapshot.team,
            skills=snapshot.skills,
            user_name=snapshot.profile.display_name,
            user_description=snapshot.profile.description,
            preferences=snapshot.profile.preferences,
            unavailable_mcps=unavailable_mcps,
            backend=backend,
            skill_texts={} if backend.runs_kumiai_tools else self._skill_texts(snapshot.skills),
        )

    def _skill_texts(self, skills: Sequence[Skill]) -> dict[str, str]:
        """Each skill's SKILL.md, for an agent that cannot load it; a missing file is
        left out (its description stands in)."""
        texts = {}
        for skill in skills:
            with contextlib.suppress(NotFoundError):
                texts[skill.slug] = self._prompts.skill_text(skill.slug)
        return texts


def _server_tools(character: Character | None) -> tuple[str, ...]:
    """The web tools the character lists in ``allowed_tools``; they cost per use, so
    unlike the file tools they are never given by default."""
    allowed = set(character.allowed_tools) if character else set()
    return tuple(name for name in SERVER_TOOLS if name in allowed)


async def _read_parts(uow: UnitOfWork, session_id: UUID) -> EarlyRead:
    session = found(await uow.sessions.get(session_id), "session", session_id)
    return await _read_parts_of(
        uow, session, await project_of(uow, session), await uow.profiles.get()
    )


async def _read_parts_of(
    uow: UnitOfWork, session: Session, project: Project | None, profile: UserProfile | None
) -> EarlyRead:
    character, team = await _character_and_team(uow, session, project)
    return EarlyRead(
        session=session,
        character=character,
        project=project,
        team=team,
        skills=await uow.skills.get_many_by_slug(character.skills if character else []),
        profile=profile,
    )


async def _character_and_team(
    uow: UnitOfWork, session: Session, project: Project | None
) -> tuple[Character | None, list[Character]]:
    """The session's character (even deleted) and, for a PM, its project's live team:
    one read of both, a round trip fewer for a PM's turn."""
    team_ids = (
        project.team_character_ids
        if project is not None and session.session_type == SessionType.PM
        else []
    )
    own = [session.character_id] if session.character_id is not None else []
    found = await uow.characters.get_many([*own, *team_ids])
    character = next((row for row in found if row.id == session.character_id), None)
    members = set(team_ids)
    return character, [row for row in found if row.id in members and not row.is_deleted]
