"""The SQL of the persisted event log, on asyncpg connections of its own.

The log has its own connections rather than the app's pool: its writer sends one
statement per batch of events and never queues behind a request for a pooled
connection, and a turn's own round trips stay what they were.

**Ids in commit order.** An append takes a transaction-level advisory lock before its
rows take their ids, and keeps it until it commits; so ids are handed out and become
visible in the same order. A reader that has seen id N and asks for ``id > N`` can never
skip an event that commits later with a smaller id. The append is a single statement in
its own implicit transaction: the lock, the insert and the notification cost one round
trip, and the lock is held only while that statement runs.

**Once.** The first row of each append carries the batch's key (unique): a writer
that lost its connection during an append retries it with the same key, and the
retry inserts nothing if the first attempt had committed.

**What came before.** For each session it writes, an append also returns the newest id
that session had before the batch, read once the append lock is held (through
``session_event_head_before``, whose VOLATILE query sees every append committed
before the lock was granted). A writer that has delivered that id already delivers its
own events at once.

**Notifications carry no event.** Each append notifies ``kumiai_events`` once per
session in the batch with ``"<session id> <first id> <last id>"``; listeners read the
rows. So NOTIFY's 8000-byte payload limit never applies to an event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from kumiai.application.ports.events import (
    Appended,
    NewEvent,
    ReplayPage,
    Retention,
    SessionEvent,
)

CHANNEL = "kumiai_events"
# Serialises appends across every process on the database ("kumiai" "ev" in ASCII).
APPEND_LOCK = 0x6B756D69_6576
PRUNE_LOCK = APPEND_LOCK + 1
PRUNE_CHUNK = 10_000

_APPEND = f"""
WITH append_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock({APPEND_LOCK})),
appended AS (
    INSERT INTO session_events (session_id, type, data, batch_key)
    SELECT batch.session_id, batch.type, batch.data::jsonb,
        CASE WHEN batch.position = 1 THEN $4::uuid END
    FROM append_lock,
        unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY
            AS batch(session_id, type, data, position)
    WHERE NOT EXISTS (SELECT FROM session_events WHERE batch_key = $4::uuid)
    ORDER BY batch.position
    RETURNING id, session_id
)
SELECT batch.session_id, batch.ids,
    session_event_head_before(batch.session_id, batch.ids[1]) AS before,
    pg_notify(
        '{CHANNEL}',
        batch.session_id::text || ' ' || batch.ids[1] || ' ' || batch.ids[cardinality(batch.ids)]
    )
FROM (
    SELECT session_id, array_agg(id ORDER BY id) AS ids FROM appended GROUP BY session_id
) AS batch
"""

# The newest id of each session asked for, in one query however many are asked at once.
_HEADS = """
SELECT asked.session_id, coalesce(
    (SELECT max(id) FROM session_events WHERE session_id = asked.session_id), 0
) AS head
FROM unnest($1::uuid[]) AS asked(session_id)
"""

# Far more ids than the events a crash can lose (those of the last few hundred
# milliseconds of asynchronous commits), and still nothing next to 2**53.
CRASH_ID_MARGIN = 1_000_000
_SKIP_IDS = f"""
SELECT setval('session_events_id_seq', greatest(
    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM session_events_id_seq),
    (SELECT coalesce(max(id), 0) FROM session_events)
) + {CRASH_ID_MARGIN})
"""

_COLUMNS = "id, session_id, type, data::text AS data, created_at"

_READ_NEW = f"""
SELECT e.* FROM unnest($1::uuid[], $2::bigint[]) AS reader(session_id, after)
CROSS JOIN LATERAL (
    SELECT {_COLUMNS} FROM session_events
    WHERE session_id = reader.session_id AND id > reader.after
    ORDER BY id LIMIT $3
) AS e
ORDER BY e.id
"""

_READ_AFTER = f"""
SELECT {_COLUMNS} FROM session_events
WHERE session_id = $1 AND id > $2 ORDER BY id LIMIT $3
"""

# The identity's sequence: the highest id ever given, whatever was pruned since.
_HORIZON = """
SELECT
    (SELECT pruned_through FROM session_event_horizons WHERE session_id = $1) AS pruned_through,
    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM session_events_id_seq) AS latest
