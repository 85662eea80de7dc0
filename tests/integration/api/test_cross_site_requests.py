"""A web page on another origin cannot make the server act (issue 9, section 2).

A browser sends a bodiless or multipart POST from any page without a CORS preflight, so
the server itself refuses state-changing requests from origins outside
``KUMIAI_CORS_ORIGINS``. Requests without an ``Origin`` (curl, scripts) keep working.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories.projects import create_session

EVIL = "http://evil.example"
ALLOWED = "http://localhost:1420"  # in the default KUMIAI_CORS_ORIGINS

JSON = dict[str, Any]


def _assert_refused(response: httpx.Response, origin: str | None = EVIL) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    if response.request.url.path.startswith("/api/v1/"):
        assert body == {"detail": body["detail"]}
        message = body["detail"]
    else:
        assert body["error"]["code"] == "cross_site_request"
        assert body["error"]["details"]["origin"] == origin
        message = body["error"]["message"]
    assert message.startswith("cross-site request refused")
    if origin is not None:
        assert origin in message


@pytest.fixture
async def session(client: httpx.AsyncClient) -> JSON:
    return await create_session(client)


# Every kind of state-changing request a foreign page can send. Each is a request the
# server would carry out if it came without an Origin.
REQUESTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "v2 POST without a body": ("POST", "/api/v2/sessions/{id}/resume", {}),
    "v2 POST with JSON": ("POST", "/api/v2/projects", {"json": {"name": "Evil"}}),
    "v2 PATCH with JSON": ("PATCH", "/api/v2/profile", {"json": {"display_name": "Evil"}}),
    "v2 DELETE": ("DELETE", "/api/v2/sessions/{id}", {}),
    "v1 POST without a body": ("POST", "/api/v1/system/reset", {}),
    "v1 recreate": ("POST", "/api/v1/sessions/{id}/recreate", {}),
    "v1 POST with JSON": ("POST", "/api/v1/profile", {"json": {"description": "Evil"}}),
    "v1 multipart upload": (
        "POST",
        "/api/v1/sessions/{id}/files/prepare",
        {"files": {"files": ("evil.sh", b"rm -rf ~", "application/octet-stream")}},
    ),
    "v1 PUT with JSON": (
        "PUT",
        "/api/v1/sessions/{id}/files/content",
        {"json": {"file_path": "evil.txt", "content": "x"}},
    ),
}


@pytest.mark.parametrize("kind", list(REQUESTS))
async def test_a_state_changing_request_from_a_foreign_origin_is_refused(
    client: httpx.AsyncClient, session: JSON, kind: str
) -> None:
    method, path, options = REQUESTS[kind]
    response = await client.request(
        method, path.format(id=session["id"]), headers={"Origin": EVIL}, **options
    )
    _assert_refused(response)


@pytest.mark.parametrize("kind", list(REQUESTS))
async def test_a_request_the_browser_marks_cross_site_is_refused_without_an_origin(
    client: httpx.AsyncClient, session: JSON, kind: str
) -> None:
    method, path, options = REQUESTS[kind]
    response = await client.request(
        method, path.format(id=session["id"]), headers={"Sec-Fetch-Site": "cross-site"}, **options
    )
    _assert_refused(response, origin=None)


async def test_an_opaque_null_origin_is_refused(client: httpx.AsyncClient) -> None:
    # Sandboxed iframes and file:// pages send "Origin: null".
    response = await client.post("/api/v2/projects", json={"name": "X"}, headers={"Origin": "null"})
    _assert_refused(response, origin="null")


async def test_a_refused_request_changes_nothing(client: httpx.AsyncClient, session: JSON) -> None:
    await client.post("/api/v1/onboarding/setup", json={"team": "dev"})
    evil = {"Origin": EVIL}

    _assert_refused(await client.post("/api/v1/system/reset", headers=evil))
    _assert_refused(await client.post("/api/v2/projects", json={"name": "Evil"}, headers=evil))
    _assert_refused(await client.delete(f"/api/v2/sessions/{session['id']}", headers=evil))

    assert (await client.get("/api/v1/onboarding/status")).json()["completed"] is True
    names = [project["name"] for project in (await client.get("/api/v2/projects")).json()["data"]]
    assert "Evil" not in names
    assert (await client.get(f"/api/v2/sessions/{session['id']}")).status_code == 200


async def test_requests_without_an_origin_still_act(
    client: httpx.AsyncClient, session: JSON
) -> None:
    created = await client.post("/api/v2/projects", json={"name": "Scripted"})
    assert created.status_code == 201, created.text
    assert (await client.post("/api/v1/system/reset")).status_code == 200
    assert (await client.delete(f"/api/v2/sessions/{session['id']}")).status_code == 204


async def test_the_allowed_web_client_acts_even_when_the_browser_calls_it_cross_site(
    client: httpx.AsyncClient,
) -> None:
    # localhost:1420 calling 127.0.0.1 is "cross-site" to the browser, yet allowed.
    headers = {"Origin": ALLOWED, "Sec-Fetch-Site": "cross-site"}
    created = await client.post("/api/v2/projects", json={"name": "Mine"}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["access-control-allow-origin"] == ALLOWED
    assert (await client.post("/api/v1/system/reset", headers=headers)).status_code == 200


async def test_same_origin_browser_requests_act(client: httpx.AsyncClient) -> None:
    headers = {"Sec-Fetch-Site": "same-origin"}
    created = await client.post("/api/v2/projects", json={"name": "Same"}, headers=headers)
    assert created.status_code == 201, created.text


async def test_reading_from_a_foreign_origin_is_left_to_cors(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/projects", headers={"Origin": EVIL})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
