"""Activity event type for edits of a session's context or board stage.

Revision ID: 0002_session_updated_event
Revises: 0001_initial_schema
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_session_updated_event"
down_revision: str | None = "0001_initial_schema"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TYPE activity_event_type ADD VALUE IF NOT EXISTS 'session_updated'")


def downgrade() -> None:
    # PostgreSQL cannot drop one enum value, so the type is rebuilt with the values it
    # holds but this one, in their order. Compared as text: a value added in this
    # transaction may not be used as an enum yet.
    op.execute("DELETE FROM activity_logs WHERE event_type::text = 'session_updated'")
    kept = list(
        op.get_bind().scalars(
            sa.text(
                "SELECT enumlabel FROM pg_enum WHERE enumtypid = 'activity_event_type'::regtype "
                "AND enumlabel <> 'session_updated' ORDER BY enumsortorder"
            )
        )
    )
    op.execute("ALTER TYPE activity_event_type RENAME TO activity_event_type_0002")
    values = ", ".join(f"'{value}'" for value in kept)
    op.execute(f"CREATE TYPE activity_event_type AS ENUM ({values})")
    op.execute(
        "ALTER TABLE activity_logs ALTER COLUMN event_type TYPE activity_event_type "
        "USING event_type::text::activity_event_type"
    )
    op.execute("DROP TYPE activity_event_type_0002")
