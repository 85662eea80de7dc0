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


class HealthReport(BaseModel):
    status: str
    version: str
    database: DatabaseHealth
    folders: HomeFolders
    claude_configured: bool
    runtime: RuntimeSelection
    model: ModelHealth

    @property
    def healthy(self) -> bool:
        return self.database.reachable
