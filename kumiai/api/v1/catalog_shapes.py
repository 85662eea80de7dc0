"""The v1 wire shapes of projects, agents, skills, files, the profile and onboarding
(V1_CONTRACT §2.2-2.6, §2.10-2.12 and §4), and how requests become commands.

Where an application view already has the contract's exact shape (file entries, MCP
servers, tools, onboarding) the endpoints return it as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import pydantic
from pydantic import BaseModel, BeforeValidator, Field

from kumiai.application.dtos.base import View
from kumiai.application.dtos.characters import CharacterFields, CharacterUpdate
from kumiai.application.dtos.files import MAX_FILE_CHARS
from kumiai.application.dtos.projects import ProjectView
from kumiai.application.dtos.sessions import AgentRef
from kumiai.application.dtos.skills import SkillFields, SkillImportResult, SkillUpdate
from kumiai.core.exceptions import ValidationError

ModelAlias = Literal["haiku", "sonnet", "opus"]
DEFAULT_MODEL: ModelAlias = "sonnet"
MAX_PATH_CHARS = 4096

Command = TypeVar("Command", bound=BaseModel)


def to_command(model: type[Command], fields: Mapping[str, Any]) -> Command:
    """Build an application command from request fields.

    The commands check sizes and formats the v1 bodies leave open, so their
    complaints are reported as a 422 rather than escaping as a 500.
    """
    try:
        return model.model_validate(dict(fields))
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
            for problem in error.errors()[:3]
        )
        raise ValidationError(f"invalid request: {problems}") from None


class _Request(BaseModel):
    """A v1 request body; keys the client sends but this server does not use are ignored."""

    model_config = pydantic.ConfigDict(extra="ignore")


# --- projects (§2.2, §4.1) -----------------------------------------------------------------


class Project(BaseModel):
    id: UUID
    name: str
    description: str | None
    path: str
    pm_agent_id: str | None = Field(description="The PM's agent slug.")
    pm_session_id: UUID | None
    team_member_ids: list[str] = Field(description="Agent slugs.")
    created_at: datetime | None
    updated_at: datetime | None
    deleted_at: datetime | None = Field(description="When the project was archived.")

    @classmethod
    def of(cls, project: ProjectView, agents: Mapping[UUID, AgentRef]) -> Project:
        def slug(character_id: UUID) -> str | None:
            agent = agents.get(character_id)
            return agent.slug if agent else None

        team = [slug(member) for member in project.team_character_ids]
        return cls(
            id=project.id,
            name=project.name,
            description=project.description,
            path=project.path,
            pm_agent_id=slug(project.pm_character_id) if project.pm_character_id else None,
            pm_session_id=project.pm_session_id,
            team_member_ids=[member for member in team if member is not None],
            created_at=project.created_at,
            updated_at=project.updated_at,
            # v1 knew only soft deletion, which the client shows as "Archived".
            deleted_at=project.archived_at,
        )


class ProjectBody(_Request):
    """``POST`` and ``PATCH /projects`` bodies: the client sends the same keys to both,
    leaving out ``description``, ``path`` and ``pm_agent_id`` when they are blank."""

    name: str | None = None
    description: str | None = None
    path: str | None = Field(default=None, max_length=MAX_PATH_CHARS)
    pm_agent_id: str | None = None
    team_member_ids: list[str] | None = None

    def fields(self) -> dict[str, Any]:
        """The keys present in the request, under the application's names.

        A blank ``path`` or ``pm_agent_id`` and a null team count as absent: that is
        what the client means by them.
        """
        fields = {_PROJECT_FIELDS[key]: getattr(self, key) for key in self.model_fields_set}
        for key in ("path", "pm_character_id", "team_character_ids"):
            value = fields.get(key)
            if value is None or (isinstance(value, str) and not value.strip()):
                fields.pop(key, None)
        return fields


_PROJECT_FIELDS = {
    "name": "name",
    "description": "description",
    "path": "path",
    "pm_agent_id": "pm_character_id",
    "team_member_ids": "team_character_ids",
}


class Unarchived(BaseModel):
    message: str
    project_id: UUID


# --- agents (§2.4, §4.2) -------------------------------------------------------------------


def model_alias(model: str | None) -> ModelAlias:
    """The select value for a stored model: an alias as is, a full id by its family."""
    name = (model or "").lower()
    for alias in ("opus", "haiku", "sonnet"):
        if alias in name:
            return alias
    return DEFAULT_MODEL


class Agent(CharacterFields):
    """A character as the v1 client knows it: named by its slug, its model by family."""

    id: str = Field(validation_alias="slug", description="The agent's slug.")
    default_model: Annotated[ModelAlias, BeforeValidator(model_alias)]


class ClientNamed(BaseModel):
    """The body of a v1 create or partial update of an agent or skill: the definition's
    fields (the command's, listed first among the bases) and ``id``, the slug the client
    may choose for a new one."""

    id: str | None = None

    def creation(self) -> dict[str, Any]:
        """The fields of a new definition, with ``slug``; null means the default."""
        fields = self.model_dump(exclude={"id"}, exclude_none=True)
        return {**fields, "slug": self.id} if self.id else fields

    def changes(self) -> dict[str, Any]:
        """The keys present in the request, but ``id``: a definition keeps its slug."""
        return self.model_dump(exclude={"id"}, exclude_unset=True)


class AgentBody(ClientNamed, CharacterUpdate):
    """``POST /agents`` (only ``name`` is required) and the partial ``PUT /agents/{id}``.

    Keys the client sends but this server does not use (``file_path``) are ignored.
    """

    model_config = pydantic.ConfigDict(extra="ignore")


class AgentFileContent(BaseModel):
    file_path: str
    content: str
    size: int = Field(description="Bytes.")


# --- skills (§2.5, §4.3) -------------------------------------------------------------------


class Skill(SkillFields):
    """A skill as the v1 client knows it: named by the slug the client chose."""

    id: str = Field(validation_alias="slug", description="The skill's slug.")


class SkillDetail(Skill):
    content: str


class SkillBody(ClientNamed, SkillUpdate):
    """``POST /skills`` (with the client's ``id``) and the partial ``PUT /skills/{id}``.

    The client spells the colour ``iconColor``; ``icon_color`` is accepted too. Keys
    this server does not use are ignored.
    """

    model_config = pydantic.ConfigDict(extra="ignore")

    @pydantic.model_validator(mode="before")
    @classmethod
    def _snake_case_colour(cls, body: Any) -> Any:
        if isinstance(body, dict) and "iconColor" in body:
            body = {**body, "icon_color": body["iconColor"]}
        return body


class SkillFileContent(BaseModel):
    content: str
    path: str


class SkillImportBody(_Request):
    """What the Import dialog sends; ``branch`` and ``path`` serve other git hosts."""

    source: str = Field(min_length=1, max_length=MAX_PATH_CHARS)
    skill_id: str | None = None
    branch: str | None = None
    path: str | None = None

    def command(self) -> dict[str, Any]:
        fields = self.model_dump(exclude={"skill_id"}, exclude_none=True)
        return {**fields, "slug": self.skill_id} if self.skill_id else fields


class SkillImported(BaseModel):
    """The first imported skill (the client opens it) and a sentence about them all."""

    skill: SkillDetail
    status: str
    message: str

    @classmethod
    def of(cls, result: SkillImportResult) -> SkillImported:
        names = ", ".join(f"'{skill.name}' as '{skill.slug}'" for skill in result.skills)
        noun = "skill" if len(result.skills) == 1 else f"{len(result.skills)} skills"
        message = f"Imported {noun}: {names}."
        if result.skipped:
            left_out = ", ".join(entry.path for entry in result.skipped)
            message += f" Left out (links or special files): {left_out}."
        return cls(skill=SkillDetail.of(result.skills[0]), status="success", message=message)


class SkillSearchHit(View):
    skill: Skill
    score: float
    match_field: str
    match_text: str


class SkillSearch(BaseModel):
    query: str
    results: list[SkillSearchHit]


class PromptEditBody(_Request):
    skill_id: str | None = None
    prompt: str = Field(min_length=1, max_length=100_000)


class PromptEditReceipt(BaseModel):
    agent_id: str
    message: str
    status: str


# --- files of agents, skills and projects (§2.3-2.5) ---------------------------------------


class FileWriteBody(_Request):
    file_path: str = Field(min_length=1, max_length=MAX_PATH_CHARS)
    content: str = Field(max_length=MAX_FILE_CHARS)


class FileRenameBody(_Request):
    old_path: str = Field(min_length=1, max_length=MAX_PATH_CHARS)
    new_path: str = Field(min_length=1, max_length=MAX_PATH_CHARS)


class ProjectFileContent(BaseModel):
    content: str
    path: str
    readonly: bool


# --- profile and system (§2.10, §2.12, §4.7) -----------------------------------------------


class UserProfile(BaseModel):
    id: str
    avatar: str | None
    description: str | None
    preferences: dict[str, Any]


class ProfileBody(_Request):
    """All three keys are sent; an empty ``avatar`` means no avatar."""

    avatar: str | None = None
    description: str | None = None
    preferences: dict[str, Any] | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class Done(BaseModel):
    message: str
