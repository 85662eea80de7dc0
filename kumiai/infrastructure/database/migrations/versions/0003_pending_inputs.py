"""Durable session queues: messages accepted while their session was busy.

Revision ID: 0003_pending_inputs
Revises: 0002_session_updated_event
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0003_pending_inputs"
down_revision: str | None = "0002_session_updated_event"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("clock_timestamp()")
UUID = pg.UUID(as_uuid=True)


def upgrade() -> None:
    state = pg.ENUM("pending", "dropped", name="pending_input_state", create_type=False)
    state.create(op.get_bind(), checkfirst=False)
    session = sa.ForeignKey(
        "sessions.id", ondelete="CASCADE", name="fk_pending_inputs_session_id_sessions"
    )
    op.create_table(
        "pending_inputs",
        sa.Column("id", UUID, primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("session_id", UUID, session, nullable=False),
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("run_id", UUID, nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("sender_session_id", UUID, nullable=True),
        sa.Column("sender_name", sa.Text(), nullable=True),
        sa.Column("metadata", pg.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("state", state, nullable=False, server_default=sa.text("'pending'")),
        sa.Column("drop_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("position", name="uq_pending_inputs_position"),
        sa.CheckConstraint(
            "(state = 'dropped') = (dropped_at IS NOT NULL)",
            name="dropped_at_iff_dropped",  # the naming convention adds the ck_ prefix
        ),
    )
    op.create_index(
        "ix_pending_inputs_session_id_state_position",
        "pending_inputs",
        ["session_id", "state", "position"],
    )


def downgrade() -> None:
    op.drop_table("pending_inputs")
    op.execute("DROP TYPE pending_input_state")
