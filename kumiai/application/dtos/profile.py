from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from kumiai.domain.entities import UserProfile


class ProfileView(BaseModel):
    id: UUID
    display_name: str | None
    avatar: str | None
    description: str | None
    preferences: dict[str, Any]
    onboarding_completed: bool
    onboarding_team: str | None
    bash_enabled: bool
    preferred_model: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, profile: UserProfile) -> ProfileView:
        return cls(
            id=profile.id,
            display_name=profile.display_name,
            avatar=profile.avatar,
            description=profile.description,
            preferences=profile.preferences,
            onboarding_completed=profile.onboarding_completed,
            onboarding_team=profile.onboarding_team,
            bash_enabled=profile.bash_enabled,
            preferred_model=profile.preferred_model,
            created_at=profile.created_at,
            updated_at=profile.updated_at,
        )


class ProfileUpdate(BaseModel):
    """A partial update: only the fields present in the request change."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    avatar: str | None = None
    description: str | None = Field(default=None, max_length=10_000)
    preferences: dict[str, Any] | None = None
    # Strict: 0 and "yes" are not booleans.
    bash_enabled: StrictBool | None = None
    preferred_model: str | None = Field(default=None, max_length=200)
