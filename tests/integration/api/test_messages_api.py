from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import httpx
import pytest

from kumiai.composition import Container
from kumiai.domain.entities import Message
from tests.factories.projects import (
    append_user_messages,
    create_session,
    store_messages,
    walk_pages,
)


def _url(session: dict[str, Any]) -> str:
    return f"/api/v2/sessions/{session['id']}/messages"


def _sequences(pages: list[list[dict[str, Any]]]) -> list[int]:
    return [message["sequence"] for page in pages for message in page]


@pytest.fixture
async def session(client: httpx.AsyncClient, container: Container) -> dict[str, Any]:
    """A session holding the messages 0..9."""
    created = await create_session(client)
    await append_user_messages(container, created["id"], 10)
    return created


# --- reading ------------------------------------------------------------------------------------


async def test_messages_carry_every_field(client: httpx.AsyncClient, container: Container) -> None:
    created = await create_session(client)
    session_id = UUID(created["id"])
    sender = uuid.uuid4()
    await store_messages(
        container, Message.user(session_id, "hello", sender_session_id=sender, sender_name="PM")
    )
    response = await client.get(_url(created))
    assert response.status_code == 200
    (message,) = response.json()["data"]
    assert message["session_id"] == created["id"]
    assert message["role"] == "user"
    assert message["content"] == "hello"
    assert message["sequence"] == 0
    assert message["sender_session_id"] == str(sender)
    assert message["sender_name"] == "PM"
    assert message["metadata"] == {}
    assert {"id", "tool_use_id", "response_id", "created_at"} <= message.keys()


async def test_a_system_note_is_listed_as_a_system_message(
    client: httpx.AsyncClient, container: Container
) -> None:
    created = await create_session(client)
    session_id = UUID(created["id"])
    await store_messages(
        container,
        Message.user(session_id, "read the log"),
        Message.system(session_id, "The tool output was too large; read it in parts."),
    )

    response = await client.get(_url(created))

    assert response.status_code == 200
    note = response.json()["data"][1]
    assert {key: note[key] for key in ("role", "content", "sequence", "sender_name")} == {
        "role": "system",
        "content": "The tool output was too large; read it in parts.",
        "sequence": 1,
        "sender_name": None,
    }


async def test_default_order_is_oldest_first(
    client: httpx.AsyncClient, session: dict[str, Any]
) -> None:
    body = (await client.get(_url(session))).json()
    assert [message["sequence"] for message in body["data"]] == list(range(10))
    assert body["meta"] == {"limit": 50, "has_more": False, "next_cursor": None, "total": None}


async def test_walking_forward_sees_messages_appended_between_pages(
    client: httpx.AsyncClient, container: Container, session: dict[str, Any]
) -> None:
    async def append_one() -> None:
        await append_user_messages(container, session["id"], 1)

    pages = await walk_pages(
        client, _url(session), {"limit": 3, "after": 1}, between_pages=append_one
    )
    assert len(pages) > 2
    # Messages 2..9 existed at the start; each full page was followed by one more.
    last = _sequences(pages)[-1]
    assert _sequences(pages) == list(range(2, last + 1))
    assert last >= 12


async def test_walking_backward_from_the_newest_has_no_duplicates_or_holes(
    client: httpx.AsyncClient, container: Container, session: dict[str, Any]
) -> None:
    async def append_one() -> None:
        await append_user_messages(container, session["id"], 1)

    pages = await walk_pages(
        client, _url(session), {"limit": 3, "order": "desc"}, between_pages=append_one
    )
    assert [len(page) for page in pages] == [3, 3, 3, 1]
    # Messages newer than the first page are not part of this walk.
    assert _sequences(pages) == list(range(9, -1, -1))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"before": 7}, [0, 1, 2, 3, 4, 5, 6]),
        ({"before": 7, "order": "desc"}, [6, 5, 4, 3, 2, 1, 0]),
        ({"after": 2, "order": "desc"}, [9, 8, 7, 6, 5, 4, 3]),
        ({"after": 1, "before": 8}, [2, 3, 4, 5, 6, 7]),
        ({"after": 1, "before": 8, "order": "desc"}, [7, 6, 5, 4, 3, 2]),
        ({"after": 5, "before": 6}, []),
    ],
)
async def test_bounded_walks_stay_inside_their_bounds(
    client: httpx.AsyncClient,
    container: Container,
    session: dict[str, Any],
    params: dict[str, Any],
    expected: list[int],
) -> None:
    async def append_one() -> None:
        # Lands above ``before``, or above the newest message a backward walk started from.
        await append_user_messages(container, session["id"], 1)

    pages = await walk_pages(client, _url(session), {**params, "limit": 2}, append_one)
    assert _sequences(pages) == expected


async def test_a_cursor_keeps_its_walk_even_if_the_other_parameters_change(
    client: httpx.AsyncClient, session: dict[str, Any]
) -> None:
    first = (await client.get(_url(session), params={"limit": 4, "order": "desc"})).json()
    cursor = first["meta"]["next_cursor"]
    second = await client.get(_url(session), params={"limit": 4, "cursor": cursor})
    assert [message["sequence"] for message in second.json()["data"]] == [5, 4, 3, 2]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"before": -1},
        {"after": "x"},
        {"order": "sideways"},
        {"cursor": "not-a-cursor"},
        {"cursor": "WyJ1cCIsMSwtMV0"},  # ["up",1,-1]: well-formed but not ours
    ],
)
async def test_invalid_parameters_are_a_422(
    client: httpx.AsyncClient, session: dict[str, Any], params: dict[str, Any]
) -> None:
    response = await client.get(_url(session), params=params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_messages_of_an_unknown_or_deleted_session_are_a_404(
    client: httpx.AsyncClient, session: dict[str, Any]
) -> None:
    assert (await client.get(f"/api/v2/sessions/{uuid.uuid4()}/messages")).status_code == 404
    await client.delete(f"/api/v2/sessions/{session['id']}")
    assert (await client.get(_url(session))).status_code == 404
