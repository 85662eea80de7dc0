"""App-wide maintenance: the "Reset app" action of the settings dialog."""

from __future__ import annotations

from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.application.services.common import record_activity
from kumiai.domain.value_objects import EventType


class SystemService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def reset(self) -> None:
        """Take the app back to its first-run state without deleting anything the user made.

        Onboarding starts over (the welcome dialog shows again) and the preferences
        are cleared. Projects, characters, skills, sessions, messages and every file
        on disk are kept: the SQLite-era app deleted its database and the agent and
        skill folders here, but one click in a settings dialog should not destroy
        work. Those can still be deleted one by one.
        """
        async with self._uow() as uow:
            profile = await uow.profiles.get_or_create()
            profile.reset_onboarding()
            profile.update_profile(preferences={})
            await record_activity(
                uow,
                EventType.PROFILE_UPDATED,
                fields=["onboarding", "preferences"],
                reason="system_reset",
            )
            await uow.commit()
