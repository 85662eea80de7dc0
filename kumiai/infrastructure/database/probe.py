from __future__ import annotations

from kumiai.application.ports.database import DatabaseStatus, PoolStatus
from kumiai.infrastructure.database.engine import Database


class EngineProbe:
    """Answers the application's DatabaseProbe port from the live engine."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def status(self) -> DatabaseStatus:
        info = await self._database.check()
        return DatabaseStatus(info.reachable, info.server_version, info.error)

    def pool(self) -> PoolStatus:
        return self._database.pool_status()
