"""What the application needs to know about the database, without knowing the driver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class DatabaseStatus:
    reachable: bool
    server_version: str | None
    error: str | None = None


@dataclass(frozen=True)
class PoolStatus:
    """The connection pool right now: ``size`` connections are kept, up to
    ``max_overflow`` more are opened under load (``overflow`` of them are open)."""

    size: int
    checked_in: int
    checked_out: int
    overflow: int
    max_overflow: int

    @property
    def utilization(self) -> float:
        """The share of every connection the pool may open that is in use, 0 to 1."""
        capacity = self.size + self.max_overflow
        return min(self.checked_out / capacity, 1.0) if capacity else 0.0


class DatabaseProbe(Protocol):
    async def status(self) -> DatabaseStatus: ...

    def pool(self) -> PoolStatus: ...
