"""v1 system actions (V1_CONTRACT §2.12)."""

from __future__ import annotations

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.v1.catalog_shapes import Done

router = FlatRouter(prefix="/system", tags=["v1 system"])


@router.post("/reset", response_model=Done)
async def reset_app(container: ContainerDep) -> Done:
    """Reset the app: onboarding starts over and the preferences are cleared.

    Nothing the user made is deleted: projects, agents, skills, sessions and all files
    stay. (The SQLite-era app deleted its database and the agent and skill folders;
    that is one click too far from losing work.)
    """
    await container.system.reset()
    return Done(message="Onboarding and preferences were reset; your data was kept.")
