"""Run Alembic programmatically, from the CLI or from code that owns an event loop.

Alembic is imported by the functions that run it: a start on a database that is
already at the newest revision (``pending``) needs one query and no Alembic at all.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

from kumiai.infrastructure.database.engine import to_async_url

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncConnection

MIGRATIONS_DIR = Path(__file__).resolve().parent
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
# Alembic's default; env.py does not change it.
VERSION_TABLE = "alembic_version"


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    from alembic.config import Config  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser treats % as interpolation; URLs may contain it.
        config.set_main_option("sqlalchemy.url", to_async_url(url).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def shipped_heads() -> frozenset[str]:
    """The newest revisions this version ships, read from the scripts' source.

    What Alembic's ``ScriptDirectory.get_heads()`` says, without importing Alembic or
    the scripts: each script's ``revision`` and ``down_revision`` assignments, and
    the heads are the revisions no other one revises.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in VERSIONS_DIR.glob("*.py"):
        values = _assignments(script, {"revision", "down_revision"})
        revision = values.get("revision")
        if isinstance(revision, str):
            revisions.add(revision)
        down = values.get("down_revision")
        if isinstance(down, str):
            revised.add(down)
        elif isinstance(down, tuple | list):  # a merge revises several
            revised.update(str(parent) for parent in down)
    return frozenset(revisions - revised)


def _assignments(script: Path, names: set[str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for node in ast.parse(script.read_text(encoding="utf-8"), str(script)).body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and target.id in names and value is not None:
            values[target.id] = ast.literal_eval(value)
    return values


async def applied_revisions(connection: AsyncConnection) -> frozenset[str]:
    """The revisions the database is at (none for an empty database), in one query."""
    table = await connection.scalar(text("SELECT to_regclass(:name)"), {"name": VERSION_TABLE})
    if table is None:
        return frozenset()
    rows = await connection.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}"))
    return frozenset(rows)


async def pending(connection: AsyncConnection) -> bool:
    """Whether upgrading to head would change anything; False only when it is at head."""
    return await applied_revisions(connection) != shipped_heads()


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command  # noqa: PLC0415

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "-1") -> None:
    from alembic import command  # noqa: PLC0415

    command.downgrade(alembic_config(url), revision)


async def upgrade_on(connection: AsyncConnection, revision: str = "head") -> None:
    """Upgrade through a connection the caller already holds (inside a running loop)."""
    from alembic import command  # noqa: PLC0415

    await connection.run_sync(
        lambda sync: command.upgrade(alembic_config(connection=sync), revision)
    )


async def downgrade_on(connection: AsyncConnection, revision: str) -> None:
    from alembic import command  # noqa: PLC0415

    await connection.run_sync(
        lambda sync: command.downgrade(alembic_config(connection=sync), revision)
    )


async def current_revision(connection: AsyncConnection) -> str | None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    return await connection.run_sync(
        lambda sync: MigrationContext.configure(sync).get_current_revision()
    )
