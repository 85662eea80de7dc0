from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from kumiai.application.dtos.base import View
from kumiai.application.dtos.conversation import WaitingView
from kumiai.application.dtos.projects import CharacterRef
from kumiai.domain.value_objects import CliBackend, KanbanStage, SessionStatus, SessionType

_TEXT_KEYS = ("description", "task_description", "project_path")
_STAGES = [str(stage) for stage in KanbanStage]


def _check_known_keys(context: dict[str, Any]) -> dict[str, Any]:
    """Other keys are stored as given; the ones KumiAI reads must have the right shape."""
    for key in _TEXT_KEYS:
        if context.get(key) is not None and not isinstance(context[key], str):
            raise ValueError(f"context.{key} must be a string")
    stage = context.get("kanban_stage")
    if stage is not None and not (isinstance(stage, str) and stage in _STAGES):
        raise ValueError(f"context.kanban_stage must be one of {', '.join(_STAGES)}")
    return context


SessionContext = Annotated[dict[str, Any], AfterValidator(_check_known_keys)]


class SessionView(View):
    id: UUID
    session_type: SessionType
    status: SessionStatus
    character_id: UUID | None
    project_id: UUID | None
    task_id: UUID | None = Field(description="The task the session works on, set at creation.")
    cli_backend: CliBackend = Field(description="Its character's agent CLI when it was created.")
    context: dict[str, Any]
    description: str | None = Field(
        description="``context.description``, else ``context.task_description``."
    )
    kanban_stage: KanbanStage | None
    claude_session_id: str | None
    error_message: str | None
    started_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    waiting: WaitingView | None = Field(
        default=None,
        description="Why its waiting messages wait (held after a cancel, project archived,"
        " behind the running turn, slot of a runtime, starting), as its queue view says;"
        " null when nothing waits.",
    )


class AgentRef(BaseModel):
    """The character a session acts as, named the way the v1 client names agents."""

    slug: str
    name: str


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_type: SessionType
    character_id: CharacterRef | None = Field(default=None, description="UUID or slug.")
    project_id: UUID | None = None
    task_id: UUID | None = Field(
        default=None,
        description="A live task of `project_id`; the binding never changes afterwards.",
    )
    context: SessionContext = Field(default_factory=dict)


class SessionUpdate(BaseModel):
    """A partial update; ``context`` replaces the whole object, then ``kanban_stage`` applies."""

    model_config = ConfigDict(extra="forbid")

    context: SessionContext | None = Field(default=None, description="``null`` clears it.")
    kanban_stage: KanbanStage | None = Field(default=None, description="Omit to keep it.")
