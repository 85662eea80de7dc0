"""Health: is the service able to do its job right now?"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import PurePath

from kumiai import __version__
from kumiai.application.dtos.health import (
    DatabaseHealth,
    HealthReport,
    HomeFolders,
    ModelHealth,
    RuntimeSelection,
)
from kumiai.application.ports.database import DatabaseProbe
from kumiai.application.services.models import ModelResolver


class HealthService:
    def __init__(
        self,
        probe: DatabaseProbe,
        *,
        home: PurePath,
        embedded: bool,
        runtime: RuntimeSelection,
        models: ModelResolver,
    ) -> None:
        self._probe = probe
        self._models = models
        self._home = home
        self._embedded = embedded
        self._runtime = runtime

    async def report(self) -> HealthReport:
        status = await self._probe.status()
        return HealthReport(
            status="ok" if status.reachable else "unavailable",
            version=__version__,
            database=DatabaseHealth(
                reachable=status.reachable,
                server_version=status.server_version,
                embedded=self._embedded,
                error=status.error,
            ),
            folders=HomeFolders(
                home=str(self._home),
                characters=str(self._home / "characters"),
                skills=str(self._home / "skills"),
                projects=str(self._home / "projects"),
            ),
            claude_configured=self._runtime.available,
            runtime=self._runtime,
            model=ModelHealth(**asdict(await self._models.resolve())),
        )
