from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kumiai.application.dtos.base import View
from kumiai.domain.entities import TASK_NAME_MAX_LENGTH
from kumiai.domain.value_objects import TaskStatus

TASK_DESCRIPTION_MAX_LENGTH = 100_000

TaskName = Annotated[str, Field(min_length=1, max_length=TASK_NAME_MAX_LENGTH)]
TaskDescription = Annotated[str, Field(max_length=TASK_DESCRIPTION_MAX_LENGTH)]


class TaskView(View):
    """A task as both APIs show it (v1's ``Task`` has exactly these fields)."""

    id: UUID
    project_id: UUID
    name: str
    description: str | None
    status: TaskStatus
    created_at: datetime | None
    updated_at: datetime | None


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TaskName = Field(description="Not blank; stored without surrounding spaces.")
    description: TaskDescription | None = None


class TaskUpdate(BaseModel):
    """A partial update: only the fields present change; ``description: null`` clears it."""

    model_config = ConfigDict(extra="forbid")

    name: TaskName | None = Field(default=None, description="Omit to keep it.")
    description: TaskDescription | None = None
    status: TaskStatus | None = Field(
        default=None, description="Any status may follow any other. Omit to keep it."
    )
