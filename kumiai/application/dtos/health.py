from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DatabaseHealth(BaseModel):
    reachable: bool
    server_version: str | None
    embedded: bool
    error: str | None = None


class HomeFolders(BaseModel):
    home: str
    characters: str
    skills: str
    projects: str


class RuntimeSelection(BaseModel):
    """Which agent runtime runs turns, and why; ``active`` is None when none can."""

    requested: str
    active: str | None
    reason: str

    @property
    def available(self) -> bool:
        return self.active is not None


class ModelHealth(BaseModel):
    """The model a turn uses when neither the character nor the profile names one."""

    requested: str = Field(description="The configured default: a model id or a family.")
    id: str = Field(description="The model id it resolves to.")
    source: Literal["as_given", "model_list", "fallback"] = Field(
        description="`model_list`: the family's newest model in the API's list; "
        "`fallback`: the built-in table, because the list was unavailable; "
        "`as_given`: a full model id."
    )
    problem: str | None = None


CheckStatus = Literal["ok", "degraded"]


class PoolCheck(BaseModel):
    """The database connection pool; `degraded` above 80% of every connection it may open."""

    status: CheckStatus
    size: int = Field(description="Connections kept open (`KUMIAI_DB_POOL_SIZE`).")
    checked_in: int = Field(description="Open connections waiting for a request.")
    checked_out: int = Field(description="Connections in use.")
    overflow: int = Field(description="Connections open beyond `size`.")
    max_overflow: int = Field(description="How many may be (`KUMIAI_DB_MAX_OVERFLOW`).")
    utilization: float = Field(description="`checked_out / (size + max_overflow)`, 0 to 1.")


class StreamsCheck(BaseModel):
    """Open live event streams (v1 and v2 SSE); `degraded` above 50 (a likely leak)."""

    status: CheckStatus
    total_connections: int
    active_sessions: int = Field(description="Sessions with at least one stream open.")


class HealthChecks(BaseModel):
    connection_pool: PoolCheck
    sse_connections: StreamsCheck


class HealthReport(BaseModel):
    status: Literal["ok", "degraded", "unavailable"] = Field(
        description="`unavailable`: the database is unreachable (503); `degraded`: a check "
        "is under pressure; else `ok`."
    )
    version: str
    database: DatabaseHealth
    folders: HomeFolders
    claude_configured: bool
    runtime: RuntimeSelection
    model: ModelHealth
    checks: HealthChecks

    @property
    def healthy(self) -> bool:
        return self.database.reachable
