"""Activity event type for edits of a session's context or board stage.

Revision ID: 0002_session_updated_event
Revises: 0001_initial_schema
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002_session_updated_event"
down_revision: str | None = "0001_initial_schema"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The values of 0001: PostgreSQL cannot drop one enum value, so the downgrade
# rebuilds the type from this list.
PREVIOUS_EVENT_TYPES = (
    "session_created",
    "session_started",
    "session_completed",
    "session_failed",
    "session_cancelled",
    "session_resumed",
    "session_deleted",
    "session_reset",
    "message_sent",
    "tool_executed",
    "project_created",
    "project_updated",
    "project_archived",
    "project_unarchived",
    "project_deleted",
    "pm_assigned",
    "pm_removed",
    "character_created",
    "character_updated",
    "character_deleted",
    "skill_created",
    "skill_updated",
    "skill_deleted",
    "profile_updated",
    "import_completed",
    "import_undone",
)


def upgrade() -> None:
    op.execute("ALTER TYPE activity_event_type ADD VALUE IF NOT EXISTS 'session_updated'")


def downgrade() -> None:
    # Compared as text: a value added in this transaction may not be used as an enum yet.
    op.execute("DELETE FROM activity_logs WHERE event_type::text = 'session_updated'")
    op.execute("ALTER TYPE activity_event_type RENAME TO activity_event_type_0002")
    values = ", ".join(f"'{value}'" for value in PREVIOUS_EVENT_TYPES)
    op.execute(f"CREATE TYPE activity_event_type AS ENUM ({values})")
    op.execute(
        "ALTER TABLE activity_logs ALTER COLUMN event_type TYPE activity_event_type "
        "USING event_type::text::activity_event_type"
    )
    op.execute("DROP TYPE activity_event_type_0002")
