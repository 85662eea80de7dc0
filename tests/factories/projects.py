"""Test data for projects, sessions and messages.

Characters are written straight through a unit of work, so these tests do not depend on
the characters API; projects and sessions go through the v2 API like a client's would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx

from kumiai.composition import Container
from kumiai.domain.entities import Character, Message
from kumiai.infrastructure.database.engine import Database
from kumiai.infrastructure.database.unit_of_work import SqlUnitOfWork

JSON = dict[str, Any]


async def make_character(database: Database, slug: str) -> UUID:
    """A live character row named after ``slug``; returns its id."""
    async with SqlUnitOfWork(database.session_factory) as uow:
        character = Character.create(
            slug=slug,
            name=slug.replace("-", " ").title(),
            file_path=f"/nonexistent/characters/{slug}/agent.md",
        )
        await uow.characters.add(character)
        await uow.commit()
        return character.id


async def soft_delete_character(database: Database, character_id: UUID) -> None:
    async with SqlUnitOfWork(database.session_factory) as uow:
        character = await uow.characters.get(character_id)
        assert character is not None
        character.soft_delete(datetime.now(UTC))
        await uow.commit()


async def create_project(client: httpx.AsyncClient, name: str = "Apollo", **fields: Any) -> JSON:
    response = await client.post("/api/v2/projects", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    data: JSON = response.json()["data"]
    return data


async def create_session(
    client: httpx.AsyncClient, session_type: str = "assistant", **fields: Any
) -> JSON:
    response = await client.post("/api/v2/sessions", json={"session_type": session_type, **fields})
    assert response.status_code == 201, response.text
    data: JSON = response.json()["data"]
    return data


async def store_messages(container: Container, *messages: Message) -> list[Message]:
    """Store ``messages`` in order, as the runtime does: through the repository, committed."""
    async with SqlUnitOfWork(container.database.session_factory) as uow:
        for message in messages:
            await uow.messages.append(message)
        await uow.commit()
    return list(messages)


async def append_user_messages(container: Container, session_id: str, count: int) -> list[int]:
    """Append ``count`` user messages; returns their sequences."""
    messages = [Message.user(UUID(session_id), f"message {number}") for number in range(count)]
    return [message.sequence for message in await store_messages(container, *messages)]


async def walk_pages(
    client: httpx.AsyncClient,
    url: str,
    params: JSON,
    between_pages: Callable[[], Awaitable[object]] | None = None,
) -> list[list[JSON]]:
    """Follow ``meta.next_cursor`` to the end, calling ``between_pages`` after each page."""
    pages: list[list[JSON]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["data"])
        cursor = body["meta"]["next_cursor"]
        assert body["meta"]["has_more"] is (cursor is not None)
        if cursor is None:
            return pages
        if between_pages is not None:
            await between_pages()
