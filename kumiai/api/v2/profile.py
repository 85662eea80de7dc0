from __future__ import annotations

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.schemas import Envelope
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.profile import ProfileUpdate, ProfileView

router = FlatRouter(prefix="/profile", tags=["profile"])


@router.get("", responses=errors())
async def get_profile(container: ContainerDep) -> Envelope[ProfileView]:
    """The user's profile, created with defaults on first access."""
    return Envelope(data=await container.profile.get())


@router.patch("", responses=errors(422))
async def update_profile(changes: ProfileUpdate, container: ContainerDep) -> Envelope[ProfileView]:
    """Change only the fields present in the body; `null` clears a text field."""
    return Envelope(data=await container.profile.update(changes))
