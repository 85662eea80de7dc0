from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kumiai.application.dtos.base import View

# A character named by its UUID or its slug, as the v1 client and humans both do.
CharacterRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
TeamRefs = Annotated[list[CharacterRef], Field(max_length=200)]


class ProjectView(View):
    id: UUID
    name: str
    description: str | None
    path: str
    pm_character_id: UUID | None
    pm_session_id: UUID | None
    team_character_ids: list[UUID]
    archived_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    path: str | None = Field(
        default=None,
        max_length=4096,
        description="Absolute folder (``~`` allowed); omitted: a new folder under "
        "$KUMIAI_HOME/projects.",
    )
    team_character_ids: TeamRefs = Field(default_factory=list)
    pm_character_id: CharacterRef | None = None


class ProjectUpdate(BaseModel):
    """A partial update: only the fields present in the request change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    team_character_ids: TeamRefs | None = None


class ProjectEdit(ProjectUpdate):
    """A partial update that may also name the PM, as the v1 client sends it.

    ``path`` is accepted only when it names the project's current folder: a project
    does not move.
    """

    path: str | None = Field(default=None, max_length=4096)
    pm_character_id: CharacterRef | None = None


class PmAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    character_id: CharacterRef
