from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from kumiai.application.dtos.base import View


class ProfileView(View):
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
