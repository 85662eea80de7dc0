from __future__ import annotations

from typing import Annotated

from pydantic import Field, computed_field

from kumiai.application.dtos.definitions import (
    Colour,
    DefinitionFields,
    DefinitionIds,
    DefinitionUpdate,
    Description,
    Labels,
    Name,
    NewDefinition,
    never_cleared,
)
from kumiai.application.services.runtime.backends import limitations
from kumiai.domain.entities import Character
from kumiai.domain.value_objects import CliBackend

# A data: URL of a small image, which also lands in agent.md's front matter.
AvatarUrl = Annotated[str, Field(max_length=2_000_000)]
Model = Annotated[str, Field(max_length=200)]


class CharacterFields(DefinitionFields):
    """A character's fields, as the v2 view and the v1 agent both show them."""

    role: str
    description: str | None
    cli_backend: CliBackend = Field(
        description="The agent CLI its sessions run on; a session keeps the one it began with."
    )
    default_model: str | None
    skills: list[str]
    allowed_tools: list[str]
    allowed_mcps: list[str]
    tags: list[str]
    icon_color: str
    avatar_url: str | None

    @computed_field(  # type: ignore[prop-decorator]
        description="What its backend keeps it from doing in a team, in sentences: none on "
        "`claude`; on another CLI, the KumiAI tools (`spawn_instance`, `contact_pm`, ...) it "
        "cannot call, and that its answers reach its PM as messages."
    )
    @property
    def limitations(self) -> list[str]:
        return limitations(self.cli_backend)


class CharacterView(CharacterFields, DefinitionIds):
    pass


class CharacterUpdate(DefinitionUpdate):
    """Changes to the front matter of agent.md; the prompt body is kept.

    Edit the body through ``PUT /characters/{ref}/agent-md``.
    """

    not_clearable = never_cleared(Character)

    name: Name | None = None
    role: Name | None = None
    description: Description | None = None
    cli_backend: CliBackend | None = None
    default_model: Model | None = None
    skills: Labels | None = Field(default=None, description="Slugs of existing skills.")
    allowed_tools: Labels | None = None
    allowed_mcps: Labels | None = None
    tags: Labels | None = None
    icon_color: Colour | None = None
    avatar_url: AvatarUrl | None = None


class CharacterCreate(NewDefinition, CharacterUpdate):
    """A new character; fields left out take the defaults. ``content`` is the prompt."""
