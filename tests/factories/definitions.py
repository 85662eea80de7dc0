"""Characters and skills made through the v2 API, and hand-made folders for re-index tests."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

_numbers = itertools.count(1)


async def make_character(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    """A character created over HTTP; returns the response's ``data``."""
    body = {"name": f"Character {next(_numbers)}", **overrides}
    return await _create(client, "/api/v2/characters", body)


async def make_skill(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    """A skill created over HTTP; returns the response's ``data``."""
    body = {"name": f"Skill {next(_numbers)}", **overrides}
    return await _create(client, "/api/v2/skills", body)


async def _create(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(url, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def write_folder(root: Path, slug: str, document: str, text: str) -> Path:
    """A definition folder written by hand, the way a user or git would leave it."""
    folder = root / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / document).write_text(text, encoding="utf-8")
    return folder


def agent_md(name: str, *, body: str = "You help.", **front: str) -> str:
    header = "".join(f"{key}: {value}\n" for key, value in {"name": name, **front}.items())
    return f"---\n{header}---\n\n{body}\n"


async def recorded_events(connection: AsyncConnection) -> list[tuple[str, dict[str, Any]]]:
    """The activity log in insertion order, as (event_type, event_data) pairs."""
    rows = await connection.execute(
        sa.text("SELECT event_type::text, event_data FROM activity_logs ORDER BY created_at, id")
    )
    return [(row[0], row[1]) for row in rows]
