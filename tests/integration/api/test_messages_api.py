from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import httpx
import pytest

from kumiai.core.dependencies import Container
from kumiai.core.exceptions import NotFoundError, ValidationError
from kumiai.domain.entities import Message
from tests.factories.projects import append_user_messages, create_session, walk_pages


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
    await container.messages.append(
        session_id, Message.user(session_id, "hello", sender_session_id=sender, sender_name="PM")
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


# --- appending (application level: there is no public endpoint for it yet) ----------------------


async def test_a_tool_result_must_answer_an_earlier_unanswered_call(
    client: httpx.AsyncClient, container: Container
) -> None:
    session_id = UUID((await create_session(client))["id"])
    append = container.messages.append

    with pytest.raises(ValidationError, match="answers no earlier tool call"):
        await append(session_id, Message.tool_result(session_id, "call-1", "ok", is_error=False))
    call = Message.tool_use(session_id, "call-1", "read_file", {"path": "a"}, response_id="r1")
    assert (await append(session_id, call)).sequence == 0
    with pytest.raises(ValidationError, match="already used"):
        await append(
            session_id, Message.tool_use(session_id, "call-1", "read_file", {}, response_id="r1")
        )
    result = await append(session_id, Message.tool_result(session_id, "call-1", "ok", False))
    assert result.sequence == 1
    with pytest.raises(ValidationError, match="already has a result"):
        await append(session_id, Message.tool_result(session_id, "call-1", "again", False))

    stored = (await client.get(f"/api/v2/sessions/{session_id}/messages")).json()["data"]
    assert [message["tool_use_id"] for message in stored] == ["call-1", "call-1"]
    assert stored[0]["metadata"]["tool_use"]["name"] == "read_file"


async def test_a_call_id_of_another_session_does_not_count(
    client: httpx.AsyncClient, container: Container
) -> None:
    first = UUID((await create_session(client))["id"])
    second = UUID((await create_session(client))["id"])
    await container.messages.append(
        first, Message.tool_use(first, "call-1", "read_file", {}, response_id=None)
    )
    with pytest.raises(ValidationError):
        await container.messages.append(
            second, Message.tool_result(second, "call-1", "ok", is_error=False)
        )


async def test_appending_writes_message_sent_activity(
    client: httpx.AsyncClient, container: Container
) -> None:
    session = await create_session(client)
    stored = await container.messages.append(
        UUID(session["id"]), Message.user(UUID(session["id"]), "hi")
    )
    activity = await client.get(
        "/api/v2/activity", params={"session_id": session["id"], "event_type": "message_sent"}
    )
    (entry,) = activity.json()["data"]
    assert entry["event_data"] == {"message_id": str(stored.id), "role": "user", "sequence": 0}


async def test_appending_to_an_unknown_or_other_session_fails(
    client: httpx.AsyncClient, container: Container
) -> None:
    unknown = uuid.uuid4()
    with pytest.raises(NotFoundError):
        await container.messages.append(unknown, Message.user(unknown, "hi"))
    session_id = UUID((await create_session(client))["id"])
    with pytest.raises(ValidationError):
        await container.messages.append(session_id, Message.user(unknown, "hi"))
