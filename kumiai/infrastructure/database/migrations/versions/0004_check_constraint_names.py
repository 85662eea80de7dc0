"""Check constraints carry the names the schema declares.

Revision 0001 passed names that already held the ``ck_<table>_`` prefix, and the naming
convention added it again (``ck_characters_ck_characters_name_not_empty``). Constraint
names reach users through conflict errors, so they are renamed to what ``tables.py``
declares.

Revision ID: 0004_check_constraint_names
Revises: 0003_pending_inputs
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_check_constraint_names"
down_revision: str | None = "0003_pending_inputs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, the name tables.py declares) for every check constraint of revision 0001.
RENAMED = (
    ("characters", "ck_characters_name_not_empty"),
    ("characters", "ck_characters_slug_not_empty"),
    ("skills", "ck_skills_name_not_empty"),
    ("skills", "ck_skills_slug_not_empty"),
    ("projects", "ck_projects_name_not_empty"),
    ("projects", "ck_projects_path_not_empty"),
    ("sessions", "ck_sessions_character_required"),
    ("sessions", "ck_sessions_project_required"),
    ("sessions", "ck_sessions_next_sequence_non_negative"),
    ("messages", "ck_messages_sequence_non_negative"),
)


def _doubled(table: str, name: str) -> str:
    return f"ck_{table}_{name}"


def upgrade() -> None:
    for table, name in RENAMED:
        op.execute(f'ALTER TABLE {table} RENAME CONSTRAINT "{_doubled(table, name)}" TO "{name}"')


def downgrade() -> None:
    for table, name in RENAMED:
        op.execute(f'ALTER TABLE {table} RENAME CONSTRAINT "{name}" TO "{_doubled(table, name)}"')
