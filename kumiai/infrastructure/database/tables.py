"""The tables, as SQLAlchemy Core metadata.

This module is the single description of the schema that the ORM mapping and the
Alembic drift check read. The migrations under ``migrations/versions`` are frozen
snapshots of it; ``tests/integration/database/test_migrations.py`` fails when the two
disagree.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.schema import SchemaItem

from kumiai.domain.value_objects.cli_backend import CliBackend
from kumiai.domain.value_objects.event_type import EventType
from kumiai.domain.value_objects.message_role import MessageRole
from kumiai.domain.value_objects.pending_input_state import PendingInputState
from kumiai.domain.value_objects.session_status import SessionStatus
from kumiai.domain.value_objects.session_type import SessionType
from kumiai.domain.value_objects.task_status import TaskStatus

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

LIVE = sa.text("deleted_at IS NULL")
NOW = sa.text("clock_timestamp()")


def _pg_enum(enum_cls: type[StrEnum], name: str) -> sa.Enum:
    return sa.Enum(
        enum_cls,
        name=name,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


session_type_enum = _pg_enum(SessionType, "session_type")
session_status_enum = _pg_enum(SessionStatus, "session_status")
message_role_enum = _pg_enum(MessageRole, "message_role")
event_type_enum = _pg_enum(EventType, "activity_event_type")
pending_input_state_enum = _pg_enum(PendingInputState, "pending_input_state")
task_status_enum = _pg_enum(TaskStatus, "task_status")
cli_backend_enum = _pg_enum(CliBackend, "cli_backend")


def _table(name: str, *items: SchemaItem) -> sa.Table:
    """A table whose rows are named by a server-generated UUID ``id``."""
    id_column = sa.Column(
        "id", pg.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")
    )
    return sa.Table(name, metadata, id_column, *items)


def _timestamps(*, soft_delete: bool = True) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        # The trigger owns updated_at; FetchedValue makes the ORM read it back after UPDATE.
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=NOW,
            server_onupdate=sa.FetchedValue(),
        ),
    ]
    if soft_delete:
        columns.append(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    return columns


def _text_array(name: str) -> sa.Column[object]:
    return sa.Column(name, pg.ARRAY(sa.Text()), nullable=False, server_default=sa.text("'{}'"))


def _jsonb(name: str) -> sa.Column[object]:
    return sa.Column(name, pg.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb"))


def _reference(column: str, target: str, ondelete: str, *, nullable: bool) -> sa.Column[object]:
    """A UUID column referring to ``target.id`` (its foreign key named by the convention)."""
    foreign_key = sa.ForeignKey(f"{target}.id", ondelete=ondelete)
    return sa.Column(column, pg.UUID(as_uuid=True), foreign_key, nullable=nullable)


def _cli_backend() -> sa.Column[object]:
    """The agent CLI of a character, and of each session (copied when it is created)."""
    return sa.Column(
        "cli_backend", cli_backend_enum, nullable=False, server_default=sa.text("'claude'")
    )


def _non_empty(column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"btrim({column}) <> ''", name=f"{column}_not_empty")


def _definition(
    name: str, *columns: sa.Column[object], indexes: tuple[sa.Index, ...] = ()
) -> sa.Table:
    """A character or skill table: a folder named by ``slug``, indexed by a row."""
    return _table(
        name,
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=False),
        *columns,
        *_timestamps(),
        sa.UniqueConstraint("slug"),
        _non_empty("name"),
        _non_empty("slug"),
        sa.Index(f"ix_{name}_live_created", "created_at", "id", postgresql_where=LIVE),
        sa.Index(f"ix_{name}_tags", "tags", postgresql_using="gin"),
        *indexes,
    )


characters = _definition(
    "characters",
    sa.Column("role", sa.Text(), nullable=False, server_default=sa.text("'specialist'")),
    sa.Column("description", sa.Text(), nullable=True),
    _cli_backend(),
    sa.Column("avatar_url", sa.Text(), nullable=True),
    _text_array("skills"),
    sa.Column("default_model", sa.Text(), nullable=True),
    _text_array("allowed_tools"),
    _text_array("allowed_mcps"),
    _text_array("tags"),
    sa.Column("icon_color", sa.Text(), nullable=False, server_default=sa.text("'#4A90E2'")),
    indexes=(sa.Index("uq_characters_live_name", "name", unique=True, postgresql_where=LIVE),),
)

skills = _definition(
    "skills",
    sa.Column("description", sa.Text(), nullable=False, server_default=sa.text("''")),
    _text_array("tags"),
    sa.Column("icon", sa.Text(), nullable=False, server_default=sa.text("'zap'")),
    sa.Column("icon_color", sa.Text(), nullable=False, server_default=sa.text("'#4A90E2'")),
    sa.Column("license", sa.Text(), nullable=False, server_default=sa.text("'MIT'")),
)

projects = _table(
    "projects",
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("path", sa.Text(), nullable=False),
    _reference("pm_character_id", "characters", "SET NULL", nullable=True),
    # The FK to sessions closes the projects<->sessions cycle; it is added after
    # both tables exist (use_alter) so creation order never matters.
    sa.Column(
        "pm_session_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey(
            "sessions.id",
            ondelete="SET NULL",
            use_alter=True,
            name="fk_projects_pm_session_id_sessions",
        ),
        nullable=True,
    ),
    sa.Column(
        "team_character_ids",
        pg.ARRAY(pg.UUID(as_uuid=True)),
        nullable=False,
        server_default=sa.text("'{}'"),
    ),
    sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
    *_timestamps(),
    _non_empty("name"),
    _non_empty("path"),
    sa.Index("uq_projects_live_path", "path", unique=True, postgresql_where=LIVE),
    sa.Index("ix_projects_live_created", "created_at", "id", postgresql_where=LIVE),
)

tasks = _table(
    "tasks",
    _reference("project_id", "projects", "CASCADE", nullable=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("status", task_status_enum, nullable=False, server_default=sa.text("'open'")),
    *_timestamps(),
    _non_empty("name"),
    sa.CheckConstraint("char_length(name) <= 255", name="name_max_length"),
    # The target of the sessions' (task_id, project_id) key: a session's task is always
    # one of its own project's.
    sa.UniqueConstraint("id", "project_id"),
    sa.Index("ix_tasks_live_project", "project_id", "created_at", "id", postgresql_where=LIVE),
)

sessions = _table(
    "sessions",
    _reference("character_id", "characters", "RESTRICT", nullable=True),
    _reference("project_id", "projects", "CASCADE", nullable=True),
    # Set at creation, cleared in the transaction that deletes the task.
    sa.Column("task_id", pg.UUID(as_uuid=True), nullable=True),
    sa.Column("session_type", session_type_enum, nullable=False),
    _cli_backend(),
    sa.Column(
        "status", session_status_enum, nullable=False, server_default=sa.text("'initializing'")
    ),
    sa.Column("claude_session_id", sa.Text(), nullable=True),
    _jsonb("context"),
    sa.Column("error_message", sa.Text(), nullable=True),
    sa.Column("next_sequence", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    # The last turn started: its input (a message id) and run. It runs while the status
    # says a turn is in progress.
    sa.Column("turn_input_id", pg.UUID(as_uuid=True), nullable=True),
    sa.Column("turn_run_id", pg.UUID(as_uuid=True), nullable=True),
    # The runtime (or "server") whose slot its next turn waits for, written by the
    # process that owns the session while the turn waits; NULL otherwise.
    sa.Column("waiting_slot", sa.Text(), nullable=True),
    *_timestamps(),
    sa.CheckConstraint(
        "character_id IS NOT NULL OR session_type IN "
        "('assistant', 'agent_assistant', 'skill_assistant')",
        name="character_required",
    ),
    sa.CheckConstraint(
        "project_id IS NOT NULL OR session_type NOT IN ('pm', 'specialist')",
        name="project_required",
    ),
    sa.CheckConstraint("next_sequence >= 0", name="next_sequence_non_negative"),
    # With the project in the key, a task of another project cannot be referenced. No ON
    # DELETE action: tasks are soft-deleted (which unbinds their sessions first), and a
    # hard-deleted project takes its sessions with it in the same statement.
    sa.ForeignKeyConstraint(["task_id", "project_id"], ["tasks.id", "tasks.project_id"]),
    # A NULL project_id would switch the key check off (MATCH SIMPLE).
    sa.CheckConstraint("task_id IS NULL OR project_id IS NOT NULL", name="task_needs_project"),
    sa.Index("ix_sessions_live_project", "project_id", "created_at", postgresql_where=LIVE),
    sa.Index("ix_sessions_live_created", "created_at", "id", postgresql_where=LIVE),
    sa.Index("ix_sessions_live_status", "status", postgresql_where=LIVE),
    sa.Index("ix_sessions_character_id", "character_id"),
    # Serves the task filter and unbinding (deleted sessions too, hence not LIVE).
    sa.Index(
        "ix_sessions_task", "task_id", "created_at", postgresql_where=sa.text("task_id IS NOT NULL")
    ),
)

messages = _table(
    "messages",
    _reference("session_id", "sessions", "CASCADE", nullable=False),
    sa.Column("role", message_role_enum, nullable=False),
    sa.Column("content", sa.Text(), nullable=False, server_default=sa.text("''")),
    sa.Column("tool_use_id", sa.Text(), nullable=True),
    sa.Column("sequence", sa.Integer(), nullable=False),
    _jsonb("metadata"),
    # No FK: the sender may be a session that was later hard-deleted or never
    # imported, and the attribution must survive that.
    sa.Column("sender_session_id", pg.UUID(as_uuid=True), nullable=True),
    sa.Column("sender_name", sa.Text(), nullable=True),
    sa.Column("response_id", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.UniqueConstraint("session_id", "sequence"),
    sa.CheckConstraint("sequence >= 0", name="sequence_non_negative"),
    sa.Index("ix_messages_session_tool_use_id", "session_id", "tool_use_id"),
)

# Messages accepted while their session was busy. A row leaves this table for
# ``messages`` (same id) in the transaction that starts its turn; a dropped row stays.
pending_inputs = _table(
    "pending_inputs",
    _reference("session_id", "sessions", "CASCADE", nullable=False),
    # One server-wide counter: the queue order is acceptance order, whatever the clocks say.
    sa.Column("position", sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column("run_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("content", sa.Text(), nullable=False),
    sa.Column("sender_session_id", pg.UUID(as_uuid=True), nullable=True),
    sa.Column("sender_name", sa.Text(), nullable=True),
    _jsonb("metadata"),
    sa.Column(
        "state",
        pending_input_state_enum,
        nullable=False,
        server_default=sa.text("'pending'"),
    ),
    sa.Column("drop_reason", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("position"),
    sa.CheckConstraint(
        "(state = 'dropped') = (dropped_at IS NOT NULL)", name="dropped_at_iff_dropped"
    ),
    sa.Index("ix_pending_inputs_session_id_state_position", "session_id", "state", "position"),
)

activity_logs = _table(
    "activity_logs",
    _reference("session_id", "sessions", "SET NULL", nullable=True),
    _reference("project_id", "projects", "SET NULL", nullable=True),
    sa.Column("event_type", event_type_enum, nullable=False),
    _jsonb("event_data"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Index("ix_activity_logs_created", sa.text("created_at DESC"), sa.text("id DESC")),
    sa.Index("ix_activity_logs_project", "project_id", sa.text("created_at DESC")),
    sa.Index("ix_activity_logs_session", "session_id", sa.text("created_at DESC")),
    sa.Index("ix_activity_logs_event_type", "event_type"),
)

user_profiles = _table(
    "user_profiles",
    sa.Column("display_name", sa.Text(), nullable=True),
    sa.Column("avatar", sa.Text(), nullable=True),
    sa.Column("description", sa.Text(), nullable=True),
    _jsonb("settings"),
    *_timestamps(soft_delete=False),
    # A unique index on a constant lets at most one row exist.
    sa.Index("uq_user_profiles_singleton", sa.text("(true)"), unique=True),
)

# The replayable event log. Ids come from one server-wide counter, assigned under a lock
# (see repositories/session_events.py) so that they commit in id order: a reader that
# resumes after an id never skips one committed later. No foreign key to sessions: a
# writer must never wait on a session row's lock; events of deleted sessions are pruned.
session_events = sa.Table(
    "session_events",
    metadata,
    sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
    sa.Column("session_id", pg.UUID(as_uuid=True), nullable=False),
    sa.Column("type", sa.Text(), nullable=False),
    _jsonb("data"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    # Set on the first row of each append only: a retried append whose key is stored
    # already committed, and inserts nothing.
    sa.Column("batch_key", pg.UUID(as_uuid=True), nullable=True),
    sa.Index("ix_session_events_session_id_id", "session_id", "id"),
    sa.Index("ix_session_events_created_at", "created_at"),
    sa.Index(
        "uq_session_events_batch_key",
        "batch_key",
        unique=True,
        postgresql_where=sa.text("batch_key IS NOT NULL"),
    ),
)

# How far retention has pruned each session's events: a replay from an id below
# ``pruned_through`` has lost events, so it gets a ``reset``.
session_event_horizons = sa.Table(
    "session_event_horizons",
    metadata,
    sa.Column("session_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("pruned_through", sa.BigInteger(), nullable=False),
)

# One row per running server process: its lease, renewed by its heartbeat. A process
# whose heartbeat is older than the lease is dead, and another takes over its sessions.
server_processes = sa.Table(
    "server_processes",
    metadata,
    # Chosen by the process itself when it starts, so it can name itself before its row.
    sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("host", sa.Text(), nullable=False),
    sa.Column("pid", sa.Integer(), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

# Which process runs a session's turns. Claimed before a turn starts, kept while the
# process lives; its rows go with the process's lease.
session_owners = sa.Table(
    "session_owners",
    metadata,
    sa.Column(
        "session_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "process_id",
        pg.UUID(as_uuid=True),
        sa.ForeignKey("server_processes.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Index("ix_session_owners_process_id", "process_id"),
)

TABLES_WITH_UPDATED_AT = (
    "characters",
    "skills",
    "projects",
    "tasks",
    "sessions",
    "user_profiles",
)
