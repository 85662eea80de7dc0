"""The composition root: the only module that wires infrastructure into services.

It sits outside `core` (which imports no other layer) and under `api`, which reaches
infrastructure only through it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from kumiai.application.dtos.health import RuntimeSelection
from kumiai.application.ports.events import Retention
from kumiai.application.ports.files import DefinitionFiles, ProjectFiles
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.activity import ActivityService
from kumiai.application.services.characters import AGENT_MD, CharacterService
from kumiai.application.services.cli_backends import CliBackendService
from kumiai.application.services.conversation import ConversationService
from kumiai.application.services.definitions_sync import DefinitionSyncService
from kumiai.application.services.health import HealthService
from kumiai.application.services.mcp import McpConfig
from kumiai.application.services.mcp_sessions import McpSessions
from kumiai.application.services.messages import MessageService
from kumiai.application.services.models import ModelResolver
from kumiai.application.services.onboarding import OnboardingService
from kumiai.application.services.profile import ProfileService
from kumiai.application.services.projects import ProjectService
from kumiai.application.services.runtime.assembly import (
    RuntimeLimits,
    TurnServices,
    assemble_runtime,
)
from kumiai.application.services.runtime.delegation import DelegationLimits
from kumiai.application.services.runtime.events import BufferLimits, EventHub
from kumiai.application.services.runtime.inbox import Inbox
from kumiai.application.services.runtime.orchestration import orchestration_tools
from kumiai.application.services.runtime.ownership import LeaseTiming, SessionOwnership
from kumiai.application.services.runtime.questions import AskUserQuestionTool
from kumiai.application.services.runtime.sink import StreamFlush
from kumiai.application.services.runtime.slots import TurnCaps
from kumiai.application.services.runtime.workers import SessionWorkers
from kumiai.application.services.session_files import SessionFileService
from kumiai.application.services.sessions import SessionService
from kumiai.application.services.skill_sources import FILE_SCHEME, NETWORK_SCHEMES
from kumiai.application.services.skills import SKILL_MD, SkillService
from kumiai.application.services.streams import OpenStreams
from kumiai.application.services.system import SystemService
from kumiai.application.services.tasks import TaskEvents, TaskService
from kumiai.application.services.tool_catalog import ToolCatalogService
from kumiai.application.services.working_directories import WorkingDirectories
from kumiai.core.config import Settings
from kumiai.domain.value_objects import SessionType
from kumiai.infrastructure.claude.models import AnthropicModelList
from kumiai.infrastructure.claude.tools import file_tools
from kumiai.infrastructure.cli import (
    ClaudeUsageApi,
    CliDiscoverer,
    LocalCliAccounts,
    bundled_claude_cli,
)
from kumiai.infrastructure.cli_agents.codex import CodexBackend
from kumiai.infrastructure.cli_agents.router import BackendRouter, CliRuntimes, CliSetup
from kumiai.infrastructure.cli_agents.runtime import BackendModels, CliRetries
from kumiai.infrastructure.database.control_channel import PgControlChannel
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.event_log import PostgresEventLog
from kumiai.infrastructure.database.probe import EngineProbe
from kumiai.infrastructure.database.repositories.processes import SqlProcessLeases
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork
from kumiai.infrastructure.deferred_runtime import ClosableRuntime, DeferredRuntime
from kumiai.infrastructure.filesystem.documents import AGENT_FORMAT, SKILL_FORMAT
from kumiai.infrastructure.filesystem.home import HomeLayout
from kumiai.infrastructure.filesystem.prompt_source import FolderPromptSource
from kumiai.infrastructure.filesystem.stores import DefinitionFolderStore, ProjectFolderStore
from kumiai.infrastructure.filesystem.text_file import OptionalTextFile
from kumiai.infrastructure.filesystem.uploads import UploadFolderStore
from kumiai.infrastructure.git import GitCli
from kumiai.infrastructure.mcp.pool import McpSessionPool
from kumiai.infrastructure.runtime_selection import ANTHROPIC, CLAUDE_CODE, select_runtime
from kumiai.infrastructure.starter_teams import load_starter_teams


@dataclass
class Container:
    settings: Settings
    database: Database
    unit_of_work: UnitOfWorkFactory
    health: HealthService
    profile: ProfileService
    character_files: DefinitionFiles
    skill_files: DefinitionFiles
    characters: CharacterService
    skills: SkillService
    definitions_sync: DefinitionSyncService
    project_files: ProjectFiles
    projects: ProjectService
    tasks: TaskService
    sessions: SessionService
    session_files: SessionFileService
    messages: MessageService
    activity: ActivityService
    events: EventHub
    inbox: Inbox
    workers: SessionWorkers
    conversation: ConversationService
    runtime_selection: RuntimeSelection
    agent_runtime: ClosableRuntime
    models: ModelResolver
    onboarding: OnboardingService
    mcp: McpConfig
    mcp_sessions: McpSessions
    system: SystemService
    tools: ToolCatalogService
    streams: OpenStreams
    cli_discovery: CliDiscoverer
    cli: CliBackendService

    async def start(self) -> None:
        """Recover sessions a crash left mid-turn, start the workers (and the queues that
        wait), and pick up hand-edited definitions."""
        await self.events.start()
        await self.workers.start()
        await self.definitions_sync.reindex()

    async def aclose(self) -> None:
        await self.workers.shutdown()
        await self.events.aclose()
        await self.agent_runtime.aclose()
        await self.models.aclose()
        await self.mcp_sessions.aclose()
        await self.database.dispose()


def open_database(settings: Settings, database_url: str) -> Database:
    return Database(
        database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        connect_timeout=settings.db_connect_timeout,
    )


def build_container(settings: Settings, database: Database) -> Container:
    events = EventHub(
        BufferLimits(settings.event_buffer_events, settings.event_buffer_bytes),
        store=PostgresEventLog(
            database.url,
            connect_timeout=settings.db_connect_timeout,
            durable_commit=settings.event_durable_commit,
        ),
        retention=Retention(
            max_age=timedelta(hours=settings.event_retention_hours),
            max_per_session=settings.event_retention_per_session,
        ),
        prune_interval=settings.event_prune_interval,
    )

    def unit_of_work(*, read_only: bool = False) -> UnitOfWork:
        # Read the factories at call time: tests swap them for ones bound to their
        # transaction.
        if read_only:
            return SqlUnitOfWork(database.read_session_factory, read_only=True)
        return SqlUnitOfWork(database.session_factory, events=events)

    home = HomeLayout(settings.home)
    character_files = DefinitionFolderStore(home.characters_dir, AGENT_MD, kind="character")
    skill_files = DefinitionFolderStore(home.skills_dir, SKILL_MD, kind="skill")
    characters = CharacterService(unit_of_work, character_files, AGENT_FORMAT)
    skills = SkillService(
        unit_of_work,
        skill_files,
        SKILL_FORMAT,
        git=_git(settings),
        allow_file_urls=settings.skill_import_allow_file_urls,
    )
    project_files = ProjectFolderStore()
    directories = WorkingDirectories(settings.home)
    mcp = McpConfig(
        OptionalTextFile(home.mcp_servers_file), OptionalTextFile(settings.claude_config_file)
    )
    mcp_sessions = McpSessions(
        mcp,
        McpSessionPool(
            start_timeout=settings.mcp_start_timeout,
            call_timeout=settings.mcp_call_timeout,
            idle_timeout=settings.mcp_idle_timeout,
        ),
        probe_dir=str(settings.home),
    )
    selection = select_runtime(settings)
    discovery = cli_discovery(settings)
    agent_runtime = _agent_runtime(settings, selection, mcp, discovery)
    models = model_resolver(settings)
    tools = file_tools()
    runtime = assemble_runtime(
        unit_of_work,
        events,
        agent_runtime,
        TurnServices(
            prompts=FolderPromptSource(character_files, skill_files),
            project_files=project_files,
            file_tools=tools,
            directories=directories,
            models=models,
            mcp=mcp_sessions,
            libraries={
                SessionType.SKILL_ASSISTANT: ("skill", skills),
                SessionType.AGENT_ASSISTANT: ("agent", characters),
            },
        ),
        claude_configured=lambda: selection.available,
        limits=RuntimeLimits(
            turn_caps=turn_caps(settings, selection),
            delegation=DelegationLimits(
                settings.max_specialists_per_session, settings.agent_message_budget
            ),
            context_window_tokens=settings.context_window_tokens,
            stream_flush=StreamFlush(settings.stream_flush_seconds),
        ),
        session_closers=[mcp_sessions.close_session],
        ownership=SessionOwnership(
            SqlProcessLeases(database.url, database.engine, settings.db_connect_timeout),
            PgControlChannel(database.url, settings.db_connect_timeout),
            LeaseTiming(settings.process_lease_seconds, settings.process_heartbeat_seconds),
        ),
    )
    inbox, workers = runtime.inbox, runtime.workers
    projects = ProjectService(unit_of_work, project_files, home.projects_dir, workers, inbox)
    # Between them, PM and specialist sessions use every orchestration tool.
    orchestration = [
        *orchestration_tools(runtime.delegation, "pm"),
        *orchestration_tools(runtime.delegation, "specialist"),
    ]
    streams = OpenStreams()

    return Container(
        settings=settings,
        database=database,
        unit_of_work=unit_of_work,
        health=HealthService(
            EngineProbe(database),
            home=settings.home,
            embedded=settings.uses_embedded_database,
            runtime=selection,
            models=models,
            streams=streams,
        ),
        profile=ProfileService(unit_of_work),
        character_files=character_files,
        skill_files=skill_files,
        characters=characters,
        skills=skills,
        definitions_sync=DefinitionSyncService(characters, skills),
        project_files=project_files,
        projects=projects,
        tasks=TaskService(unit_of_work, TaskEvents(events)),
        sessions=SessionService(unit_of_work, workers, inbox, directories),
        session_files=SessionFileService(
            unit_of_work, UploadFolderStore(home.uploads_dir), project_files, directories
        ),
        messages=MessageService(unit_of_work),
        activity=ActivityService(unit_of_work),
        events=events,
        inbox=inbox,
        workers=workers,
        conversation=ConversationService(unit_of_work, inbox, workers, events, runtime.questions),
        runtime_selection=selection,
        agent_runtime=agent_runtime,
        models=models,
        onboarding=OnboardingService(
            unit_of_work, characters, skills, projects, teams=load_starter_teams()
        ),
        mcp=mcp,
        mcp_sessions=mcp_sessions,
        system=SystemService(unit_of_work),
        tools=ToolCatalogService([*tools, AskUserQuestionTool(runtime.questions), *orchestration]),
        streams=streams,
        cli_discovery=discovery,
        cli=_cli_backends(settings, discovery, selection, models),
    )


def model_resolver(settings: Settings) -> ModelResolver:
    """The one resolver of model names, over the API's model list."""
    api_key = settings.anthropic_api_key
    return ModelResolver(
        AnthropicModelList(
            api_key.get_secret_value() if api_key else None, settings.anthropic_base_url
        ),
        default=settings.default_model,
        ttl_seconds=settings.model_list_ttl,
    )


