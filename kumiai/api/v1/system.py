"""v1 system actions and facts (V1_CONTRACT §2.12, V1_CURRENT_CLIENT §4): reset, version,
and the coding-agent CLIs of the Settings and Agents pages."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kumiai import __version__
from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.v1.catalog_shapes import Done
from kumiai.application.dtos.cli_backends import (
    CliBackendsReport,
    CliUsageReport,
    LiveUsageReport,
)

router = FlatRouter(prefix="/system", tags=["v1 system"])


class VersionInfo(BaseModel):
    backend_version: str = Field(description="The version of the KumiAI package serving.")
    frontend_version: str | None = Field(
        description="Always null: the web client is built and served apart from the "
        "server, which cannot know its build."
    )
    app_version: str = Field(description="KumiAI's version (that of the package).")


@router.post("/reset")
async def reset_app(container: ContainerDep) -> Done:
    """Reset the app: onboarding starts over and the preferences are cleared.

    Nothing the user made is deleted: projects, agents, skills, sessions and all files
    stay. (The SQLite-era app deleted its database and the agent and skill folders;
    that is one click too far from losing work.)
    """
    await container.system.reset()
    return Done(message="Onboarding and preferences were reset; your data was kept.")


@router.get("/version")
async def version() -> VersionInfo:
    return VersionInfo(backend_version=__version__, frontend_version=None, app_version=__version__)


@router.get("/cli-backends")
async def cli_backends(container: ContainerDep) -> CliBackendsReport:
    """Each coding-agent CLI (claude, codex, gemini, opencode): found or not, its
    version, and the models its agents may use."""
    return await container.cli.backends()


@router.get("/cli-usage")
async def cli_usage(container: ContainerDep) -> CliUsageReport:
    """Each backend's plan, sign-in and configured model, from the CLIs' own files."""
    return await container.cli.usage()


@router.get("/cli-usage/live")
async def live_cli_usage(container: ContainerDep) -> LiveUsageReport:
    """How much of each plan's limits is used now; only Claude's is asked for, of the
    configured Anthropic base URL."""
    return await container.cli.live_usage()
