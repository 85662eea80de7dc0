"""The kinds of event written to the activity log."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """An activity log event kind.

    The database ENUM type is created from this list in this order, so new members go at the
    end and come with a migration.
    """

    SESSION_CREATED = "session_created"
    SESSION_STARTED = "session_started"
    SESSION_COMPLETED = "session_completed"
    SESSION_FAILED = "session_failed"
    SESSION_CANCELLED = "session_cancelled"
    SESSION_RESUMED = "session_resumed"
    SESSION_DELETED = "session_deleted"
    SESSION_RESET = "session_reset"
    MESSAGE_SENT = "message_sent"
    TOOL_EXECUTED = "tool_executed"
    PROJECT_CREATED = "project_created"
    PROJECT_UPDATED = "project_updated"
    PROJECT_ARCHIVED = "project_archived"
    PROJECT_UNARCHIVED = "project_unarchived"
    PROJECT_DELETED = "project_deleted"
    PM_ASSIGNED = "pm_assigned"
    PM_REMOVED = "pm_removed"
    CHARACTER_CREATED = "character_created"
    CHARACTER_UPDATED = "character_updated"
    CHARACTER_DELETED = "character_deleted"
    SKILL_CREATED = "skill_created"
    SKILL_UPDATED = "skill_updated"
    SKILL_DELETED = "skill_deleted"
    PROFILE_UPDATED = "profile_updated"
    IMPORT_COMPLETED = "import_completed"
    IMPORT_UNDONE = "import_undone"
    SESSION_UPDATED = "session_updated"
    TASK_CREATED = "task_created"
    TASK_UPDATED = "task_updated"
    TASK_DELETED = "task_deleted"
