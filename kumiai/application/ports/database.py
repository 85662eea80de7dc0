"""What the application needs to know about the database, without knowing the driver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class DatabaseStatus:
    reachable: bool
    server_version: str | None
    error: str | None = None


class DatabaseProbe(Protocol):
    async def status(self) -> DatabaseStatus: ...
