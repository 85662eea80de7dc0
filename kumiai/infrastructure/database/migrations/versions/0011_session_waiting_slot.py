"""The session row says which runtime's slot its next turn waits for.

The process that owns the session writes it when a turn starts waiting for a slot of
its runtime (or of the server-wide cap) and clears it when the wait ends, so every
server process reads the same waiting reason (``slot``), not only the owner.

Revision ID: 0011_session_waiting_slot
Revises: 0010_session_turn
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_session_waiting_slot"
down_revision: str | None = "0010_session_turn"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("waiting_slot", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("sessions", "waiting_slot")
