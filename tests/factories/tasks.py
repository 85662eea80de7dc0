"""Test data for tasks, through the v2 API as a client would create it."""

from __future__ import annotations

from typing import Any

import httpx

JSON = dict[str, Any]


async def create_task(
    client: httpx.AsyncClient, project_id: str, name: str = "Checkout page", **fields: Any
) -> JSON:
    response = await client.post(
        f"/api/v2/projects/{project_id}/tasks", json={"name": name, **fields}
    )
    assert response.status_code == 201, response.text
    data: JSON = response.json()["data"]
    return data


async def bound_session(
    client: httpx.AsyncClient, project: JSON, task: JSON, character: str = "dev"
) -> JSON:
    """A specialist of ``project`` (``character`` must be on its team) bound to ``task``."""
    response = await client.post(
        "/api/v2/sessions",
        json={
            "session_type": "specialist",
            "character_id": character,
            "project_id": project["id"],
            "task_id": task["id"],
        },
    )
    assert response.status_code == 201, response.text
    data: JSON = response.json()["data"]
    return data
