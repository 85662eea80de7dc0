"""The coding-agent CLIs as the Settings and Agents pages show them: installed or not,
with version, models, plan and live usage.

Everything here is local except the live usage of a Claude subscription, which is asked
of the configured Anthropic base URL. ``claude`` is special: its agents run on KumiAI's
own runtimes (the API, or Claude Code through its SDK), so its models are the ones those
runtimes resolve, and it counts as usable when a runtime can run turns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass

from kumiai.application.dtos.cli_backends import (
    CliBackendsReport,
    CliBackendView,
    CliUsageReport,
    CliUsageView,
    LiveUsageReport,
    LiveUsageView,
    RateLimits,
    UsageWindowView,
)
from kumiai.application.dtos.health import RuntimeSelection
from kumiai.application.ports.cli_backends import (
    CLAUDE,
    CLI_BACKENDS,
    ORCHESTRATING_BACKENDS,
    CliAccounts,
    CliDiscovery,
    CliInstallation,
    LiveUsage,
    LiveUsageSource,
)
from kumiai.application.services.models import ModelResolver

UNAVAILABLE = "unavailable"


@dataclass(frozen=True, eq=False)
class CliBackendService:
    discovery: CliDiscovery
    accounts: CliAccounts
    live: LiveUsageSource
    _: KW_ONLY
    models: ModelResolver
    runtime: RuntimeSelection
    # The models configured for each backend but ``claude``, the default first.
    cli_models: Mapping[str, Sequence[str]]

    async def backends(self) -> CliBackendsReport:
        views = []
        for cli in await self.discovery.find_all():
            default, available = await self._models_of(cli.name)
            views.append(
                CliBackendView(
                    name=cli.name,
                    installed=cli.installed,
                    version=cli.version,
                    path=cli.path,
                    default_model=default,
                    available_models=available,
                    orchestration_tools=cli.name in ORCHESTRATING_BACKENDS,
                )
            )
        return CliBackendsReport(backends=views)

    async def usage(self) -> CliUsageReport:
        return CliUsageReport(
            backends=[await self._usage_of(cli) for cli in await self.discovery.find_all()]
        )

    async def live_usage(self) -> LiveUsageReport:
        """Only Claude's usage is asked for: the other providers' usage endpoints are
        outside the configured base URLs, which are the only hosts KumiAI contacts."""
        usage = {name: LiveUsage(error=UNAVAILABLE) for name in CLI_BACKENDS}
        usage[CLAUDE] = await self.live.claude()
        return LiveUsageReport(usage={name: _live_view(found) for name, found in usage.items()})

    async def _models_of(self, name: str) -> tuple[str, list[str]]:
        if name != CLAUDE:
            models = list(self.cli_models.get(name, ()))
            return (models[0] if models else ""), models
        default = self.models.default
        if not self.runtime.available:
            return default, []
        families = [model.requested for model in await self.models.usable_families()]
        # A full model id as the default is usable as given.
        return default, families if default.lower() in families else [default, *families]

    async def _usage_of(self, cli: CliInstallation) -> CliUsageView:
        # Claude's turns run on KumiAI's own runtimes, with or without its CLI.
        if cli.name == CLAUDE and not self.runtime.available:
            return CliUsageView(name=CLAUDE, installed=False, auth_status="not configured")
        if cli.name != CLAUDE and not cli.installed:
            return CliUsageView(name=cli.name, installed=False)
        account = await asyncio.to_thread(self.accounts.read, cli.name)
        extra = dict(account.extra)
        if cli.name == CLAUDE:
            configured = (await self.models.resolve()).id
            extra["runtime"] = self.runtime.active
        else:
            defaults = self.cli_models.get(cli.name, ())
            configured = account.configured_model or (defaults[0] if defaults else "")
        return CliUsageView(
            name=cli.name,
            installed=True,
            plan=account.plan,
            plan_tier=account.plan_tier,
            configured_model=configured,
            auth_status=account.auth_status,
            dashboard_url=account.dashboard_url,
            rate_limits=RateLimits(reset_window=account.reset_window)
            if account.reset_window
            else None,
            extra=extra,
        )


def _live_view(usage: LiveUsage) -> LiveUsageView:
    windows = [
        UsageWindowView(label=w.label, utilization=w.utilization, resets_at=w.resets_at)
        for w in usage.windows
    ]
    return LiveUsageView(windows=windows, error=usage.error)
