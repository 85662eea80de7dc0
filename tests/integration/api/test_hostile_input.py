"""Text PostgreSQL cannot store, integers past a column's range, stalled bodies: 4xx, never 500s."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from kumiai.composition import Container
from kumiai.core.config import Settings
from kumiai.domain.repositories import encode_cursor
from kumiai.main import create_app
from tests.factories.definitions import make_skill
from tests.factories.projects import create_project, create_session

NUL = "\u0000"
LONE_SURROGATE = "\ud800"


async def _send(client: httpx.AsyncClient, method: str, url: str, body: Any) -> httpx.Response:
    """JSON with ASCII escapes, as browsers and json.dumps write it: "\\ud800" stays escaped."""
    return await client.request(
        method, url, content=json.dumps(body), headers={"Content-Type": "application/json"}
    )


def _rejected_field(response: httpx.Response) -> list[Any]:
    assert response.status_code == 422, response.text
    (problem,) = response.json()["error"]["details"]["errors"]
    assert problem["type"] == "unsafe_text"
    loc: list[Any] = problem["loc"]
    return loc


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v2/projects", "name"),
        ("/api/v2/characters", "name"),
        ("/api/v2/skills", "name"),
        ("/api/v2/skills", "description"),
    ],
)
async def test_unsafe_text_in_a_created_name_is_a_422_naming_the_field(
    client: httpx.AsyncClient, url: str, field: str, bad: str
) -> None:
    body = {"name": "Fine", field: f"a{bad}b"}
    response = await _send(client, "POST", url, body)
    assert _rejected_field(response) == ["body", field]
    assert "NUL" in response.json()["error"]["message"]


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone-surrogate"])
async def test_unsafe_text_in_message_content_is_a_422(client: httpx.AsyncClient, bad: str) -> None:
    session = await create_session(client)
    url = f"/api/v2/sessions/{session['id']}/messages"
    response = await _send(client, "POST", url, {"content": f"hi{bad}"})
    assert _rejected_field(response) == ["body", "content"]


async def test_unsafe_text_in_a_profile_field_is_a_422(client: httpx.AsyncClient) -> None:
    response = await _send(client, "PATCH", "/api/v2/profile", {"display_name": f"A{NUL}"})
    assert _rejected_field(response) == ["body", "display_name"]


@pytest.mark.parametrize(
    ("context", "location"),
    [
        ({"project_path": f"/tmp/x{NUL}"}, ["body", "context", "project_path"]),
        ({"nested": [{"deep": LONE_SURROGATE}]}, ["body", "context", "nested", 0, "deep"]),
        ({f"key{NUL}": "value"}, ["body", "context", "key\ufffd"]),
        ({f"key{LONE_SURROGATE}": 1}, ["body", "context", "key\ufffd"]),
    ],
    ids=["value", "nested-value", "nul-key", "surrogate-key"],
)
async def test_unsafe_text_in_session_context_keys_and_values_is_a_422(
    client: httpx.AsyncClient, context: dict[str, Any], location: list[Any]
) -> None:
    session = await create_session(client)
    url = f"/api/v2/sessions/{session['id']}"
    response = await _send(client, "PATCH", url, {"context": context})
    assert _rejected_field(response) == location


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/api/v2/skills?q=a%00b", ["query", "q"]),
        ("/api/v2/characters?tag=%00", ["query", "tag"]),
        ("/api/v1/skills/search?q=%00", ["query", "q"]),
        ("/api/v2/skills/a%00b", ["path", "ref"]),
        ("/api/v1/skills/a%00b", ["path", "skill_id"]),
        ("/api/v1/projects/x%00", ["path", "project_id"]),
        ("/api/v2/skills/vault/files/ok%00.txt", ["path", "path"]),
    ],
)
async def test_nul_in_a_query_parameter_or_path_segment_is_a_422(
    client: httpx.AsyncClient, url: str, location: list[Any]
) -> None:
    response = await client.get(url)
    assert response.status_code == 422, response.text
    if url.startswith("/api/v1/"):
        assert "NUL" in response.json()["detail"]
        assert ".".join(location) in response.json()["detail"]
    else:
        assert _rejected_field(response) == location


async def test_a_valid_surrogate_pair_is_ordinary_text(client: httpx.AsyncClient) -> None:
    response = await _send(client, "POST", "/api/v2/skills", {"name": "Party \U0001f389"})
    assert response.status_code == 201, response.text
    assert response.json()["data"]["name"] == "Party \U0001f389"


async def test_an_escaped_backslash_u0000_is_ordinary_text(client: httpx.AsyncClient) -> None:
    skill = await make_skill(client, description="literally \\u0000")
    assert skill["description"] == "literally \\u0000"


@pytest.mark.parametrize("parameter", ["after", "before"])
async def test_a_message_bound_past_the_sequence_column_is_a_422(
    client: httpx.AsyncClient, parameter: str
) -> None:
    session = await create_session(client)
    response = await client.get(
        f"/api/v2/sessions/{session['id']}/messages",
        params={parameter: "99999999999999999999"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["errors"][0]["loc"] == ["query", parameter]


async def test_a_message_cursor_past_the_sequence_column_is_a_422(
    client: httpx.AsyncClient,
) -> None:
    session = await create_session(client)
    cursor = encode_cursor(["asc", 99999999999999999999, -1])
    response = await client.get(
        f"/api/v2/sessions/{session['id']}/messages", params={"cursor": cursor}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"] == {"field": "cursor"}


async def test_unsafe_text_in_a_v1_body_is_a_422_in_the_v1_shape(
    client: httpx.AsyncClient,
) -> None:
    project = await create_project(client)
    response = await _send(
        client, "PATCH", f"/api/v1/projects/{project['id']}", {"description": f"x{NUL}"}
    )
    assert response.status_code == 422, response.text
    assert response.json() == {
        "detail": "invalid request: body.description: "
        "must not contain NUL characters or unpaired UTF-16 surrogates"
    }


async def test_a_body_shorter_than_its_content_length_times_out_with_408(
    settings: Settings, container: Container
) -> None:
    app = create_app(settings.model_copy(update={"body_timeout": 0.2}), container)
    sent: list[dict[str, Any]] = []
    stalled = asyncio.Event()  # never set: the client goes silent after its first chunk
    chunks = [{"type": "http.request", "body": b'{"name": "Sl', "more_body": True}]

    async def receive() -> dict[str, Any]:
        if chunks:
            return chunks.pop()
        await stalled.wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v2/skills",
        "raw_path": b"/api/v2/skills",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"localhost"),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("localhost", 80),
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    assert sent[0]["status"] == 408
    body = json.loads(b"".join(message.get("body", b"") for message in sent[1:]))
    assert body["error"]["code"] == "request_timeout"


LONG_NAME = "n" * 300


async def test_an_over_long_file_name_is_a_400_not_a_filesystem_error(
    client: httpx.AsyncClient,
) -> None:
    await make_skill(client, name="Vault")
    url = f"/api/v2/skills/vault/files/{LONG_NAME}.md"
    for response in [
        await client.put(url, json={"content": "x"}),
        await client.get(url),
        await client.delete(url),
    ]:
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "path_not_allowed"
        assert "longer than 255 bytes" in response.json()["error"]["message"]


async def test_an_upload_with_an_over_long_name_leaves_no_staging_folder(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    session = await create_session(client)
    response = await client.post(
        f"/api/v1/sessions/{session['id']}/files/prepare",
        files={"files": (f"{LONG_NAME}.txt", b"data", "text/plain")},
    )
    assert response.status_code == 400, response.text
    assert "longer than 255 bytes" in response.json()["detail"]
    staging = settings.home / "uploads" / session["id"]
    assert not staging.exists() or not any(staging.iterdir())
