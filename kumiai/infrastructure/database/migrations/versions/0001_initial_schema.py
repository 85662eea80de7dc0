"""The seven tables, their enum types, indexes and the updated_at trigger.

Revision ID: 0001_initial_schema
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0001_initial_schema"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the domain enums as they were when this revision was written.
SESSION_TYPES = ("pm", "specialist", "assistant", "agent_assistant", "skill_assistant")
SESSION_STATUSES = (
    "initializing",
    "idle",
    "thinking",
    "working",
    "waiting",
    "completed",
    "error",
    "cancelled",
)
MESSAGE_ROLES = ("user", "assistant", "system", "tool_result")
EVENT_TYPES = (
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
TABLES_WITH_UPDATED_AT = ("characters", "skills", "projects", "sessions", "user_profiles")

LIVE = sa.text("deleted_at IS NULL")
NOW = sa.text("clock_timestamp()")


def _enum(name: str, values: Sequence[str]) -> pg.ENUM:
    return pg.ENUM(*values, name=name, create_type=False)


def _id() -> sa.Column[Any]:
    return sa.Column(
        "id", pg.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")
    )


def _timestamps(*, soft_delete: bool = True) -> list[sa.Column[Any]]:
    columns = [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    ]
    if soft_delete:
        columns.append(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    return columns


def _text_array(name: str) -> sa.Column[Any]:
    return sa.Column(name, pg.ARRAY(sa.Text()), nullable=False, server_default=sa.text("'{}'"))


def _jsonb(name: str) -> sa.Column[Any]:
    return sa.Column(name, pg.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb"))


def _not_blank(table: str, column: str) -> sa.CheckConstraint:
    # The ck_<table>_ prefix is also added by the naming convention; revision 0004
    # renames the doubled names this gives.
    return sa.CheckConstraint(f"btrim({column}) <> ''", name=f"ck_{table}_{column}_not_empty")


def _reference(
    table: str, column: str, target: str, ondelete: str, *, nullable: bool
) -> sa.Column[Any]:
    """A UUID column of ``table`` referring to ``target.id``, its foreign key named by hand."""
    foreign_key = sa.ForeignKey(
        f"{target}.id", ondelete=ondelete, name=f"fk_{table}_{column}_{target}"
    )
    return sa.Column(column, pg.UUID(as_uuid=True), foreign_key, nullable=nullable)


def _index_live(table: str, suffix: str, columns: list[str], *, unique: bool = False) -> None:
    """An index over the rows that are not soft-deleted."""
    op.create_index(
        f"{'uq' if unique else 'ix'}_{table}_live_{suffix}",
        table,
        columns,
        unique=unique,
        postgresql_where=LIVE,
    )


def _create_enums() -> None:
    bind = op.get_bind()
    for name, values in (
        ("session_type", SESSION_TYPES),
        ("session_status", SESSION_STATUSES),
        ("message_role", MESSAGE_ROLES),
        ("activity_event_type", EVENT_TYPES),
    ):
        pg.ENUM(*values, name=name).create(bind, checkfirst=False)


def _create_characters() -> None:
    op.create_table(
        "characters",
        _id(),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False, server_default=sa.text("'specialist'")),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("avatar_url", sa.Text(), nullable=True),
        _text_array("skills"),
        sa.Column("default_model", sa.Text(), nullable=True),
        _text_array("allowed_tools"),
        _text_array("allowed_mcps"),
        _text_array("tags"),
        sa.Column("icon_color", sa.Text(), nullable=False, server_default=sa.text("'#4A90E2'")),
        *_timestamps(),
        sa.UniqueConstraint("slug", name="uq_characters_slug"),
        _not_blank("characters", "name"),
        _not_blank("characters", "slug"),
    )
    _index_live("characters", "name", ["name"], unique=True)
    _index_live("characters", "created", ["created_at", "id"])
    op.create_index("ix_characters_tags", "characters", ["tags"], postgresql_using="gin")


def _create_skills() -> None:
    op.create_table(
        "skills",
        _id(),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=sa.text("''")),
        _text_array("tags"),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("icon", sa.Text(), nullable=False, server_default=sa.text("'zap'")),
        sa.Column("icon_color", sa.Text(), nullable=False, server_default=sa.text("'#4A90E2'")),
        sa.Column("license", sa.Text(), nullable=False, server_default=sa.text("'MIT'")),
        *_timestamps(),
        sa.UniqueConstraint("slug", name="uq_skills_slug"),
        _not_blank("skills", "name"),
        _not_blank("skills", "slug"),
    )
    op.create_index("ix_skills_tags", "skills", ["tags"], postgresql_using="gin")
    _index_live("skills", "created", ["created_at", "id"])


def _create_projects() -> None:
    op.create_table(
        "projects",
        _id(),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        _reference("projects", "pm_character_id", "characters", "SET NULL", nullable=True),
        sa.Column("pm_session_id", pg.UUID(as_uuid=True), nullable=True),
        sa.Column(
            "team_character_ids",
            pg.ARRAY(pg.UUID(as_uuid=True)),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        _not_blank("projects", "name"),
        _not_blank("projects", "path"),
    )
    _index_live("projects", "path", ["path"], unique=True)
    _index_live("projects", "created", ["created_at", "id"])


def _create_sessions() -> None:
    op.create_table(
        "sessions",
        _id(),
        _reference("sessions", "character_id", "characters", "RESTRICT", nullable=True),
        _reference("sessions", "project_id", "projects", "CASCADE", nullable=True),
        sa.Column("session_type", _enum("session_type", SESSION_TYPES), nullable=False),
        sa.Column(
            "status",
            _enum("session_status", SESSION_STATUSES),
            nullable=False,
            server_default=sa.text("'initializing'"),
        ),
        sa.Column("claude_session_id", sa.Text(), nullable=True),
        _jsonb("context"),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("next_sequence", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "character_id IS NOT NULL OR session_type IN "
            "('assistant', 'agent_assistant', 'skill_assistant')",
            name="ck_sessions_character_required",
        ),
        sa.CheckConstraint(
            "project_id IS NOT NULL OR session_type NOT IN ('pm', 'specialist')",
            name="ck_sessions_project_required",
        ),
        sa.CheckConstraint("next_sequence >= 0", name="ck_sessions_next_sequence_non_negative"),
    )
    _index_live("sessions", "project", ["project_id", "created_at"])
    _index_live("sessions", "created", ["created_at", "id"])
    _index_live("sessions", "status", ["status"])
    op.create_index("ix_sessions_character_id", "sessions", ["character_id"])
    # Closes the projects <-> sessions cycle now that both tables exist.
    op.create_foreign_key(
        "fk_projects_pm_session_id_sessions",
        "projects",
        "sessions",
        ["pm_session_id"],
        ["id"],
        ondelete="SET NULL",
    )


def _create_messages() -> None:
    op.create_table(
        "messages",
        _id(),
        _reference("messages", "session_id", "sessions", "CASCADE", nullable=False),
        sa.Column("role", _enum("message_role", MESSAGE_ROLES), nullable=False),
        sa.Column("content", sa.Text(), nullable=False, server_default=sa.text("''")),
        sa.Column("tool_use_id", sa.Text(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("metadata", pg.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("sender_session_id", pg.UUID(as_uuid=True), nullable=True),
        sa.Column("sender_name", sa.Text(), nullable=True),
        sa.Column("response_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.UniqueConstraint("session_id", "sequence", name="uq_messages_session_id_sequence"),
        sa.CheckConstraint("sequence >= 0", name="ck_messages_sequence_non_negative"),
    )
    op.create_index("ix_messages_session_tool_use_id", "messages", ["session_id", "tool_use_id"])


def _create_activity_logs() -> None:
    op.create_table(
        "activity_logs",
        _id(),
        _reference("activity_logs", "session_id", "sessions", "SET NULL", nullable=True),
        _reference("activity_logs", "project_id", "projects", "SET NULL", nullable=True),
        sa.Column("event_type", _enum("activity_event_type", EVENT_TYPES), nullable=False),
        _jsonb("event_data"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_index(
        "ix_activity_logs_created",
        "activity_logs",
        [sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "ix_activity_logs_project", "activity_logs", ["project_id", sa.text("created_at DESC")]
    )
    op.create_index(
        "ix_activity_logs_session", "activity_logs", ["session_id", sa.text("created_at DESC")]
    )
    op.create_index("ix_activity_logs_event_type", "activity_logs", ["event_type"])


def _create_user_profiles() -> None:
    op.create_table(
        "user_profiles",
        _id(),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("avatar", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        _jsonb("settings"),
        *_timestamps(soft_delete=False),
    )
    op.create_index("uq_user_profiles_singleton", "user_profiles", [sa.text("(true)")], unique=True)


def _create_updated_at_trigger() -> None:
    # clock_timestamp(), not now(): several updates inside one transaction must
    # still leave a moving updated_at.
    op.execute(
        """
        CREATE FUNCTION kumiai_set_updated_at() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            NEW.updated_at := clock_timestamp();
            RETURN NEW;
        END;
        $$
        """
    )
    for table in TABLES_WITH_UPDATED_AT:
        op.execute(
            f"CREATE TRIGGER trg_{table}_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION kumiai_set_updated_at()"
        )


def upgrade() -> None:
    _create_enums()
    _create_characters()
    _create_skills()
    _create_projects()
    _create_sessions()
    _create_messages()
    _create_activity_logs()
    _create_user_profiles()
    _create_updated_at_trigger()


def downgrade() -> None:
    op.drop_constraint("fk_projects_pm_session_id_sessions", "projects", type_="foreignkey")
    for table in (
        "user_profiles",
        "activity_logs",
        "messages",
        "sessions",
        "projects",
        "skills",
        "characters",
    ):
        op.drop_table(table)
    op.execute("DROP FUNCTION kumiai_set_updated_at()")
    for name in ("activity_event_type", "message_role", "session_status", "session_type"):
        op.execute(f"DROP TYPE {name}")
