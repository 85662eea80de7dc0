"""Tasks: a project's pieces of work. Sessions are bound to one at creation."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.api.schemas import Envelope, ListEnvelope
from kumiai.api.v2.common import PageDep, list_envelope
from kumiai.api.v2.responses import errors
from kumiai.application.dtos.tasks import TaskCreate, TaskUpdate, TaskView
from kumiai.domain.value_objects import TaskStatus

router = FlatRouter(tags=["tasks"])


@router.post("/projects/{project_id}/tasks", status_code=201, responses=errors(404, 422))
async def create_task(
    project_id: UUID, data: TaskCreate, container: ContainerDep
) -> Envelope[TaskView]:
    """A new `open` task of the project; `task_changed` goes to the project's PM session."""
    return Envelope(data=await container.tasks.create(project_id, data))


@router.get("/projects/{project_id}/tasks", responses=errors(404, 422))
async def list_tasks(
    project_id: UUID,
    page: PageDep,
    container: ContainerDep,
    status: Annotated[TaskStatus | None, Query(description="Only tasks in this status.")] = None,
) -> ListEnvelope[TaskView]:
    """The project's live tasks, oldest first."""
    tasks = await container.tasks.list_tasks(project_id, page, status=status)
    return list_envelope(tasks, TaskView.model_validate)


@router.get("/tasks/{task_id}", responses=errors(404, 422))
async def get_task(task_id: UUID, container: ContainerDep) -> Envelope[TaskView]:
    return Envelope(data=await container.tasks.get(task_id))


@router.patch("/tasks/{task_id}", responses=errors(404, 422))
async def update_task(
    task_id: UUID, changes: TaskUpdate, container: ContainerDep
) -> Envelope[TaskView]:
    """Change only the fields present; `description: null` clears it. Any status may
    follow any other."""
    return Envelope(data=await container.tasks.update(task_id, changes))


@router.delete("/tasks/{task_id}", status_code=204, responses=errors(404, 422))
async def delete_task(task_id: UUID, container: ContainerDep) -> None:
    """Soft-delete the task; its sessions are unbound (`task_id: null`) in the same
    transaction."""
    await container.tasks.delete(task_id)
