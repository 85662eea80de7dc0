"""Tasks: a project's pieces of work, and the sessions bound to them.

The module-level helpers take the caller's unit of work, so a task change made inside
another use case (a project's deletion, a session's first turn moving its task to
``in_progress``) goes through the same code and writes the same activity. Each returns
a :class:`TaskChange`, which the caller hands to :class:`TaskEvents` once it has
committed.

``task_changed`` has no channel of its own: event streams belong to sessions. It goes to
the project's PM session and to every live session bound to the task (for a deletion:
the sessions it unbound), which is where a board or a chat about the task listens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from kumiai.application.dtos.tasks import TaskCreate, TaskUpdate, TaskView
from kumiai.application.ports.events import EventPublisher
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.common import record_activity, require_project, utcnow
from kumiai.application.services.sessions import page_of
from kumiai.core.exceptions import NotFoundError, ValidationError
from kumiai.domain.entities import Task
from kumiai.domain.repositories import Page, PageRequest
from kumiai.domain.value_objects import EventType, TaskStatus

TASK_CHANGED = "task_changed"


class TaskChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True)
class TaskChange:
    """A change of one task, and the sessions whose streams announce it.

    It holds the entity, not a view: the view is taken when the change is published,
    after the commit has read back the values the database sets (``updated_at``).
    """

    kind: TaskChangeKind
    task: Task
    recipients: list[UUID]
    fields: list[str] = field(default_factory=list)
    unbound_session_ids: list[UUID] = field(default_factory=list)


class TaskEvents:
    """Publishes ``task_changed`` on the event log of each recipient session."""

    def __init__(self, events: EventPublisher) -> None:
        self._events = events

    def publish(self, change: TaskChange | None) -> None:
        if change is None:
            return
        task = TaskView.of(change.task)
        data = {
            "change": change.kind.value,
            "task_id": str(task.id),
            "project_id": str(task.project_id),
            "task": task.model_dump(mode="json"),
            "fields": change.fields,
            "unbound_session_ids": [str(session_id) for session_id in change.unbound_session_ids],
        }
        for session_id in change.recipients:
            self._events.publish(session_id, TASK_CHANGED, **data)


class TaskService:
    def __init__(self, uow: UnitOfWorkFactory, events: TaskEvents) -> None:
        self._uow = uow
        self._events = events

    async def create(self, project_id: UUID, data: TaskCreate) -> TaskView:
        """A new ``open`` task of a live project; 404 for an unknown project."""
        async with self._uow() as uow:
            # Locked, so a project deletion (which deletes its tasks) cannot miss this one.
            await require_project(uow, project_id, for_update=True)
            task = Task.create(project_id=project_id, name=data.name, description=data.description)
            await uow.tasks.add(task)
            await _record_task(
                uow, EventType.TASK_CREATED, task, name=task.name, status=task.status
            )
            change = await _change(uow, TaskChangeKind.CREATED, task)
            await uow.commit()
        self._events.publish(change)
        return TaskView.of(task)

    async def get(self, task_id: UUID, *, project_id: UUID | None = None) -> TaskView:
        """The live task; with ``project_id``, a task of another project is a 404 too."""
        async with self._uow(read_only=True) as uow:
            return TaskView.of(await require_task(uow, task_id, project_id=project_id))

    async def list_tasks(
        self, project_id: UUID, page: PageRequest, *, status: TaskStatus | None = None
    ) -> Page[TaskView]:
        """The live project's live tasks, oldest first."""
        async with self._uow(read_only=True) as uow:
            await require_project(uow, project_id)
            tasks = await uow.tasks.list_page(project_id, page, status=status)
            return page_of(tasks, TaskView.of)

    async def list_all(self, project_id: UUID) -> list[TaskView]:
        """Every live task of the live project, oldest first, unpaged."""
        async with self._uow(read_only=True) as uow:
            await require_project(uow, project_id)
            return [TaskView.of(task) for task in await uow.tasks.list_for_project(project_id)]

    async def update(
        self, task_id: UUID, changes: TaskUpdate, *, project_id: UUID | None = None
    ) -> TaskView:
        """Change only the fields present; ``description: null`` clears it. A change that
        leaves every value as it was writes nothing and announces nothing."""
        async with self._uow() as uow:
            task = await require_task(uow, task_id, project_id=project_id, for_update=True)
            changed = _apply(task, changes)
            change = None
            if changed:
                await _record_task(
                    uow, EventType.TASK_UPDATED, task, fields=changed, status=task.status
                )
                change = await _change(uow, TaskChangeKind.UPDATED, task, fields=changed)
                await uow.commit()
        self._events.publish(change)
        return TaskView.of(task)

    async def delete(self, task_id: UUID, *, project_id: UUID | None = None) -> None:
        """Soft-delete the task; its sessions are unbound in the same transaction."""
        async with self._uow() as uow:
            task = await require_task(uow, task_id, project_id=project_id, for_update=True)
            change = await retire_task(uow, task, utcnow())
            await uow.commit()
        self._events.publish(change)


