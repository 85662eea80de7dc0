from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kumiai.application.dtos.definitions import (
    Body,
    Colour,
    Description,
    Labels,
    Name,
    PartialUpdate,
    Slug,
)
from kumiai.domain.entities import Character

# A data: URL of a small image, which also lands in agent.md's front matter.
AvatarUrl = Annotated[str, Field(max_length=2_000_000)]
Model = Annotated[str, Field(max_length=200)]


class CharacterView(BaseModel):
    id: UUID
    slug: str = Field(description="The folder name, and the v1 string id.")
    name: str
    role: str
    description: str | None
    file_path: str = Field(description="Absolute path of the character's agent.md.")
    avatar_url: str | None
    skills: list[str]
    default_model: str | None
    allowed_tools: list[str]
    allowed_mcps: list[str]
    tags: list[str]
    icon_color: str
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, character: Character) -> CharacterView:
        return cls(
            id=character.id,
            slug=character.slug,
            name=character.name,
            role=character.role,
            description=character.description,
            file_path=character.file_path,
            avatar_url=character.avatar_url,
            skills=character.skills,
            default_model=character.default_model,
            allowed_tools=character.allowed_tools,
            allowed_mcps=character.allowed_mcps,
            tags=character.tags,
            icon_color=character.icon_color,
            created_at=character.created_at,
            updated_at=character.updated_at,
        )


class CharacterCreate(BaseModel):
    """A new character; fields left out or null take the defaults."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    slug: Slug | None = Field(
        default=None, description="Folder name; derived from the name when left out."
    )
    role: Name | None = None
    description: Description | None = None
    avatar_url: AvatarUrl | None = None
    skills: Labels = Field(default_factory=list, description="Slugs of existing skills.")
    default_model: Model | None = None
    allowed_tools: Labels = Field(default_factory=list)
    allowed_mcps: Labels = Field(default_factory=list)
    tags: Labels = Field(default_factory=list)
    icon_color: Colour | None = None
    content: Body = Field(default="", description="The prompt: the body of agent.md.")

    def fields(self) -> dict[str, Any]:
        """The character's field values, without the defaults' placeholders."""
        return self.model_dump(exclude={"slug", "content"}, exclude_none=True)


class CharacterUpdate(PartialUpdate):
    """Changes to the front matter of agent.md; the prompt body is kept.

    Edit the body through ``PUT /characters/{ref}/agent-md``.
    """

    not_clearable = frozenset(
        {"name", "role", "skills", "allowed_tools", "allowed_mcps", "tags", "icon_color"}
    )

    name: Name | None = None
    role: Name | None = None
    description: Description | None = None
    avatar_url: AvatarUrl | None = None
    skills: Labels | None = None
    default_model: Model | None = None
    allowed_tools: Labels | None = None
    allowed_mcps: Labels | None = None
    tags: Labels | None = None
    icon_color: Colour | None = None