"""

# One chunk of what retention drops: too old, or beyond a session's newest N; the
# highest id dropped per session moves its horizon in the same statement.
_PRUNE = """
WITH doomed AS (
    SELECT id FROM session_events WHERE created_at < $1
    UNION
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY session_id ORDER BY id DESC) AS newer
        FROM session_events
        WHERE session_id IN (
            SELECT session_id FROM session_events GROUP BY session_id HAVING count(*) > $2
        )
    ) AS ranked
    WHERE newer > $2
    LIMIT $3
),
dropped AS (
    DELETE FROM session_events WHERE id IN (SELECT id FROM doomed LIMIT $3)
    RETURNING session_id, id
),
horizons AS (
    INSERT INTO session_event_horizons (session_id, pruned_through)
    SELECT session_id, max(id) FROM dropped GROUP BY session_id
    ON CONFLICT (session_id) DO UPDATE SET pruned_through = greatest(
        session_event_horizons.pruned_through, excluded.pruned_through
    )
)
SELECT count(*) FROM dropped
"""


def encode_data(data: dict[str, Any]) -> str:
    return json.dumps(data, default=str)


async def append(
    connection: asyncpg.Connection, events: Sequence[NewEvent], key: UUID
) -> dict[UUID, Appended]:
    """Append ``events`` in order, once: a batch whose ``key`` is stored already (a retry
    of an append that committed) inserts nothing and returns nothing. For each session,
    the ids its events got, in order, and its newest id before them."""
    rows = await connection.fetch(
        _APPEND,
        [event.session_id for event in events],
        [event.type for event in events],
        [encode_data(event.data) for event in events],
        key,
    )
    return {row["session_id"]: Appended(ids=list(row["ids"]), after=row["before"]) for row in rows}


async def skip_ids_a_crash_may_have_lost(connection: asyncpg.Connection) -> None:
    """Move the id counter well past the last id given, durably (this commit waits for
    the disk whatever the session's setting: it is the one that must survive)."""
    async with connection.transaction():
        await connection.execute("SET LOCAL synchronous_commit = on")
        await connection.fetchval(_SKIP_IDS)
        # A transaction id makes the commit a real one, which waits for the flush.
        await connection.fetchval("SELECT pg_current_xact_id()")


async def heads(connection: asyncpg.Pool, session_ids: Sequence[UUID]) -> dict[UUID, int]:
    """The newest id of each session's events (0 for none)."""
    rows = await connection.fetch(_HEADS, list(session_ids))
    return {row["session_id"]: row["head"] for row in rows}


async def read_new(
    connection: asyncpg.Connection | asyncpg.Pool, cursors: Mapping[UUID, int], limit: int
) -> list[SessionEvent]:
    rows = await connection.fetch(_READ_NEW, list(cursors), list(cursors.values()), limit)
    return [_event(row) for row in rows]


async def read_after(
    connection: asyncpg.Connection, session_id: UUID, after: int, limit: int
) -> ReplayPage:
    # One snapshot for both reads, so the horizon matches the rows.
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        rows = await connection.fetch(_READ_AFTER, session_id, after, limit)
        horizon = await connection.fetchrow(_HORIZON, session_id)
    assert horizon is not None
    return ReplayPage(
        events=[_event(row) for row in rows],
        pruned_through=horizon["pruned_through"],
        latest_id=horizon["latest"],
    )


async def prune(connection: asyncpg.Connection, retention: Retention) -> int:
    """Prune in chunks, each its own short transaction; how many events went. One
    process prunes at a time: the others, finding the lock taken, skip their turn."""
    if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", PRUNE_LOCK):
        return 0
    cutoff = datetime.now(UTC) - retention.max_age
    total = 0
    try:
        while True:
            count: int = await connection.fetchval(
                _PRUNE, cutoff, retention.max_per_session, PRUNE_CHUNK
            )
            total += count
            if count < PRUNE_CHUNK:
                return total
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", PRUNE_LOCK)


def _event(row: asyncpg.Record) -> SessionEvent:
    return SessionEvent(
        session_id=row["session_id"],
        id=row["id"],
        type=row["type"],
        data=json.loads(row["data"]),
        created_at=row["created_at"],
    )
