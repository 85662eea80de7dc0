"""The ActivityEntry entity."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

from kumiai.domain.entities import ActivityEntry
from kumiai.domain.value_objects import EventType, SessionStatus


def test_record_keeps_the_event_and_its_links() -> None:
    session_id, project_id = uuid4(), uuid4()

    entry = ActivityEntry.record(
        EventType.SESSION_STARTED, session_id=session_id, project_id=project_id
    )

    assert entry.event_type is EventType.SESSION_STARTED
    assert entry.session_id == session_id
    assert entry.project_id == project_id
    assert entry.event_data == {}
    assert entry.created_at is None


def test_record_turns_extra_keywords_into_json_safe_event_data() -> None:
    character_id = uuid4()
    when = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)

    entry = ActivityEntry.record(
        EventType.PM_ASSIGNED,
        character_id=character_id,
        at=when,
        day=date(2025, 1, 2),
        status=SessionStatus.IDLE,
        nested={"ids": (character_id,), "tags": ["a"], "count": 2},
        flag=None,
    )

    assert entry.event_data == {
        "character_id": str(character_id),
        "at": "2025-01-02T03:04:00+00:00",
        "day": "2025-01-02",
        "status": "idle",
        "nested": {"ids": [str(character_id)], "tags": ["a"], "count": 2},
        "flag": None,
    }
    assert type(entry.event_data["status"]) is str


def test_event_without_a_session_or_project() -> None:
    entry = ActivityEntry.record(EventType.PROFILE_UPDATED, fields=["display_name"])

    assert entry.session_id is None
    assert entry.project_id is None
    assert entry.event_data == {"fields": ["display_name"]}
