"""The session row says which turn runs: its input and its run.

Any server process reads the running turn from the database (the queue view's
``running`` item), not only the process that runs it.

Revision ID: 0010_session_turn
Revises: 0009_session_event_batches
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0010_session_turn"
down_revision: str | None = "0009_session_event_batches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("turn_input_id", pg.UUID(as_uuid=True), nullable=True))
    op.add_column("sessions", sa.Column("turn_run_id", pg.UUID(as_uuid=True), nullable=True))


def downgrade() -> None:
    op.drop_column("sessions", "turn_run_id")
    op.drop_column("sessions", "turn_input_id")
