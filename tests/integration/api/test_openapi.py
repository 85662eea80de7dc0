"""The generated OpenAPI schema describes every v2 operation completely."""

from __future__ import annotations

import httpx


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
