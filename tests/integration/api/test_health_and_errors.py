"""Health, the error envelope and the request guards, over HTTP."""

from __future__ import annotations

import httpx
import pytest

from kumiai.composition import build_container, open_database
from kumiai.core.config import Settings, load_settings
from kumiai.main import create_app


async def test_health_reports_a_reachable_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["reachable"] is True
    assert body["database"]["server_version"]
    assert body["claude_configured"] is False
    assert body["runtime"]["active"] is None
    assert body["runtime"]["requested"] == "auto"
    assert "ANTHROPIC_API_KEY" in body["runtime"]["reason"]
    assert body["folders"]["characters"].endswith("/characters")


async def test_v2_health_is_wrapped_in_the_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/health")
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "ok"


async def test_health_answers_503_in_the_envelope_when_the_database_is_down(
    tmp_path: object,
) -> None:
    settings = load_settings(
        home=str(tmp_path),
        database_url="postgresql://nobody@127.0.0.1:1/none",
        db_connect_timeout=1,
        _env_file=None,
    )
    container = build_container(settings, open_database(settings, settings.database_url or ""))
    app = create_app(settings, container)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as http:
        response = await http.get("/api/v2/health")
    await container.aclose()
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "database_unavailable"
    assert "unreachable" in error["message"]
    assert error["request_id"] == response.headers["x-request-id"]


async def test_unknown_route_is_a_404_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_non_json_body_is_rejected_with_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v2/health", content=b"name=x", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


async def test_oversized_body_is_rejected_with_413(tmp_path: object, database_url: str) -> None:
    settings = load_settings(
        home=str(tmp_path), database_url=database_url, max_body_bytes=1024, _env_file=None
    )
    container = build_container(settings, open_database(settings, database_url))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, container)),
        base_url="http://localhost",
    ) as http:
        response = await http.post("/api/v2/health", json={"blob": "x" * 4096})
    await container.aclose()
    assert response.status_code == 413
    assert response.json()["error"]["details"]["limit_bytes"] == 1024


async def test_a_foreign_host_header_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health", headers={"host": "attacker.example"})
    assert response.status_code == 400


async def test_request_id_is_echoed_when_given(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


async def test_cors_preflight_from_the_web_client_succeeds(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/v2/health",
        headers={
            "origin": "http://localhost:1420",
            "access-control-request-method": "DELETE",
            "access-control-request-headers": "content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:1420"


async def test_error_responses_carry_cors_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v2/missing", headers={"origin": "http://localhost:1420"})
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == "http://localhost:1420"


@pytest.fixture
def token_settings(settings: Settings) -> Settings:
    return load_settings(**{**settings.model_dump(), "api_token": "s3cret"}, _env_file=None)


async def test_api_token_is_required_when_configured(
    token_settings: Settings, database: object
) -> None:
    container = build_container(token_settings, database)  # type: ignore[arg-type]
    app = create_app(token_settings, container)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as http:
        refused = await http.get("/api/v2/profile")
        health = await http.get("/api/health")
        allowed = await http.get("/api/v2/nothing", headers={"authorization": "Bearer s3cret"})
    assert refused.status_code == 401
    assert health.status_code == 200
    assert allowed.status_code == 404
