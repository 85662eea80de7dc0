"""Tasks: a project's pieces of work, and the sessions bound to them.

A new table ``tasks`` (with the enum type ``task_status`` and the ``updated_at``
trigger), ``sessions.task_id`` keyed together with ``sessions.project_id`` so a session's
task is always one of its own project's, and three activity event types.

Revision ID: 0005_tasks
Revises: 0004_check_constraint_names
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0005_tasks"
down_revision: str | None = "0004_check_constraint_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the values as they were when this revision was written.
TASK_STATUSES = ("open", "in_progress", "done", "archived")
NEW_EVENT_TYPES = ("task_created", "task_updated", "task_deleted")
LIVE = sa.text("deleted_at IS NULL")
NOW = sa.text("clock_timestamp()")


def _create_tasks() -> None:
    status = pg.ENUM(*TASK_STATUSES, name="task_status", create_type=False)
    status.create(op.get_bind(), checkfirst=False)
    op.create_table(
        "tasks",
        sa.Column(
            "id",
            pg.UUID(as_uuid=True),
            primary_key=True,
            server_default=sa.text("gen_random_uuid()"),
        ),
        sa.Column(
            "project_id",
            pg.UUID(as_uuid=True),
            sa.ForeignKey("projects.id", ondelete="CASCADE", name="fk_tasks_project_id_projects"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", status, nullable=False, server_default=sa.text("'open'")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        # The naming convention adds the ck_tasks_ prefix to check constraint names.
        sa.CheckConstraint("btrim(name) <> ''", name="name_not_empty"),
        sa.CheckConstraint("char_length(name) <= 255", name="name_max_length"),
        sa.UniqueConstraint("id", "project_id", name="uq_tasks_id_project_id"),
    )
    op.create_index(
        "ix_tasks_live_project",
        "tasks",
        ["project_id", "created_at", "id"],
        postgresql_where=LIVE,
    )
    op.execute(
        "CREATE TRIGGER trg_tasks_updated_at BEFORE UPDATE ON tasks "
        "FOR EACH ROW EXECUTE FUNCTION kumiai_set_updated_at()"
    )


def _bind_sessions_to_tasks() -> None:
    op.add_column("sessions", sa.Column("task_id", pg.UUID(as_uuid=True), nullable=True))
    op.create_foreign_key(
        "fk_sessions_task_id_tasks",
        "sessions",
        "tasks",
        ["task_id", "project_id"],
        ["id", "project_id"],
    )
    op.create_check_constraint(
        "task_needs_project", "sessions", "task_id IS NULL OR project_id IS NOT NULL"
    )
    op.create_index(
        "ix_sessions_task",
        "sessions",
        ["task_id", "created_at"],
        postgresql_where=sa.text("task_id IS NOT NULL"),
    )


def upgrade() -> None:
    _create_tasks()
    _bind_sessions_to_tasks()
    for value in NEW_EVENT_TYPES:
        op.execute(f"ALTER TYPE activity_event_type ADD VALUE IF NOT EXISTS '{value}'")


def _event_types_before() -> list[str]:
    """activity_event_type's values without this revision's, in their order."""
    labels = op.get_bind().execute(
        sa.text(
            "SELECT enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
            "WHERE t.typname = 'activity_event_type' ORDER BY e.enumsortorder"
        )
    )
    return [label for label in labels.scalars() if label not in NEW_EVENT_TYPES]


def downgrade() -> None:
    new_values = ", ".join(f"'{value}'" for value in NEW_EVENT_TYPES)
    # Compared as text: a value added in this transaction may not be used as an enum yet.
    op.execute(f"DELETE FROM activity_logs WHERE event_type::text IN ({new_values})")
    # PostgreSQL cannot drop one enum value: the type is rebuilt without them.
    values = ", ".join(f"'{value}'" for value in _event_types_before())
    op.execute("ALTER TYPE activity_event_type RENAME TO activity_event_type_0005")
    op.execute(f"CREATE TYPE activity_event_type AS ENUM ({values})")
    op.execute(
        "ALTER TABLE activity_logs ALTER COLUMN event_type TYPE activity_event_type "
        "USING event_type::text::activity_event_type"
    )
    op.execute("DROP TYPE activity_event_type_0005")
    # Its foreign key, check constraint and index go with the column.
    op.drop_column("sessions", "task_id")
    op.drop_table("tasks")
    op.execute("DROP TYPE task_status")
