"""The generated OpenAPI schema describes every v2 operation completely."""

from __future__ import annotations

import httpx
import pytest


async def _schema(client: httpx.AsyncClient) -> dict:  # type: ignore[type-arg]
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _v2_operations(schema: dict) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    return [
        (method, path, operation)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v2")
        for method, operation in operations.items()
    ]


async def test_the_interactive_docs_are_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


async def test_every_v2_operation_declares_its_success_shape(client: httpx.AsyncClient) -> None:
    for method, path, operation in _v2_operations(await _schema(client)):
        successes = {code: body for code, body in operation["responses"].items() if code < "300"}
        assert successes, f"{method} {path} declares no success response"
        for code, body in successes.items():
            if code != "204":
                assert body.get("content"), f"{method} {path} {code} has no schema"


async def test_every_v2_operation_declares_its_errors_in_the_envelope(
    client: httpx.AsyncClient,
) -> None:
    for method, path, operation in _v2_operations(await _schema(client)):
        responses = operation["responses"]
        assert "503" in responses, f"{method} {path} does not declare 503"
        for code, body in responses.items():
            if code >= "400":
                reference = body["content"]["application/json"]["schema"]["$ref"]
                assert reference.endswith("/ErrorEnvelope"), f"{method} {path} {code}"


async def test_every_operation_declares_the_errors_of_the_plumbing(
    client: httpx.AsyncClient,
) -> None:
    schema = await _schema(client)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "503" in responses, f"{method} {path}"
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in responses, f"{method} {path}"
            if "requestBody" in operation:
                assert {"413", "415"} <= responses.keys(), f"{method} {path}"


async def test_v1_operations_declare_the_detail_shape_they_return(
    client: httpx.AsyncClient,
) -> None:
    schema = await _schema(client)
    assert schema["components"]["schemas"]["V1Error"]["required"] == ["detail"]
    v1 = [
        (method, path, operation)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in operations.items()
    ]
    assert len(v1) > 50
    for method, path, operation in v1:
        for code, body in operation["responses"].items():
            if code >= "400":
                reference = body["content"]["application/json"]["schema"]["$ref"]
                assert reference.endswith("/V1Error"), f"{method} {path} {code}"
    response = await client.get("/api/v1/skills/no-such-skill")
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v2/skills", "GET, POST"),
        ("/api/v2/projects/00000000-0000-0000-0000-000000000000", "DELETE, GET, PATCH"),
        ("/api/v1/projects", "GET, POST"),
    ],
)
async def test_options_without_a_preflight_is_a_405_listing_every_method(
    client: httpx.AsyncClient, path: str, allowed: str
) -> None:
    response = await client.options(path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed


async def test_options_as_a_cors_preflight_is_answered(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/api/v2/skills",
        headers={"Origin": "http://localhost:1420", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200
    assert "POST" in response.headers["access-control-allow-methods"]


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"name": "\xff"}'], ids=["syntax-error", "not-utf-8"]
)
async def test_malformed_json_is_one_422_shape(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        "/api/v2/skills", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    (problem,) = response.json()["error"]["details"]["errors"]
    assert problem["type"] == "json_invalid"
    assert problem["loc"][0] == "body"


@pytest.mark.parametrize("value", [0, 1, "true"])
async def test_a_boolean_field_takes_only_json_booleans(
    client: httpx.AsyncClient, value: object
) -> None:
    response = await client.patch("/api/v2/profile", json={"bash_enabled": value})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["errors"][0]["loc"] == ["body", "bash_enabled"]
