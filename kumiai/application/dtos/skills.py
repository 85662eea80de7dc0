from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kumiai.application.dtos.definitions import (
    Body,
    Colour,
    DefinitionFields,
    DefinitionIds,
    DefinitionUpdate,
    Description,
    Labels,
    Name,
    NewDefinition,
    Slug,
    never_cleared,
)
from kumiai.domain.entities import Skill


class SkillFields(DefinitionFields):
    """A skill's fields, as the v2 view and the v1 skill both show them."""

    description: str
    tags: list[str]
    icon: str
    icon_color: str
    license: str


class SkillView(SkillFields, DefinitionIds):
    pass


class SkillDetail(SkillView):
    content: str = Field(description="The instructions: the body of SKILL.md.")

    @classmethod
    def with_content(cls, skill: Skill, content: str) -> SkillDetail:
        return cls(**SkillView.of(skill).model_dump(), content=content)


class SkillUpdate(DefinitionUpdate):
    """Changes to SKILL.md: its front matter and, with ``content``, its body."""

    not_clearable = never_cleared(Skill) | {"content"}

    name: Name | None = None
    description: Description | None = None
    tags: Labels | None = None
    icon: Name | None = None
    icon_color: Colour | None = None
    license: Name | None = None
    content: Body | None = Field(default=None, description="A new body for SKILL.md.")

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"content"})

    def body(self) -> str | None:
        return self.content


class SkillCreate(NewDefinition, SkillUpdate):
    """A new skill; fields left out take the defaults. ``content`` is the instructions."""


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