# --- helpers shared with other use cases -----------------------------------------------------


async def require_task(
    uow: UnitOfWork, task_id: UUID, *, project_id: UUID | None = None, for_update: bool = False
) -> Task:
    """The live task, row-locked when it is about to change; 404 otherwise.

    With ``project_id`` (the PM's tools), a task of another project is not found either,
    so an agent can neither see nor change another project's tasks.
    """
    repository = uow.tasks
    task = await (repository.get_for_update(task_id) if for_update else repository.get(task_id))
    if task is None or (project_id is not None and task.project_id != project_id):
        raise NotFoundError("task", task_id)
    return task


async def retire_task(uow: UnitOfWork, task: Task, now: datetime) -> TaskChange:
    """Unbind the (locked) task's sessions and soft-delete it, in the caller's transaction."""
    unbound = await uow.sessions.unbind_task(task.id)
    task.soft_delete(now)
    await _record_task(
        uow, EventType.TASK_DELETED, task, name=task.name, unbound_session_ids=unbound
    )
    return await _change(uow, TaskChangeKind.DELETED, task, unbound=unbound)


async def start_if_open(uow: UnitOfWork, task_id: UUID) -> TaskChange | None:
    """Work began on the task: move it from ``open`` to ``in_progress`` in the caller's
    transaction (a session's turn claim).

    Returns None, changing nothing, when the task is deleted, not ``open``, or locked by
    another transaction: such a transaction is changing or deleting it, and waiting for it
    here could deadlock with a deletion, which locks the task before the sessions.
    """
    task = await uow.tasks.lock_if_free(task_id)
    if task is None or not task.start():
        return None
    await _record_task(
        uow, EventType.TASK_UPDATED, task, fields=["status"], status=task.status, automatic=True
    )
    return await _change(uow, TaskChangeKind.UPDATED, task, fields=["status"])


# --- private -----------------------------------------------------------------------------------


def _apply(task: Task, changes: TaskUpdate) -> list[str]:
    """Apply the fields present in the request; ``name`` and ``status`` cannot be cleared."""
    given = changes.model_fields_set
    for required in ("name", "status"):
        if required in given and getattr(changes, required) is None:
            raise ValidationError(
                f"{required} cannot be null; omit it to keep it", details={"field": required}
            )
    edits: dict[str, Any] = {
        name: getattr(changes, name) for name in ("name", "description", "status") if name in given
    }
    return task.update(**edits)


async def _record_task(uow: UnitOfWork, event_type: EventType, task: Task, **data: Any) -> None:
    """An activity row about ``task``, filed under its project."""
    await record_activity(uow, event_type, project_id=task.project_id, task_id=task.id, **data)


async def _change(
    uow: UnitOfWork,
    kind: TaskChangeKind,
    task: Task,
    *,
    fields: list[str] | None = None,
    unbound: list[UUID] | None = None,
) -> TaskChange:
    """The change with its recipients: the project's PM session, then the sessions bound
    to the task (those just unbound, for a deletion)."""
    project = await uow.projects.get(task.project_id)
    bound = unbound if unbound is not None else await uow.sessions.live_ids_bound_to(task.id)
    pm = [project.pm_session_id] if project is not None and project.pm_session_id else []
    return TaskChange(
        kind=kind,
        task=task,
        recipients=list(dict.fromkeys([*pm, *bound])),
        fields=fields or [],
        unbound_session_ids=unbound or [],
    )
