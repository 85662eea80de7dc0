"""Stage 4: check, before commit, that the database holds what the source says it should.

The checks run inside the import's transaction over exactly the rows it wrote:
- every written id is present, and each table's counts add up
  (``source - not_imported + added == planned == inserted + updated + existing``);
- each session holds as many messages as the source gave it, in the same order: the
  sha256 of its contents concatenated by ``sequence`` equals the sha256 of the source
  contents concatenated in v1 order ``(sequence, created_at, id)``; and the same over
  all written sessions ordered by session id (the manifest's ``content_checksum``);
- every tool result answers an earlier tool call of its session;
- the session files carried in ``context["v1_files"]`` are all there;
- every written task holds the planned values (a checksum over them is reported), and
  every written session is bound to the planned task, or to none.

Any difference is returned as a line of text; the pipeline then rolls back.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kumiai.domain.value_objects.message_role import MessageRole
from kumiai.infrastructure.database.tables import messages, metadata, sessions, tasks
from kumiai.infrastructure.importer.plan import ImportPlan
from kumiai.infrastructure.importer.report import ImportReport
from kumiai.infrastructure.importer.writer import Written, uuid_list

ACCOUNTED_TABLES = (
    "characters",
    "skills",
    "projects",
    "tasks",
    "sessions",
    "messages",
    "session_files",
    "activity_logs",
    "user_profiles",
)


@dataclass(slots=True)
class _Digest:
    count: int = 0
    sha256: hashlib._Hash = field(default_factory=hashlib.sha256)

    def add(self, content: str) -> None:
        self.count += 1
        self.sha256.update(content.encode("utf-8"))


async def validate_import(
    connection: AsyncConnection, plan: ImportPlan, written: Written, report: ImportReport
) -> list[str]:
    """Compare the written rows with the source; return the differences (empty = valid)."""
    differences = [*await _missing_rows(connection, written), *_unbalanced_counts(report)]
    session_ids = sorted(set(written.ids("sessions")))
    actual, actual_total = await _database_digests(connection, written.ids("messages"))
    expected, expected_total = _source_digests(plan, session_ids)
    differences += _digest_differences(expected, actual)
    if expected_total.hexdigest() != actual_total.hexdigest():
        differences.append(
            f"content checksum differs: source {expected_total.hexdigest()}, "
            f"database {actual_total.hexdigest()}"
        )
    differences += await _unpaired_tool_results(connection, session_ids)
    differences += await _session_file_differences(connection, plan, session_ids)
    task_differences, tasks_sha256 = await _task_differences(connection, plan, written)
    differences += task_differences
    differences += await _binding_differences(connection, plan, session_ids)
    report.validation = {
        "ok": not differences,
        "sessions": len(session_ids),
        "messages": sum(digest.count for digest in actual.values()),
        "content_sha256": actual_total.hexdigest(),
        "per_session": {str(key): digest.sha256.hexdigest() for key, digest in actual.items()},
        "tasks": len(written.ids("tasks")),
        "tasks_sha256": tasks_sha256,
        "differences": differences,
    }
    return differences


async def _missing_rows(connection: AsyncConnection, written: Written) -> list[str]:
    differences = []
    for table in sorted({*written.inserted, *written.updated}):
        ids = set(written.ids(table))
        column = metadata.tables[table].c.id
        found = await connection.scalar(
            sa.select(sa.func.count()).where(column == sa.any_(uuid_list(ids)))
        )
        if found != len(ids):
            differences.append(f"{table}: wrote {len(ids)} rows but {found} are in the database")
    return differences


def _unbalanced_counts(report: ImportReport) -> list[str]:
    differences = []
    for table in ACCOUNTED_TABLES:
        counts = report.counts[table]
        if counts.source - counts.not_imported + counts.added != counts.planned:
            differences.append(
                f"{table}: {counts.source} source rows - {counts.not_imported} not imported "
                f"+ {counts.added} added != {counts.planned} planned"
            )
        if counts.inserted + counts.updated + counts.existing != counts.planned:
            differences.append(
                f"{table}: {counts.inserted} inserted + {counts.updated} updated + "
                f"{counts.existing} existing != {counts.planned} planned"
            )
    return differences


async def _database_digests(
    connection: AsyncConnection, message_ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, _Digest], hashlib._Hash]:
    # A join with the unnested id list lets PostgreSQL hash it instead of scanning it.
    written = (
        sa.func.unnest(uuid_list(message_ids)).table_valued("id").render_derived(name="written")
    )
    query = (
        sa.select(messages.c.session_id, messages.c.content)
        .join_from(messages, written, messages.c.id == written.c.id)
        .order_by(messages.c.session_id, messages.c.sequence)
    )
    digests: dict[uuid.UUID, _Digest] = defaultdict(_Digest)
    total = hashlib.sha256()
    result = await connection.stream(query)
    async for session_id, content in result:
        digests[session_id].add(content)
        total.update(content.encode("utf-8"))
    return digests, total


def _source_digests(
    plan: ImportPlan, session_ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, _Digest], hashlib._Hash]:
    digests: dict[uuid.UUID, _Digest] = {}
    total = hashlib.sha256()
    for session_id in session_ids:  # sorted: PostgreSQL orders UUIDs by their bytes too
        digest = digests[session_id] = _Digest()
        for content in plan.expected.get(session_id, []):
            digest.add(content)
            total.update(content.encode("utf-8"))
    return digests, total


def _digest_differences(
    expected: dict[uuid.UUID, _Digest], actual: dict[uuid.UUID, _Digest]
) -> list[str]:
    differences = []
    for session_id, source in expected.items():
        found = actual.get(session_id, _Digest())
        if found.count != source.count:
            differences.append(
                f"session {session_id}: {source.count} source messages, {found.count} imported"
            )
        elif found.sha256.hexdigest() != source.sha256.hexdigest():
            differences.append(f"session {session_id}: message contents or order differ")
    differences += [
        f"session {session_id}: messages imported for a session that was not planned"
        for session_id in actual.keys() - expected.keys()
    ]
    return differences


async def _unpaired_tool_results(
    connection: AsyncConnection, session_ids: list[uuid.UUID]
) -> list[str]:
    call = messages.alias("call")
    answered = (
        sa.select(call.c.id)
        .where(
            call.c.session_id == messages.c.session_id,
            call.c.tool_use_id == messages.c.tool_use_id,
            call.c.role == MessageRole.ASSISTANT,
            call.c.sequence < messages.c.sequence,
        )
        .exists()
    )
    query = sa.select(messages.c.id).where(
        messages.c.session_id == sa.any_(uuid_list(session_ids)),
        messages.c.role == MessageRole.TOOL_RESULT,
        ~answered,
    )
    unpaired = (await connection.execute(query)).scalars().all()
    return [f"tool result {row_id} answers no earlier tool call" for row_id in unpaired]


async def _session_file_differences(
    connection: AsyncConnection, plan: ImportPlan, session_ids: list[uuid.UUID]
) -> list[str]:
    wanted = set(session_ids)
    expected = sum(
        len(session["context"].get("v1_files", []))
        for session in plan.sessions
        if session["id"] in wanted
    )
    files = sessions.c.context["v1_files"]
    found = await connection.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(sa.func.jsonb_array_length(files)), 0)).where(
            sessions.c.id == sa.any_(uuid_list(session_ids)),
            sa.func.jsonb_typeof(files) == "array",
        )
    )
    if found != expected:
        return [f"session files: {expected} expected in session contexts, {found} found"]
    return []


_TASK_COLUMNS = ("id", "project_id", "name", "description", "status", "deleted_at")


def _task_line(values: tuple[object, ...]) -> str:
    """One task as checksummed text: its columns, with ``deleted_at`` as deleted or not."""
    *columns, deleted_at = values
    return "\x1f".join([*(str(value) for value in columns), str(deleted_at is not None)])


async def _task_differences(
    connection: AsyncConnection, plan: ImportPlan, written: Written
) -> tuple[list[str], str]:
    """The written tasks against the plan; and the sha256 over them, in id order."""
    ids = set(written.ids("tasks"))
    planned = {
        row["id"]: _task_line(tuple(row[column] for column in _TASK_COLUMNS))
        for row in plan.tasks
        if row["id"] in ids
    }
    query = sa.select(*(tasks.c[column] for column in _TASK_COLUMNS)).where(
        tasks.c.id == sa.any_(uuid_list(ids))
    )
    found = {row.id: _task_line(tuple(row)) for row in await connection.execute(query)}
    differences = [
        f"task {task_id}: the database does not hold the planned values"
        for task_id in sorted(ids)
        if found.get(task_id) != planned.get(task_id)
    ]
    digest = hashlib.sha256()
    for task_id in sorted(found):
        digest.update(found[task_id].encode("utf-8") + b"\n")
    return differences, digest.hexdigest()


async def _binding_differences(
    connection: AsyncConnection, plan: ImportPlan, session_ids: list[uuid.UUID]
) -> list[str]:
    wanted = set(session_ids)
    planned = {row["id"]: row["task_id"] for row in plan.sessions if row["id"] in wanted}
    query = sa.select(sessions.c.id, sessions.c.task_id).where(
        sessions.c.id == sa.any_(uuid_list(session_ids))
    )
    found = {row.id: row.task_id for row in await connection.execute(query)}
    return [
        f"session {session_id}: bound to task {found.get(session_id)}, planned {task_id}"
        for session_id, task_id in sorted(planned.items())
        if found.get(session_id) != task_id
    ]
