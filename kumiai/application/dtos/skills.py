from __future__ import annotations

from datetime import datetime
from typing import Any
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
from kumiai.domain.entities import Skill


class SkillView(BaseModel):
    id: UUID
    slug: str = Field(description="The folder name, and the v1 string id.")
    name: str
    description: str
    tags: list[str]
    file_path: str = Field(description="Absolute path of the folder holding SKILL.md.")
    icon: str
    icon_color: str
    license: str
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, skill: Skill) -> SkillView:
        return cls(
            id=skill.id,
            slug=skill.slug,
            name=skill.name,
            description=skill.description,
            tags=skill.tags,
            file_path=skill.file_path,
            icon=skill.icon,
            icon_color=skill.icon_color,
            license=skill.license,
            created_at=skill.created_at,
            updated_at=skill.updated_at,
        )


class SkillDetail(SkillView):
    content: str = Field(description="The instructions: the body of SKILL.md.")

    @classmethod
    def with_content(cls, skill: Skill, content: str) -> SkillDetail:
        return cls(**SkillView.of(skill).model_dump(), content=content)


class SkillCreate(BaseModel):
    """A new skill; fields left out or null take the defaults."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    slug: Slug | None = Field(
        default=None, description="Folder name; derived from the name when left out."
    )
    description: Description | None = None
    tags: Labels = Field(default_factory=list)
    icon: Name | None = None
    icon_color: Colour | None = None
    license: Name | None = None
    content: Body = Field(default="", description="The instructions: the body of SKILL.md.")

    def fields(self) -> dict[str, Any]:
        """The skill's field values, without the defaults' placeholders."""
        return self.model_dump(exclude={"slug", "content"}, exclude_none=True)


class SkillUpdate(PartialUpdate):
    """Changes to SKILL.md: its front matter and, with ``content``, its body."""

    not_clearable = frozenset(
        {"name", "description", "tags", "icon", "icon_color", "license", "content"}
    )

    name: Name | None = None
    description: Description | None = None
    tags: Labels | None = None
    icon: Name | None = None
    icon_color: Colour | None = None
    license: Name | None = None
    content: Body | None = Field(default=None, description="A new body for SKILL.md.")

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"content"})


class SkillMatch(BaseModel):
    """A skill found by a text search, with where and how well the text matched."""

    skill: SkillView
    score: float = Field(description="From 0 to 1; higher is a better match.")
    match_field: str = Field(description="`name`, `tags` or `description`.")
    match_text: str = Field(description="The value of that field that matched.")


class SkillImport(BaseModel):
    """Where to import skills from: a git URL or GitHub link, or a folder on this machine."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        min_length=1,
        max_length=4096,
        description=(
            "A GitHub link (`https://github.com/<owner>/<repo>[/tree/<branch>/<folder>]`), "
            "any git URL (https, http, git, ssh), or an absolute folder path."
        ),
    )
    branch: str | None = Field(
        default=None,
        max_length=255,
        description="Branch or tag of a git URL; default branch if left out.",
    )
    path: str | None = Field(
        default=None, max_length=1024, description="Folder inside the repository to import from."
    )
    slug: Slug | None = Field(
        default=None,
        description="Folder name for a source holding one skill; else its folder's name.",
    )


class SkippedImportEntry(BaseModel):
    path: str = Field(description="Relative to the imported folder.")
    reason: str


class SkillImportResult(BaseModel):
    """The skills an import created, and the links it left behind."""

    skills: list[SkillDetail]
    skipped: list[SkippedImportEntry]
