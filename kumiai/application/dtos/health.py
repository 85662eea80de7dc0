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


class HealthReport(BaseModel):
    status: str
    version: str
    database: DatabaseHealth
    folders: HomeFolders
    claude_configured: bool

    @property
    def healthy(self) -> bool:
        return self.database.reachable
