"""v1 tasks: the board of the current client (V1_CURRENT_CLIENT §1).

Bodies and answers are the original's: a bare ``Task`` object, 201 on create, 204 on
delete, and ``null`` in a PATCH means "unchanged". Unlike the original, an unknown
status is a 422 (not a 500) and a deletion unbinds the task's sessions.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import Response, status
from pydantic import BaseModel

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.v1.projects import ProjectId, project_uuid
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.tasks import (
    TaskCreate,
    TaskDescription,
    TaskName,
    TaskUpdate,
    TaskView,
)
from kumiai.domain.value_objects import TaskStatus

router = FlatRouter(tags=["v1 tasks"])


class CreateTask(BaseModel):
    """Other keys are ignored, as the original did."""

    name: TaskName
    description: TaskDescription | None = None


class UpdateTask(BaseModel):
    """Each key left out or ``null`` keeps its value; ``description: ""`` clears it."""

    name: TaskName | None = None
    description: TaskDescription | None = None
    status: TaskStatus | None = None

    def changes(self) -> TaskUpdate:
        return TaskUpdate.model_validate(self.model_dump(exclude_none=True))


@router.get("/projects/{project_id}/tasks")
async def list_tasks(project_id: ProjectId, container: ContainerDep) -> list[TaskView]:
    """The project's live tasks, oldest first."""
    return await container.tasks.list_all(project_uuid(project_id))


@router.post(
    "/projects/{project_id}/tasks",
    status_code=status.HTTP_201_CREATED,
    responses=errors(404),
)
async def create_task(project_id: ProjectId, body: CreateTask, container: ContainerDep) -> TaskView:
    """A new ``open`` task; a blank name is a 422."""
    data = TaskCreate(name=body.name, description=body.description)
    return await container.tasks.create(project_uuid(project_id), data)


@router.get("/tasks/{task_id}")
async def get_task(task_id: UUID, container: ContainerDep) -> TaskView:
    return await container.tasks.get(task_id)


@router.patch("/tasks/{task_id}")
async def update_task(task_id: UUID, body: UpdateTask, container: ContainerDep) -> TaskView:
    """What the board's drag sends (``{status}``); an unknown status is a 422."""
    return await container.tasks.update(task_id, body.changes())


@router.delete("/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_task(task_id: UUID, container: ContainerDep) -> None:
    """Soft-delete the task and unbind its sessions, in one transaction."""
    await container.tasks.delete(task_id)
