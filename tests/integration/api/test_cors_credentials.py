"""CORS for the web client's origins, with credentials (V1_CURRENT_CLIENT §5).

The 2026-03 client sends ``credentials: 'include'`` on enqueue and on the session
stream. A browser then accepts an answer only when it names the page's origin exactly
(never ``*``) and allows credentials; the cross-site write guard still refuses every
other origin.
"""

from __future__ import annotations

import httpx
import pytest

from kumiai.core.config import DEFAULT_CORS_ORIGINS
from tests.factories.projects import create_session

EVIL = "http://evil.example"


def _credentialed_for(response: httpx.Response, origin: str) -> None:
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "origin" in response.headers["vary"].lower()


def test_the_defaults_are_the_clients_origins_on_both_loopback_names() -> None:
    assert sorted(DEFAULT_CORS_ORIGINS) == sorted(
        f"http://{host}:{port}"
        for host in ("localhost", "127.0.0.1")
        for port in (1420, 1421, 3000, 5173)
    )


@pytest.mark.parametrize("origin", DEFAULT_CORS_ORIGINS)
async def test_an_enqueue_with_credentials_may_be_sent_from_each_client_origin(
    client: httpx.AsyncClient, origin: str
) -> None:
    session = await create_session(client)

    preflight = await client.options(
        f"/api/v1/sessions/{session['id']}/enqueue",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    assert preflight.status_code == 200
    _credentialed_for(preflight, origin)
    assert "POST" in preflight.headers["access-control-allow-methods"]


async def test_a_credentialed_read_is_answered_to_the_page_that_asked(
    client: httpx.AsyncClient,
) -> None:
    session = await create_session(client)
    origin = "http://localhost:5173"

    response = await client.get(
        f"/api/v1/sessions/{session['id']}/queue-status",
        headers={"Origin": origin, "Cookie": "theme=dark", "Accept": "text/event-stream"},
    )

    assert response.status_code == 200
    _credentialed_for(response, origin)


async def test_a_write_from_another_client_origin_passes_the_guard(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Origin": "http://127.0.0.1:3000", "Sec-Fetch-Site": "cross-site"}

    response = await client.post("/api/v1/system/reset", headers=headers)

    assert response.status_code == 200
    _credentialed_for(response, "http://127.0.0.1:3000")


async def test_a_foreign_origin_gets_no_cors_answer_and_cannot_write(
    client: httpx.AsyncClient,
) -> None:
    preflight = await client.options(
        "/api/v1/system/reset",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
    )
    read = await client.get("/api/v1/system/version", headers={"Origin": EVIL})
    write = await client.post("/api/v1/system/reset", headers={"Origin": EVIL})

    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in read.headers
    assert write.status_code == 403
    assert "access-control-allow-origin" not in write.headers
