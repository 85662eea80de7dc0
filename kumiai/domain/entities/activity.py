"""The ActivityEntry entity: one row of the queryable activity log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID, uuid4

from kumiai.domain.value_objects.event_type import EventType


@dataclass(eq=False, kw_only=True)
class ActivityEntry:
    """Something that happened (a session started, a project was archived, ...)."""

    id: UUID = field(default_factory=uuid4)
    event_type: EventType
    session_id: UUID | None = None
    project_id: UUID | None = None
    event_data: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    @classmethod
    def record(
        cls,
        event_type: EventType,
        *,
        session_id: UUID | None = None,
        project_id: UUID | None = None,
        **data: Any,
    ) -> ActivityEntry:
        """A new entry; ``data`` becomes ``event_data``, with ids and times made JSON-safe."""
        return cls(
            event_type=event_type,
            session_id=session_id,
            project_id=project_id,
            event_data=_json_object(data),
        )


def _json_object(data: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key): _json_value(value) for key, value in data.items()}


def _json_value(value: Any) -> Any:
    # event_data is stored as JSONB, so values the JSON encoder rejects are converted here.
    if isinstance(value, Enum):
        return _json_value(value.value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return _json_object(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(item) for item in value]
    return value
