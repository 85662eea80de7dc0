from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from kumiai.api.deps import ContainerDep
from kumiai.api.middleware.errors import error_response
from kumiai.api.routing import FlatRouter
from kumiai.api.schemas import Envelope, ErrorEnvelope
from kumiai.application.dtos.health import HealthReport

router = FlatRouter(tags=["health"])

UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorEnvelope, "description": "The database is unreachable."}
}


async def _health(request: Request, container: ContainerDep) -> JSONResponse | HealthReport:
    report = await container.health.report()
    if not report.healthy:
        return error_response(
            request.url.path,
            503,
            "database_unavailable",
            f"the database is unreachable: {report.database.error}",
            details=report.model_dump(mode="json"),
            request_id=getattr(request.state, "request_id", None),
        )
    return report


@router.get("/api/health", response_model=HealthReport, responses=UNAVAILABLE)
async def health(request: Request, container: ContainerDep) -> JSONResponse | HealthReport:
    """Liveness and readiness: version, database, folders, Claude credentials (yes/no)
    and the default model in use."""
    return await _health(request, container)


@router.get("/api/v2/health", response_model=Envelope[HealthReport], responses=UNAVAILABLE)
async def health_v2(
    request: Request, container: ContainerDep
) -> JSONResponse | Envelope[HealthReport]:
    """The same report inside the v2 envelope."""
    result = await _health(request, container)
    if isinstance(result, JSONResponse):
        return result
    return Envelope(data=result)
