"""The user's profile and preferences."""

from __future__ import annotations

from kumiai.application.dtos.profile import ProfileUpdate, ProfileView
from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.application.services.common import record_activity
from kumiai.domain.entities import UserProfile
from kumiai.domain.value_objects import EventType


class ProfileService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def get(self) -> ProfileView:
        async with self._uow() as uow:
            profile = await uow.profiles.get_or_create()
            await uow.commit()
            return ProfileView.of(profile)

    async def update(self, changes: ProfileUpdate) -> ProfileView:
        async with self._uow() as uow:
            profile = await uow.profiles.get_or_create()
            _apply(profile, changes)
            await record_activity(
                uow, EventType.PROFILE_UPDATED, fields=sorted(changes.model_fields_set)
            )
            await uow.commit()
            return ProfileView.of(profile)


def _apply(profile: UserProfile, changes: ProfileUpdate) -> None:
    given = changes.model_fields_set
    if "display_name" in given:
        profile.update_profile(display_name=changes.display_name)
    if "avatar" in given:
        profile.update_profile(avatar=changes.avatar)
    if "description" in given:
        profile.update_profile(description=changes.description)
    if "preferences" in given:
        profile.update_profile(preferences=changes.preferences or {})
    if "bash_enabled" in given and changes.bash_enabled is not None:
        profile.set_tool_permissions(bash_enabled=changes.bash_enabled)
    if "preferred_model" in given:
        profile.set_preferred_model(changes.preferred_model)
