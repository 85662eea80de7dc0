"""The v2 calls the end-to-end tests make against a running ``kumiai serve``."""

from __future__ import annotations

import httpx


def post(base_url: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
    """POST a JSON body; any success, since these tests call several endpoints this way."""
    response = httpx.post(f"{base_url}{path}", json=body or {}, timeout=30)
    assert response.status_code in (200, 201, 202), response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def specialist_session(base_url: str, name: str) -> str:
    """A specialist session of a new character ``name``, in a project of its own."""
    character = post(base_url, "/api/v2/characters", {"name": name})
    project = post(
        base_url, "/api/v2/projects", {"name": name, "team_character_ids": [character["slug"]]}
    )
    session = post(
        base_url,
        "/api/v2/sessions",
        {
            "session_type": "specialist",
            "character_id": character["slug"],
            "project_id": project["id"],
        },
    )
    return str(session["id"])
