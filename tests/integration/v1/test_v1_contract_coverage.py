"""Every call of the v1 contracts has a route, same method and path: the client of 2026-01
(V1_CONTRACT.md §2-§10) and what the client of 2026-03 added (V1_CURRENT_CLIENT.md)."""

from __future__ import annotations

import re

import httpx

# The calls the KumiAI web client makes, as listed in V1_CONTRACT.md. The list is kept
# here so the test stands on its own; when the contract changes, change it with it.
CONTRACT_CALLS = (
    "GET /projects",
    "GET /projects/{project_id}",
    "POST /projects",
    "PATCH /projects/{project_id}",
    "DELETE /projects/{project_id}",
    "POST /projects/{project_id}/unarchive",
    "DELETE /projects/{project_id}/permanent",
    "GET /projects/{id}/files/content",
    "PUT /projects/{id}/files/content",
    "DELETE /projects/{id}/files",
    "GET /projects/{id}/files/download",
    "GET /agents",
    "GET /agents/{agent_id}",
    "POST /agents",
    "PUT /agents/{agent_id}",
    "DELETE /agents/{agent_id}",
    "GET /agents/{agent_id}/files",
    "GET /agents/{agent_id}/files/content",
    "PUT /agents/{agent_id}/files/content",
    "DELETE /agents/{agent_id}/files",
    "GET /agents/search",
    "GET /agents/{agent_id}/content",
    "GET /agents/{agent_id}/docs/{doc_path}",
    "GET /skills",
    "GET /skills/{skill_id}",
    "POST /skills",
    "PUT /skills/{skill_id}",
    "DELETE /skills/{skill_id}",
    "POST /skills/import",
    "GET /skills/{skill_id}/files",
    "GET /skills/{skill_id}/files/content",
    "PUT /skills/{skill_id}/files/content",
    "DELETE /skills/{skill_id}/files",
    "PATCH /skills/{skill_id}/files/rename",
    "POST /skills/{skill_id}/sync",
    "GET /skills/search",
    "GET /skills/tools/custom",
    "POST /skills/prompt-edit",
    "GET /mcp/servers",
    "GET /sessions",
    "GET /sessions/{session_id}",
    "POST /sessions",
    "POST /sessions/launch",
    "DELETE /sessions/{session_id}",
    "PATCH /sessions/{session_id}/stage",
    "POST /sessions/{session_id}/recreate",
    "POST /sessions/{session_id}/interrupt",
    "POST /sessions/{session_id}/enqueue",
    "GET /sessions/{session_id}/stream",
    "GET /sessions/{session_id}/messages",
    "POST /sessions/{session_id}/query",
    "GET /sessions/{session_id}/queue-status",
    "POST /sessions/{id}/files/prepare",
    "DELETE /sessions/{id}/files/prepare",
    "POST /sessions/{id}/files/commit",
    "GET /sessions/{id}/files/content",
    "GET /sessions/{id}/files/download",
    "PUT /sessions/{id}/files/content",
    "DELETE /sessions/{id}/files",
    "GET /profile",
    "POST /profile",
    "GET /onboarding/status",
    "POST /onboarding/setup",
    "POST /onboarding/reset",
    "POST /system/reset",
)

# What the 2026-03 client (V1_CURRENT_CLIENT.md §1, §4) calls besides.
CURRENT_CLIENT_CALLS = (
    "GET /projects/{project_id}/tasks",
    "POST /projects/{project_id}/tasks",
    "GET /tasks/{task_id}",
    "PATCH /tasks/{task_id}",
    "DELETE /tasks/{task_id}",
    "GET /system/version",
    "GET /system/cli-backends",
    "GET /system/cli-usage",
    "GET /system/cli-usage/live",
)


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


async def test_every_contract_call_is_served(client: httpx.AsyncClient) -> None:
    calls = {
        (method, "/api/v1" + _shape(path))
        for method, path in (call.split(" ") for call in CONTRACT_CALLS + CURRENT_CLIENT_CALLS)
    }
    schema = (await client.get("/openapi.json")).json()
    served = {
        (method.upper(), _shape(path))
        for path, operations in schema["paths"].items()
        for method in operations
    }
    assert len(calls) == 65 + 9
    assert calls - served == set()
