"""Checks shared by the v1 catalog tests: the wire shapes of V1_CONTRACT §4."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

JSON = dict[str, Any]
NULLABLE_STR = (str, type(None))

FILE_ENTRY_FIELDS = {
    "path": str,
    "name": str,
    "size": int,
    "is_directory": bool,
    "modified_at": str,
}


def assert_shape(item: JSON, fields: dict[str, Any]) -> None:
    """Every contract field is present with its type; timestamps carry a zone."""
    for name, kind in fields.items():
        assert name in item, name
        assert isinstance(item[name], kind), (name, item[name])
        if name.endswith("_at") and isinstance(item[name], str):
            assert_iso_with_zone(item[name])


def assert_iso_with_zone(value: str) -> None:
    assert datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None, value


def assert_detail(response: httpx.Response, status: int, *fragments: str) -> str:
    """A v1 error: the status and a plain ``{"detail": "<text>"}`` body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["detail"], body
    assert isinstance(body["detail"], str)
    for fragment in fragments:
        assert fragment in body["detail"], body["detail"]
    return body["detail"]


async def create(client: httpx.AsyncClient, url: str, body: JSON) -> JSON:
    response = await client.post(url, json=body)
    assert response.status_code == 201, response.text
    created: JSON = response.json()
    return created
