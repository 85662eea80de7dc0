"""The v1 API: exactly what the existing KumiAI web client calls, over the same services.

Routers with static segments (``/agents/search``, ``/skills/import``,
``/sessions/launch``, ...) declare them before their ``/{id}`` routes.
"""

from kumiai.api.routing import Routers
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
    tasks,
)

PREFIX = "/api/v1"
routers: Routers = [
    (PREFIX, projects.router),
    (f"{PREFIX}/agents", agents.router),
    # The same resource under the name v2 uses (SPEC §5).
    (f"{PREFIX}/characters", agents.router),
    *(
        (PREFIX, module.router)
        for module in (
            skills,
            mcp,
            profile,
            onboarding,
            system,
            streaming,
            session_files,
            sessions,
            tasks,
        )
    ),
]
