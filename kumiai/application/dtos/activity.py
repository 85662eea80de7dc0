from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from kumiai.application.dtos.base import View
from kumiai.domain.value_objects import EventType


class ActivityView(View):
    id: UUID
    event_type: EventType
    session_id: UUID | None
    project_id: UUID | None
    event_data: dict[str, Any]
    created_at: datetime | None
