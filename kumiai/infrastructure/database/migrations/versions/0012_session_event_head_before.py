"""The newest event of a session before an id, as an append that holds the append lock
sees it.

An append reads it for each session it writes, so the writing process knows whether
every earlier event of the session has reached it and can hand its own events to its
subscribers at once, without waiting to hear them announced. A plain subquery would
read the snapshot its statement started with, from before the append lock was granted,
and miss an append committed while this one waited for the lock: a VOLATILE function
takes a fresh snapshot for its query, when the lock is already held.

Revision ID: 0012_session_event_head_before
Revises: 0011_session_waiting_slot
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_session_event_head_before"
down_revision: str | None = "0011_session_waiting_slot"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION session_event_head_before(asked_session uuid, before bigint)
        RETURNS bigint LANGUAGE sql VOLATILE AS $$
            SELECT coalesce(max(id), 0) FROM session_events
            WHERE session_id = asked_session AND id < before
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION session_event_head_before(uuid, bigint)")
