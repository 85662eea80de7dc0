"""The composition root: the only module that wires infrastructure into services."""

from __future__ import annotations

from dataclasses import dataclass

from kumiai.application.ports.unit_of_work import UnitOfWork
from kumiai.application.services.health import HealthService
from kumiai.application.services.profile import ProfileService
from kumiai.core.config import Settings
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.probe import EngineProbe
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork


@dataclass
class Container:
    settings: Settings
    database: Database
    health: HealthService
    profile: ProfileService

    async def aclose(self) -> None:
        await self.database.dispose()


def open_database(settings: Settings, database_url: str) -> Database:
    return Database(
        database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        connect_timeout=settings.db_connect_timeout,
    )


def build_container(settings: Settings, database: Database) -> Container:
    def unit_of_work() -> UnitOfWork:
        # Read the factory at call time: tests swap it for one bound to their transaction.
        return SqlUnitOfWork(database.session_factory)

    return Container(
        settings=settings,
        database=database,
        health=HealthService(
            EngineProbe(database),
            home=settings.home,
            embedded=settings.uses_embedded_database,
            claude_configured=settings.claude_configured,
        ),
        profile=ProfileService(unit_of_work),
    )
