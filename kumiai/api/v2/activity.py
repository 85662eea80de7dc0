from __future__ import annotations

from uuid import UUID

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.schemas import ListEnvelope
from kumiai.api.v2.common import PageDep, list_envelope
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.activity import ActivityView
from kumiai.domain.repositories import ActivityFilter
from kumiai.domain.value_objects import EventType

router = FlatRouter(prefix="/activity", tags=["activity"])


@router.get("", responses=errors(422))
async def list_activity(
    page: PageDep,
    container: ContainerDep,
    *,
    project_id: UUID | None = None,
    session_id: UUID | None = None,
    event_type: EventType | None = None,
) -> ListEnvelope[ActivityView]:
    """What happened, newest first, optionally filtered."""
    filters = ActivityFilter(project_id=project_id, session_id=session_id, event_type=event_type)
    entries = await container.activity.list_activity(page, filters)
    return list_envelope(entries, ActivityView.model_validate)
