"""The migration chain builds exactly the schema the code describes, and undoes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from enum import StrEnum

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from kumiai.domain.value_objects import (
    CliBackend,
    EventType,
    MessageRole,
    PendingInputState,
    SessionStatus,
    SessionType,
    TaskStatus,
)
from kumiai.infrastructure.database.migrations import runner
from kumiai.infrastructure.database.tables import metadata
from tests.support.database import create_scratch_database_async, drop_database_async

KUMIAI_TABLES = {
    "characters",
    "skills",
    "projects",
    "sessions",
    "messages",
    "activity_logs",
    "pending_inputs",
    "user_profiles",
    "tasks",
    "session_events",
    "session_event_horizons",
}
KUMIAI_TYPES = {
    "session_type",
    "session_status",
    "message_role",
    "activity_event_type",
    "pending_input_state",
    "task_status",
    "cli_backend",
}


@pytest.fixture
async def empty_database(postgres_server_url: str) -> AsyncIterator[AsyncEngine]:
    url = await create_scratch_database_async(postgres_server_url, prefix="kumiai_migration")
    engine = create_async_engine(url, poolclass=NullPool)
    yield engine
    await engine.dispose()
    await drop_database_async(url)


async def _schema_objects(engine: AsyncEngine) -> tuple[set[str], set[str], set[str]]:
    async with engine.connect() as connection:
        tables = set(await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
        types = set(
            (
                await connection.execute(
                    sa.text(
                        "SELECT typname FROM pg_type t "
                        "JOIN pg_namespace n ON n.oid = t.typnamespace "
                        "WHERE n.nspname = 'public' AND t.typtype = 'e'"
                    )
                )
            ).scalars()
        )
        functions = set(
            (
                await connection.execute(
                    sa.text(
                        "SELECT proname FROM pg_proc p "
                        "JOIN pg_namespace n ON n.oid = p.pronamespace "
                        "WHERE n.nspname = 'public'"
                    )
                )
            ).scalars()
        )
    return tables, types, functions


async def _session_columns(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: {column["name"] for column in sa.inspect(sync).get_columns("sessions")}
        )


async def _migrate(engine: AsyncEngine, direction: str, revision: str) -> None:
    async with engine.begin() as connection:
        if direction == "up":
            await runner.upgrade_on(connection, revision)
        else:
            await runner.downgrade_on(connection, revision)


async def test_upgrade_downgrade_upgrade_round_trips_on_an_empty_database(
    empty_database: AsyncEngine,
) -> None:
    await _migrate(empty_database, "up", "head")
    tables, types, functions = await _schema_objects(empty_database)
    assert tables >= KUMIAI_TABLES
    assert types == KUMIAI_TYPES
    assert "kumiai_set_updated_at" in functions

    await _migrate(empty_database, "down", "base")
    tables, types, functions = await _schema_objects(empty_database)
    assert tables <= {"alembic_version"}
    assert types == set()
    assert "kumiai_set_updated_at" not in functions

    await _migrate(empty_database, "up", "head")
    tables, _, _ = await _schema_objects(empty_database)
    assert tables >= KUMIAI_TABLES


async def test_head_revision_is_recorded_after_upgrade(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await runner.current_revision(connection) == runner.head_revision()


def test_the_shipped_heads_read_from_source_are_alembics() -> None:
    script = ScriptDirectory.from_config(runner.alembic_config())
    assert runner.shipped_heads() == frozenset(script.get_heads())


async def test_pending_is_false_only_at_head(empty_database: AsyncEngine) -> None:
    async with empty_database.connect() as connection:
        assert await runner.pending(connection)  # no version table yet
    await _migrate(empty_database, "up", "0001_initial_schema")
    async with empty_database.connect() as connection:
        assert await runner.applied_revisions(connection) == {"0001_initial_schema"}
        assert await runner.pending(connection)
    await _migrate(empty_database, "up", "head")
    async with empty_database.connect() as connection:
        assert not await runner.pending(connection)


async def test_orm_metadata_and_migrations_do_not_drift(engine: AsyncEngine) -> None:
    def compare(sync_connection: sa.Connection) -> list[object]:
        context = MigrationContext.configure(
            sync_connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(compare)
    assert differences == []


async def test_every_constraint_has_the_name_the_metadata_declares(engine: AsyncEngine) -> None:
    declared = {
        (table.name, str(constraint.name))
        for table in metadata.sorted_tables
        for constraint in table.constraints
        if not isinstance(constraint, sa.ForeignKeyConstraint)  # named in 0001 by hand
    }
    async with engine.connect() as connection:
        rows = await connection.execute(
            sa.text(
                "SELECT conrelid::regclass::text, conname FROM pg_constraint "
                "WHERE connamespace = 'public'::regnamespace AND contype IN ('c', 'u', 'p')"
            )
        )
        found = {(table, name) for table, name in rows if table != "alembic_version"}
    assert found == declared


@pytest.mark.parametrize(
    ("type_name", "enum"),
    [
        ("session_type", SessionType),
        ("session_status", SessionStatus),
        ("message_role", MessageRole),
        ("activity_event_type", EventType),
        ("pending_input_state", PendingInputState),
        ("task_status", TaskStatus),
        ("cli_backend", CliBackend),
    ],
)
async def test_database_enum_types_hold_the_domain_values_in_order(
    engine: AsyncEngine, type_name: str, enum: type[StrEnum]
) -> None:
    async with engine.connect() as connection:
        labels = (
            await connection.execute(
                sa.text(
                    "SELECT enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
                    "WHERE t.typname = :name ORDER BY e.enumsortorder"
                ),
                {"name": type_name},
            )
        ).scalars()
        assert list(labels) == [member.value for member in enum]


async def _downgrade_with_events(
    engine: AsyncEngine, event_types: tuple[str, ...], revision: str
) -> tuple[set[str], int]:
    """Upgrade, log one activity row of each type, downgrade to ``revision``; the event
    types left and how many rows are left."""
    await _migrate(engine, "up", "head")
    values = ", ".join(f"('{event_type}')" for event_type in event_types)
    async with engine.begin() as connection:
        await connection.execute(sa.text(f"INSERT INTO activity_logs (event_type) VALUES {values}"))
    await _migrate(engine, "down", revision)
    async with engine.connect() as connection:
        labels = set(
            (
                await connection.execute(
                    sa.text(
                        "SELECT enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
                        "WHERE t.typname = 'activity_event_type'"
                    )
                )
            ).scalars()
        )
        remaining = await connection.scalar(sa.text("SELECT count(*) FROM activity_logs"))
    return labels, int(remaining or 0)


async def test_downgrading_0002_removes_the_session_updated_event_and_its_rows(
    empty_database: AsyncEngine,
) -> None:
    labels, remaining = await _downgrade_with_events(
        empty_database, ("session_updated",), "0001_initial_schema"
    )
    assert "session_updated" not in labels
    assert remaining == 0


async def test_downgrading_0005_removes_tasks_their_events_and_the_session_binding(
    empty_database: AsyncEngine,
) -> None:
    labels, remaining = await _downgrade_with_events(
        empty_database,
        ("task_created", "task_deleted", "session_updated"),
        "0004_check_constraint_names",
    )
    tables, types, _ = await _schema_objects(empty_database)
    session_columns = await _session_columns(empty_database)
    assert {"task_created", "task_updated", "task_deleted"}.isdisjoint(labels)
    assert "session_updated" in labels
    assert remaining == 1
    assert "tasks" not in tables
    assert "task_status" not in types
    assert "task_id" not in session_columns


async def test_downgrading_0011_removes_the_sessions_waiting_slot(
    empty_database: AsyncEngine,
) -> None:
    await _migrate(empty_database, "up", "head")
    assert "waiting_slot" in await _session_columns(empty_database)

    await _migrate(empty_database, "down", "0010_session_turn")

    assert "waiting_slot" not in await _session_columns(empty_database)
    assert "turn_run_id" in await _session_columns(empty_database)
