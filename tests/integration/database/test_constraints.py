"""Every database constraint rejects what it should, and the trigger keeps updated_at.

Each rejection is checked by its SQLSTATE and, where PostgreSQL names one, by the
constraint, so a test cannot pass because some other statement error happened.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

CHECK_VIOLATION = "23514"
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
INVALID_TEXT_REPRESENTATION = "22P02"


async def _insert(connection: AsyncConnection, sql: str, **params: object) -> object:
    result = await connection.execute(sa.text(sql), params)
    return result.scalar()


async def _rejects(
    connection: AsyncConnection,
    sql: str,
    sqlstate: str,
    constraint: str | None = None,
    **params: object,
) -> None:
    """``sql`` fails with ``sqlstate``, naming ``constraint`` when one is given."""
    savepoint = await connection.begin_nested()
    with pytest.raises(DBAPIError) as caught:
        await connection.execute(sa.text(sql), params)
    await savepoint.rollback()
    driver_error = caught.value.orig.__cause__  # asyncpg's own exception
    assert getattr(driver_error, "sqlstate", None) == sqlstate, driver_error
    if constraint is not None:
        assert getattr(driver_error, "constraint_name", None) == constraint, driver_error


async def _character(connection: AsyncConnection, slug: str = "dev") -> object:
    return await _insert(
        connection,
        "INSERT INTO characters (slug, name, file_path) VALUES (:slug, :name, :path) RETURNING id",
        slug=slug,
        name=slug.title(),
        path=f"/tmp/{slug}/agent.md",
    )


async def _project(connection: AsyncConnection, path: str = "/tmp/p1") -> object:
    return await _insert(
        connection, "INSERT INTO projects (name, path) VALUES ('P', :path) RETURNING id", path=path
    )


@pytest.mark.parametrize("table", ["characters", "skills"])
async def test_blank_definition_name_is_rejected(connection: AsyncConnection, table: str) -> None:
    await _rejects(
        connection,
        f"INSERT INTO {table} (slug, name, file_path) VALUES ('x', '   ', '/tmp/x')",
        CHECK_VIOLATION,
        f"ck_{table}_name_not_empty",
    )


async def test_blank_project_name_and_path_are_rejected(connection: AsyncConnection) -> None:
    await _rejects(
        connection,
        "INSERT INTO projects (name, path) VALUES ('', '/tmp/a')",
        CHECK_VIOLATION,
        "ck_projects_name_not_empty",
    )
    await _rejects(
        connection,
        "INSERT INTO projects (name, path) VALUES ('A', ' ')",
        CHECK_VIOLATION,
        "ck_projects_path_not_empty",
    )


async def test_two_live_projects_cannot_share_a_path(connection: AsyncConnection) -> None:
    await _project(connection, "/tmp/shared")
    await _rejects(
        connection,
        "INSERT INTO projects (name, path) VALUES ('B', '/tmp/shared')",
        UNIQUE_VIOLATION,
        "uq_projects_live_path",
    )


async def test_a_soft_deleted_project_frees_its_path(connection: AsyncConnection) -> None:
    first = await _project(connection, "/tmp/reused")
    await connection.execute(
        sa.text("UPDATE projects SET deleted_at = now() WHERE id = :id"), {"id": first}
    )
    assert await _project(connection, "/tmp/reused") != first


async def test_two_live_characters_cannot_share_a_name(connection: AsyncConnection) -> None:
    await _character(connection, "writer")
    await _rejects(
        connection,
        "INSERT INTO characters (slug, name, file_path) VALUES ('writer-2', 'Writer', '/x')",
        UNIQUE_VIOLATION,
        "uq_characters_live_name",
    )


async def test_only_one_user_profile_row_can_exist(connection: AsyncConnection) -> None:
    await connection.execute(sa.text("INSERT INTO user_profiles DEFAULT VALUES"))
    await _rejects(
        connection,
        "INSERT INTO user_profiles DEFAULT VALUES",
        UNIQUE_VIOLATION,
        "uq_user_profiles_singleton",
    )


async def test_a_sequence_number_is_unique_within_a_session(connection: AsyncConnection) -> None:
    session_id = await _insert(
        connection, "INSERT INTO sessions (session_type) VALUES ('assistant') RETURNING id"
    )
    insert = (
        "INSERT INTO messages (session_id, role, content, sequence) VALUES (:sid, 'user', 'hi', 0)"
    )
    await connection.execute(sa.text(insert), {"sid": session_id})
    await _rejects(
        connection, insert, UNIQUE_VIOLATION, "uq_messages_session_id_sequence", sid=session_id
    )


async def test_specialist_session_needs_a_project_and_a_character(
    connection: AsyncConnection,
) -> None:
    character = await _character(connection)
    await _rejects(
        connection,
        "INSERT INTO sessions (session_type, character_id) VALUES ('specialist', :c)",
        CHECK_VIOLATION,
        "ck_sessions_project_required",
        c=character,
    )
    project = await _project(connection)
    await _rejects(
        connection,
        "INSERT INTO sessions (session_type, project_id) VALUES ('pm', :p)",
        CHECK_VIOLATION,
        "ck_sessions_character_required",
        p=project,
    )


async def test_unknown_enum_values_are_rejected(connection: AsyncConnection) -> None:
    await _rejects(
        connection,
        "INSERT INTO sessions (session_type) VALUES ('robot')",
        INVALID_TEXT_REPRESENTATION,
    )
    await _rejects(
        connection,
        "INSERT INTO sessions (session_type, status) VALUES ('assistant', 'done')",
        INVALID_TEXT_REPRESENTATION,
    )


async def test_a_project_pm_session_must_exist(connection: AsyncConnection) -> None:
    await _rejects(
        connection,
        "INSERT INTO projects (name, path, pm_session_id) VALUES ('P', '/tmp/q', :s)",
        FOREIGN_KEY_VIOLATION,
        "fk_projects_pm_session_id_sessions",
        s=uuid.uuid4(),
    )


async def test_the_trigger_moves_updated_at_on_every_update(connection: AsyncConnection) -> None:
    project = await _project(connection)
    before = (
        await connection.execute(
            sa.text("SELECT created_at, updated_at FROM projects WHERE id = :id"), {"id": project}
        )
    ).one()
    await connection.execute(
        sa.text("UPDATE projects SET name = 'Renamed' WHERE id = :id"), {"id": project}
    )
    after = await connection.scalar(
        sa.text("SELECT updated_at FROM projects WHERE id = :id"), {"id": project}
    )
    assert after > before.updated_at
    assert after > before.created_at


async def test_deleting_a_session_deletes_its_messages(connection: AsyncConnection) -> None:
    session_id = await _insert(
        connection, "INSERT INTO sessions (session_type) VALUES ('assistant') RETURNING id"
    )
    await connection.execute(
        sa.text("INSERT INTO messages (session_id, role, sequence) VALUES (:s, 'user', 0)"),
        {"s": session_id},
    )
    await connection.execute(sa.text("DELETE FROM sessions WHERE id = :s"), {"s": session_id})
    remaining = await connection.scalar(
        sa.text("SELECT count(*) FROM messages WHERE session_id = :s"), {"s": session_id}
    )
    assert remaining == 0


# --- tasks -----------------------------------------------------------------------------------


async def _task(connection: AsyncConnection, project: object, name: str = "Ship it") -> object:
    return await _insert(
        connection,
        "INSERT INTO tasks (project_id, name) VALUES (:p, :name) RETURNING id",
        p=project,
        name=name,
    )


async def _bind_session(connection: AsyncConnection, project: object, task: object) -> None:
    await connection.execute(
        sa.text(
            "INSERT INTO sessions (session_type, project_id, task_id) VALUES ('assistant', :p, :t)"
        ),
        {"p": project, "t": task},
    )


async def test_a_task_name_is_not_blank_and_at_most_255_characters(
    connection: AsyncConnection,
) -> None:
    project = await _project(connection)
    insert = "INSERT INTO tasks (project_id, name) VALUES (:p, :name)"
    await _rejects(
        connection, insert, CHECK_VIOLATION, "ck_tasks_name_not_empty", p=project, name=" "
    )
    await _rejects(
        connection, insert, CHECK_VIOLATION, "ck_tasks_name_max_length", p=project, name="x" * 256
    )
    await _rejects(
        connection,
        "INSERT INTO tasks (project_id, name, status) VALUES (:p, 'A', 'doing')",
        INVALID_TEXT_REPRESENTATION,
        p=project,
    )
    assert await _task(connection, project, "x" * 255) is not None


async def test_a_session_can_only_be_bound_to_a_task_of_its_own_project(
    connection: AsyncConnection,
) -> None:
    ours, theirs = (
        await _project(connection, "/tmp/ours"),
        await _project(connection, "/tmp/theirs"),
    )
    their_task = await _task(connection, theirs)
    insert = "INSERT INTO sessions (session_type, project_id, task_id) VALUES ('assistant', :p, :t)"
    await _rejects(
        connection, insert, FOREIGN_KEY_VIOLATION, "fk_sessions_task_id_tasks", p=ours, t=their_task
    )
    await _rejects(
        connection,
        insert,
        FOREIGN_KEY_VIOLATION,
        "fk_sessions_task_id_tasks",
        p=ours,
        t=uuid.uuid4(),
    )
    # Without the project, the composite key would not be checked at all.
    await _rejects(
        connection,
        "INSERT INTO sessions (session_type, task_id) VALUES ('assistant', :t)",
        CHECK_VIOLATION,
        "ck_sessions_task_needs_project",
        t=their_task,
    )
    await _bind_session(connection, theirs, their_task)


async def test_a_bound_task_cannot_be_removed_under_its_session(
    connection: AsyncConnection,
) -> None:
    project = await _project(connection)
    task = await _task(connection, project)
    await _bind_session(connection, project, task)
    await _rejects(
        connection,
        "DELETE FROM tasks WHERE id = :t",
        FOREIGN_KEY_VIOLATION,
        "fk_sessions_task_id_tasks",
        t=task,
    )


async def test_removing_a_project_removes_its_tasks_and_their_bound_sessions(
    connection: AsyncConnection,
) -> None:
    project = await _project(connection)
    task = await _task(connection, project)
    await _bind_session(connection, project, task)
    await connection.execute(sa.text("DELETE FROM projects WHERE id = :p"), {"p": project})
    left = await connection.scalar(
        sa.text(
            "SELECT (SELECT count(*) FROM tasks WHERE project_id = :p) "
            "+ (SELECT count(*) FROM sessions WHERE project_id = :p)"
        ),
        {"p": project},
    )
    assert left == 0


async def test_the_trigger_moves_a_task_updated_at(connection: AsyncConnection) -> None:
    task = await _task(connection, await _project(connection))
    before = await connection.scalar(
        sa.text("SELECT updated_at FROM tasks WHERE id = :id"), {"id": task}
    )
    await connection.execute(
        sa.text("UPDATE tasks SET status = 'done' WHERE id = :id"), {"id": task}
    )
    after = await connection.scalar(
        sa.text("SELECT updated_at FROM tasks WHERE id = :id"), {"id": task}
    )
    assert after > before
