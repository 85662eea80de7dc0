"""Health: is the service able to do its job right now?"""

from __future__ import annotations

from dataclasses import KW_ONLY, asdict, dataclass
from pathlib import PurePath

from kumiai import __version__
from kumiai.application.dtos.health import (
    CheckStatus,
    DatabaseHealth,
    HealthChecks,
    HealthReport,
    HomeFolders,
    ModelHealth,
    PoolCheck,
    RuntimeSelection,
    StreamsCheck,
)
from kumiai.application.ports.database import DatabaseProbe
from kumiai.application.services.models import ModelResolver
from kumiai.application.services.streams import OpenStreams

# Above these the service still works, but is close to refusing work or leaking.
POOL_DEGRADED_ABOVE = 0.8
STREAMS_DEGRADED_ABOVE = 50


@dataclass(frozen=True, eq=False)
class HealthService:
    probe: DatabaseProbe
    _: KW_ONLY
    home: PurePath
    embedded: bool  # the database is the embedded PostgreSQL (no KUMIAI_DATABASE_URL)
    runtime: RuntimeSelection
    models: ModelResolver
    streams: OpenStreams

    async def report(self) -> HealthReport:
        status = await self.probe.status()
        checks = self._checks()
        pressed = "degraded" in (checks.connection_pool.status, checks.sse_connections.status)
        return HealthReport(
            status="unavailable" if not status.reachable else "degraded" if pressed else "ok",
            version=__version__,
            database=DatabaseHealth(
                reachable=status.reachable,
                server_version=status.server_version,
                embedded=self.embedded,
                error=status.error,
            ),
            folders=HomeFolders(
                home=str(self.home),
                characters=str(self.home / "characters"),
                skills=str(self.home / "skills"),
                projects=str(self.home / "projects"),
            ),
            claude_configured=self.runtime.available,
            runtime=self.runtime,
            model=ModelHealth(**asdict(await self.models.resolve())),
            checks=checks,
        )

    def _checks(self) -> HealthChecks:
        pool = self.probe.pool()
        streams = self.streams.count()
        return HealthChecks(
            connection_pool=PoolCheck(
                status=_status(pool.utilization > POOL_DEGRADED_ABOVE),
                size=pool.size,
                checked_in=pool.checked_in,
                checked_out=pool.checked_out,
                overflow=pool.overflow,
                max_overflow=pool.max_overflow,
                utilization=round(pool.utilization, 4),
            ),
            sse_connections=StreamsCheck(
                status=_status(streams.total > STREAMS_DEGRADED_ABOVE),
                total_connections=streams.total,
                active_sessions=streams.sessions,
            ),
        )


def _status(degraded: bool) -> CheckStatus:
    return "degraded" if degraded else "ok"
