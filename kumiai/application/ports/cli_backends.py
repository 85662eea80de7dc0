"""The coding-agent CLIs on this machine (Claude Code, Codex, Gemini, OpenCode): where
each is, which version, how its user is signed in, and how much of their plan is used.

Finding a CLI is the same question whether the Settings page asks or a runtime is about
to start one, so both go through :class:`CliDiscovery`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

CLAUDE = "claude"
CLI_BACKENDS = (CLAUDE, "codex", "gemini", "opencode")
"""Every backend an agent may name, in the order the Settings page lists them."""

ORCHESTRATING_BACKENDS = frozenset({CLAUDE})
"""Backends whose agents can call KumiAI's orchestration tools (``contact_pm``,
``spawn_instance``, ...): they are served to Claude only. A PM's specialist on another
backend works alone on its task."""

CliSource = Literal["configured", "bundled", "path"]


@dataclass(frozen=True)
class CliInstallation:
    """One backend's CLI as found now.

    ``path`` is the executable that would run (None when there is none); ``source`` says
    how it was found: the setting naming it, the copy bundled with the Claude Code SDK,
    or the first match on ``PATH``. ``version`` is the first line of its ``--version``,
    None when that failed; ``problem`` says why a CLI is missing or has no version.
    """

    name: str
    path: str | None
    source: CliSource | None
    version: str | None = None
    problem: str | None = None

    @property
    def installed(self) -> bool:
        return self.path is not None


class CliDiscovery(Protocol):
    async def find(self, name: str) -> CliInstallation:
        """The CLI of backend ``name`` (one of :data:`CLI_BACKENDS`)."""
        ...

    async def find_all(self) -> list[CliInstallation]:
        """Every backend's CLI, in the order of :data:`CLI_BACKENDS`."""
        ...


@dataclass(frozen=True)
class CliAccount:
    """What a CLI's own files on this machine say about its user's plan and sign-in.

    ``configured_model`` is None when the CLI's configuration names no model; ``extra``
    holds a few displayable facts (organisation, a masked account name, ...).
    """

    plan: str = "unknown"
    plan_tier: str = ""
    auth_status: str = "not configured"
    dashboard_url: str = ""
    configured_model: str | None = None
    reset_window: str | None = None  # how the plan's limits reset, where that is known
    extra: dict[str, Any] = field(default_factory=dict)


class CliAccounts(Protocol):
    def read(self, name: str) -> CliAccount:
        """The account of backend ``name``, from local files only."""
        ...


UsageError = str
"""``unauthenticated`` (no credentials to ask with), ``unavailable`` (nothing to ask,
or no usable answer) or ``http_<status>``."""


@dataclass(frozen=True)
class UsageWindow:
    label: str
    utilization: float  # 0.0 to 1.0
    resets_at: str | None = None


@dataclass(frozen=True)
class LiveUsage:
    windows: list[UsageWindow] = field(default_factory=list)
    error: UsageError | None = None


class LiveUsageSource(Protocol):
    async def claude(self) -> LiveUsage:
        """Claude Code's plan usage windows, asked of the configured Anthropic base URL."""
        ...
