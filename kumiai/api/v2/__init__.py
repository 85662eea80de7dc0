"""The v2 API: envelopes, cursor pagination and thin endpoints over the services."""

from kumiai.api.routing import Routers
from kumiai.api.v2 import (
    activity,
    characters,
    conversation,
    mcp,
    profile,
    projects,
    sessions,
    skills,
    tasks,
)

routers: Routers = [
    ("/api/v2", module.router)
    for module in (
        profile,
        characters,
        skills,
        projects,
        tasks,
        sessions,
        conversation,
        activity,
        mcp,
    )
]
