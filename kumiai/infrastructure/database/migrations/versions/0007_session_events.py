"""The persisted event log: every replayable event, under one server-wide id.

``session_events`` holds the events (text deltas joined per write batch);
``session_event_horizons`` records how far retention has pruned each session's events.

Revision ID: 0007_session_events
Revises: 0006_cli_backend
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0007_session_events"
down_revision: str | None = "0006_cli_backend"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("session_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("data", pg.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("clock_timestamp()"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_session_events"),
    )
    op.create_index("ix_session_events_session_id_id", "session_events", ["session_id", "id"])
    op.create_index("ix_session_events_created_at", "session_events", ["created_at"])
    op.create_table(
        "session_event_horizons",
        sa.Column("session_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_session_event_horizons"),
    )


def downgrade() -> None:
    op.drop_table("session_event_horizons")
    op.drop_table("session_events")
