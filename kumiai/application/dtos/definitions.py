"""What the views and commands of characters and skills share.

The field types bound the size of what a request can put into a row and a
front-matter header; the entities then apply the content rules (slug shape, colour
format, ...). Which fields a command may not clear comes from the entity: those whose
declared default is not None.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from kumiai.application.dtos.base import View
from kumiai.domain.entities import Definition
from kumiai.domain.value_objects import NAME_MAX_LENGTH, SLUG_MAX_LENGTH

MAX_LABELS = 100

Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH)]
Slug = Annotated[str, Field(min_length=1, max_length=SLUG_MAX_LENGTH)]
Description = Annotated[str, Field(max_length=10_000)]
Colour = Annotated[str, Field(max_length=7, examples=["#4A90E2"])]
Labels = Annotated[
    list[Annotated[str, Field(max_length=NAME_MAX_LENGTH)]], Field(max_length=MAX_LABELS)
]
# The body of agent.md or SKILL.md; the prompt itself.
Body = Annotated[str, Field(max_length=1_000_000)]


class PartialUpdate(BaseModel):
    """A partial update: only the fields present in the request change.

    ``null`` clears an optional field; the fields named in ``not_clearable`` may be
    left out but never set to ``null``.
    """

    model_config = ConfigDict(extra="forbid")

    not_clearable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _refuse_clearing_required_fields(self) -> Self:
        cleared = sorted(
            name
            for name in self.model_fields_set & self.not_clearable
            if getattr(self, name) is None
        )
        if cleared:
            raise ValueError(f"cannot be null: {', '.join(cleared)}")
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Document the fields that refuse ``null`` as omittable, not as nullable."""
        schema = handler.resolve_ref_schema(handler(core_schema))
        for name in cls.not_clearable:
            field = schema["properties"][name]
            if "anyOf" not in field:  # required, or never nullable
                continue
            field.pop("default", None)
            options = [option for option in field.pop("anyOf") if option.get("type") != "null"]
            field.update(options[0] if len(options) == 1 else {"anyOf": options})
        return schema

    def changes(self) -> dict[str, Any]:
        """The fields present in the request, by name."""
        return self.model_dump(exclude_unset=True)


def never_cleared(entity: type[Definition]) -> frozenset[str]:
    """The editable fields whose default is not None: an update may leave them out but
    never set them to ``null``."""
    return frozenset(item.name for item in entity.editable_fields() if item.default is not None)


class DefinitionUpdate(PartialUpdate):
    """Changes to a character's or skill's fields; the main document's body is kept
    unless ``body()`` gives a new one."""

    def body(self) -> str | None:
        return None


class NewDefinition(BaseModel):
    """What creating a character or a skill takes besides its fields (listed first
    among its bases, so that ``name`` is required)."""

    name: Name
    slug: Slug | None = Field(
        default=None, description="Folder name; derived from the name when left out."
    )
    content: Body = Field(
        default="", description="The main document's body: the prompt, or the instructions."
    )

    def fields(self) -> dict[str, Any]:
        """The definition's field values, without the defaults' placeholders."""
        return self.model_dump(exclude={"slug", "content"}, exclude_none=True)


class DefinitionFields(View):
    """What every view of a character or skill shows, whatever it names it by."""

    name: str
    file_path: str = Field(
        description="Absolute path of a character's agent.md, or of a skill's folder."
    )
    created_at: datetime | None
    updated_at: datetime | None


class DefinitionIds(View):
    id: UUID
    slug: str = Field(description="The folder name, and the v1 string id.")
