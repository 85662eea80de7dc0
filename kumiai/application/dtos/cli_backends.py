"""The CLI backends as the Settings and Agents pages read them (V1_CURRENT_CLIENT §4)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CliBackendView(BaseModel):
    name: str
    installed: bool = Field(description="Its CLI is on this machine (see `path`).")
    version: str | None = Field(description="The first line of `<cli> --version`.")
    path: str | None = Field(description="The executable that would run.")
    default_model: str
    available_models: list[str] = Field(
        description="Models an agent of this backend may name; for `claude`, the model "
        "families the agent runtime can resolve now (none when no runtime can run)."
    )
    orchestration_tools: bool = Field(
        description="Its agents can call KumiAI's orchestration tools (`contact_pm`, "
        "`spawn_instance`, ...); only Claude's can."
    )


class CliBackendsReport(BaseModel):
    backends: list[CliBackendView]
    codeagent_wrapper_installed: bool = Field(
        default=False, description="Always false: KumiAI runs no codeagent-wrapper."
    )
    codeagent_wrapper_version: str | None = None


class RateLimits(BaseModel):
    """A plan's published limits; only ``reset_window`` is known for Claude's plans."""

    requests_per_minute: int | None = None
    input_tokens_per_minute: int | None = None
    output_tokens_per_minute: int | None = None
    requests_per_day: int | None = None
    tokens_per_day: int | None = None
    reset_window: str = ""


class CliUsageView(BaseModel):
    name: str
    installed: bool
    plan: str = "unknown"
    plan_tier: str = ""
    configured_model: str = ""
    auth_status: str = "not installed"
    dashboard_url: str = ""
    rate_limits: RateLimits | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class CliUsageReport(BaseModel):
    backends: list[CliUsageView]


class UsageWindowView(BaseModel):
    label: str
    utilization: float = Field(ge=0, le=1)
    resets_at: str | None


class LiveUsageView(BaseModel):
    windows: list[UsageWindowView]
    error: str | None = Field(
        description="null, `unauthenticated`, `unavailable` or `http_<status>`."
    )


class LiveUsageReport(BaseModel):
    usage: dict[str, LiveUsageView]
