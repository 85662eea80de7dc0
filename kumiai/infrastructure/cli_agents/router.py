"""Which runtime runs a turn: the one of its agent's backend (``TurnRequest.backend``).

``claude`` turns run on the Claude runtime KumiAI selected (the API or Claude Code);
``codex``, ``gemini`` and ``opencode`` turns on that CLI, built on its first turn from
where :class:`CliDiscovery` finds the CLI then (its setting, else ``PATH``). A backend
whose CLI cannot be found fails its turn with an error naming the backend and why, and
the next turn looks again (a CLI installed meanwhile is used without a restart).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kumiai.application.ports.agent_runtime import (
    CLAUDE_BACKEND,
    ToolExecutor,
    TurnOutcome,
    TurnRequest,
    TurnSink,
)
from kumiai.application.ports.cli_backends import CliDiscovery
from kumiai.core.exceptions import AgentBackendUnavailableError
from kumiai.infrastructure.cli_agents.codex import CodexBackend
from kumiai.infrastructure.cli_agents.gemini import GeminiBackend
from kumiai.infrastructure.cli_agents.opencode import OpenCodeBackend
from kumiai.infrastructure.cli_agents.runtime import (
    BackendModels,
    CliAgentRuntime,
    CliBackend,
    CliRetries,
    McpServers,
)
from kumiai.infrastructure.deferred_runtime import ClosableRuntime

BACKENDS: dict[str, Callable[[], CliBackend]] = {
    "codex": CodexBackend,
    "gemini": GeminiBackend,
    "opencode": OpenCodeBackend,
}
"""How to run each agent CLI, by the ``cli_backend`` that names it."""


@dataclass(frozen=True)
class CliSetup:
    """The models one backend may run, and what its CLI is run with (a backend with
    settings of its own, environment variables)."""

    models: BackendModels = field(default_factory=BackendModels)
    backend: CliBackend | None = None
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass
class CliRuntimes:
    """Builds each CLI's runtime on its first turn, from ``setups`` (by backend name)."""

    state_dir: Path
    discovery: CliDiscovery
    setups: Mapping[str, CliSetup] = field(default_factory=dict)
    mcp_servers: McpServers | None = None
    """The MCP servers behind an agent's ``allowed_mcps``, which its CLI starts itself."""
    retries: CliRetries = field(default_factory=CliRetries)
    _built: dict[str, CliAgentRuntime] = field(default_factory=dict)

    async def runtime(self, backend: str) -> CliAgentRuntime:
        if backend in self._built:
            return self._built[backend]
        make = BACKENDS.get(backend)
        if make is None:
            raise AgentBackendUnavailableError(
                f"no runtime runs agents of backend {backend!r}",
                details={"runtime": backend, "known": sorted([CLAUDE_BACKEND, *BACKENDS])},
            )
        installation = await self.discovery.find(backend)
        if installation.path is None:
            raise AgentBackendUnavailableError(
                f"the {backend} runtime is not available: {installation.problem}; "
                "install its CLI and sign in with its own login",
                details={"runtime": backend},
            )
        setup = self.setups.get(backend, CliSetup())
        built = CliAgentRuntime(
            setup.backend or make(),
            Path(installation.path),
            self.state_dir,
            models=setup.models,
            environment=setup.environment,
            mcp_servers=self.mcp_servers,
            retries=self.retries,
        )
        self._built[backend] = built
        return built

    async def aclose(self) -> None:
        await asyncio.gather(*(runtime.aclose() for runtime in self._built.values()))


class BackendRouter:
    """Implements :class:`AgentRuntime` by handing each turn to its backend's runtime."""

    def __init__(self, claude: ClosableRuntime, clis: CliRuntimes) -> None:
        self._claude = claude
        self._clis = clis

    async def run_turn(
        self, request: TurnRequest, tools: ToolExecutor, sink: TurnSink
    ) -> TurnOutcome:
        if request.backend == CLAUDE_BACKEND:
            return await self._claude.run_turn(request, tools, sink)
        runtime = await self._clis.runtime(request.backend)
        return await runtime.run_turn(request, tools, sink)

    async def aclose(self) -> None:
        await self._claude.aclose()
        await self._clis.aclose()