def cli_discovery(settings: Settings) -> CliDiscoverer:
    """Where each backend's CLI is: the configured one, Claude Code's bundled one, PATH."""
    return CliDiscoverer(settings.cli_paths(), {"claude": bundled_claude_cli()})


def _cli_backends(
    settings: Settings,
    discovery: CliDiscoverer,
    selection: RuntimeSelection,
    models: ModelResolver,
) -> CliBackendService:
    token = settings.claude_code_oauth_token
    return CliBackendService(
        discovery,
        LocalCliAccounts(settings.claude_config_file, api_key_set=settings.claude_configured),
        ClaudeUsageApi(settings.anthropic_base_url, token.get_secret_value() if token else None),
        models=models,
        runtime=selection,
        cli_models=settings.cli_models(),
    )


def _git(settings: Settings) -> GitCli:
    """git for skill imports; file:// only where the settings allow it (tests)."""
    protocols = [
        *NETWORK_SCHEMES,
        *([FILE_SCHEME] if settings.skill_import_allow_file_urls else []),
    ]
    return GitCli(
        protocols=protocols,
        timeout_seconds=settings.skill_import_timeout,
        max_bytes=settings.skill_import_max_bytes,
    )


def turn_caps(settings: Settings, selection: RuntimeSelection) -> TurnCaps:
    """The cap of each runtime: the API's from its setting, every CLI's from memory (or
    its setting); Claude agents run on the selected Claude runtime."""
    return TurnCaps(
        per_runtime={ANTHROPIC: settings.max_api_turns},
        default=settings.cli_turn_cap(),
        claude_runtime=selection.active or ANTHROPIC,
        server=settings.max_concurrent_turns,
    )


