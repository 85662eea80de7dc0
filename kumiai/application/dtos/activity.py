from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from kumiai.domain.entities import ActivityEntry
from kumiai.domain.value_objects import EventType


class ActivityView(BaseModel):
    id: UUID
    event_type: EventType
    session_id: UUID | None
    project_id: UUID | None
    event_data: dict[str, Any]
    created_at: datetime | None

    @classmethod
    def of(cls, entry: ActivityEntry) -> ActivityView:
        return cls(
            id=entry.id,
            event_type=entry.event_type,
            session_id=entry.session_id,
            project_id=entry.project_id,
            event_data=dict(entry.event_data),
            created_at=entry.created_at,
        )
