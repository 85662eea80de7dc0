"""Event appends are idempotent: the first row of each batch carries the batch's key.

A writer that lost its connection cannot tell whether its last append committed; it
retries with the same key, and an append whose key is already stored inserts nothing.

Revision ID: 0009_session_event_batches
Revises: 0008_process_leases
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0009_session_event_batches"
down_revision: str | None = "0008_process_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("session_events", sa.Column("batch_key", pg.UUID(as_uuid=True), nullable=True))
    op.create_index(
        "uq_session_events_batch_key",
        "session_events",
        ["batch_key"],
        unique=True,
        postgresql_where=sa.text("batch_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_session_events_batch_key", table_name="session_events")
    op.drop_column("session_events", "batch_key")