def _agent_runtime(
    settings: Settings, selection: RuntimeSelection, mcp: McpConfig, discovery: CliDiscoverer
) -> ClosableRuntime:
    """The runtime of each turn's backend: for Claude agents the adapter of the selected
    runtime (the API one when none is available, so sending fails with the usual 503
    before it is ever called), built on the first turn as the SDKs are slow to import;
    for Codex, Gemini and OpenCode agents their CLI's."""
    if selection.active == CLAUDE_CODE:
        claude = DeferredRuntime(lambda: _claude_code_runtime(settings))
    else:
        claude = DeferredRuntime(lambda: _anthropic_runtime(settings))
    # An agent CLI is found when a turn first needs it; it starts the agent's MCP servers
    # itself.
    clis = CliRuntimes(
        settings.home / "cli-agents",
        discovery,
        setups={
            name: CliSetup(
                BackendModels(tuple(models)),
                backend=CodexBackend(config=tuple(settings.codex_config))
                if name == "codex"
                else None,
            )
            for name, models in settings.cli_models().items()
        },
        mcp_servers=lambda names: mcp.resolve(names).servers,
        retries=CliRetries(settings.turn_retries, settings.retry_backoff_seconds),
    )
    return BackendRouter(claude, clis)


def _anthropic_runtime(settings: Settings) -> ClosableRuntime:
    from kumiai.infrastructure.claude.anthropic_runtime import AnthropicRuntime  # noqa: PLC0415

    api_key = settings.anthropic_api_key
    return AnthropicRuntime(
        api_key.get_secret_value() if api_key else None,
        settings.anthropic_base_url,
        max_retries=settings.turn_retries,
        backoff_base=settings.retry_backoff_seconds,
        prompt_caching=settings.prompt_caching,
    )


def _claude_code_runtime(settings: Settings) -> ClosableRuntime:
    # The Claude Code SDK is an optional extra.
    from kumiai.infrastructure.claude_code import (  # noqa: PLC0415
        ClaudeCodeRuntime,
        cli_environment,
    )

    api_key = settings.anthropic_api_key
    token = settings.claude_code_oauth_token
    return ClaudeCodeRuntime(
        settings.home / "claude-code",
        environment=cli_environment(
            settings.anthropic_base_url,
            api_key.get_secret_value() if api_key else None,
            token.get_secret_value() if token else None,
        ),
        cli_path=settings.claude_code_cli,
        max_retries=settings.turn_retries,
        backoff_base=settings.retry_backoff_seconds,
    )
