from __future__ import annotations

from pydantic import BaseModel


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


class HealthReport(BaseModel):
    status: str
    version: str
    database: DatabaseHealth
    folders: HomeFolders
    claude_configured: bool
    runtime: RuntimeSelection

    @property
    def healthy(self) -> bool:
        return self.database.reachable
