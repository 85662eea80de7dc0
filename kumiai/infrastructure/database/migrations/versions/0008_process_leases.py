"""Several server processes on one database: a lease per process, an owner per session.

Revision ID: 0008_process_leases
Revises: 0007_session_events
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0008_process_leases"
down_revision: str | None = "0007_session_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("clock_timestamp()")
UUID = pg.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "server_processes",
        sa.Column("id", UUID, nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_server_processes"),
    )
    op.create_table(
        "session_owners",
        sa.Column("session_id", UUID, nullable=False),
        sa.Column("process_id", UUID, nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("session_id", name="pk_session_owners"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            ondelete="CASCADE",
            name="fk_session_owners_session_id_sessions",
        ),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["server_processes.id"],
            ondelete="CASCADE",
            name="fk_session_owners_process_id_server_processes",
        ),
    )
    op.create_index("ix_session_owners_process_id", "session_owners", ["process_id"])


def downgrade() -> None:
    op.drop_table("session_owners")
    op.drop_table("server_processes")
