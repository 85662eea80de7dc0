"""The agent CLI of each character, copied into each session when it is created.

A new enum type ``cli_backend`` and a ``cli_backend`` column on ``characters`` and on
``sessions``; existing rows run on ``claude``, as they always did.

Revision ID: 0006_cli_backend
Revises: 0005_tasks
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0006_cli_backend"
down_revision: str | None = "0005_tasks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the values as they were when this revision was written.
CLI_BACKENDS = ("claude", "codex", "gemini", "opencode")
TABLES = ("characters", "sessions")


def upgrade() -> None:
    backend = pg.ENUM(*CLI_BACKENDS, name="cli_backend", create_type=False)
    backend.create(op.get_bind(), checkfirst=False)
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("cli_backend", backend, nullable=False, server_default=sa.text("'claude'")),
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "cli_backend")
    op.execute("DROP TYPE cli_backend")
