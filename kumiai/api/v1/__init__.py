"""The v1 API: exactly what the existing KumiAI web client calls, over the same services.

Routers with static segments (``/agents/search``, ``/skills/import``,
``/sessions/launch``, ...) declare them before their ``/{id}`` routes.
"""

from fastapi import APIRouter

from kumiai.api.v1 import (
    agents,
    mcp,
    onboarding,
    profile,
    projects,
    session_files,
    sessions,
    skills,
    streaming,
    system,
)

router = APIRouter(prefix="/api/v1")
for module in (
    projects,
    agents,
    skills,
    mcp,
    profile,
    onboarding,
    system,
    streaming,
    session_files,
    sessions,
):
    router.include_router(module.router)
