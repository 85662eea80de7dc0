"""v1 user profile (V1_CONTRACT §2.10, §4.7)."""

from __future__ import annotations

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.v1.catalog_shapes import ProfileBody, UserProfile, to_command
from kumiai.application.dtos.profile import ProfileUpdate, ProfileView

router = FlatRouter(prefix="/profile", tags=["v1 profile"])


@router.get("")
async def get_profile(container: ContainerDep) -> UserProfile:
    return _v1_profile(await container.profile.get())


@router.post("")
async def save_profile(body: ProfileBody, container: ContainerDep) -> UserProfile:
    """Replace avatar, description and preferences; an empty avatar removes it.

    The avatar is usually a `data:` URL of several MB; the body limit allows it.
    """
    changes = to_command(ProfileUpdate, body.changes())
    return _v1_profile(await container.profile.update(changes))


def _v1_profile(profile: ProfileView) -> UserProfile:
    return UserProfile(
        id=str(profile.id),
        avatar=profile.avatar,
        description=profile.description,
        preferences=profile.preferences,
    )
