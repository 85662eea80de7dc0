from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kumiai.domain.entities import UserProfile, default_settings
from kumiai.infrastructure.database.tables import user_profiles

# Every turn reads the profile: built once, it is neither built nor keyed again.
_PROFILE = sa.select(UserProfile).limit(1)


class SqlUserProfileRepository:
    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    async def get(self) -> UserProfile | None:
        return await self._db.scalar(_PROFILE)

    async def get_or_create(self) -> UserProfile:
        # Read first: it exists after the first use, and a read works in autocommit too.
        profile = await self.get()
        if profile is not None:
            return profile
        # The singleton index makes a concurrent first insert a no-op instead of an error.
        await self._db.execute(
            insert(user_profiles).values(settings=default_settings()).on_conflict_do_nothing()
        )
        profile = await self._db.scalar(_PROFILE)
        assert profile is not None
        return profile
