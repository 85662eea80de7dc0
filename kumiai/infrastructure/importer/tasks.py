"""Stage 2 for the tasks of a 2026-03 home, and the task each session is bound to.

v1 kept task ids for sessions without checking them: a session could point at a deleted
task, another project's task or no task at all. Such a binding is dropped and reported;
the original value stays in the session's ``context["v1_task_id"]``.
"""

from __future__ import annotations

import uuid
from typing import Any

from kumiai.domain.entities.task import TASK_NAME_MAX_LENGTH
from kumiai.domain.value_objects.task_status import TaskStatus
from kumiai.infrastructure.importer.entries import Action
from kumiai.infrastructure.importer.legacy import TASK_STATUSES, UNTITLED_TASK, as_text
from kumiai.infrastructure.importer.plan import ImportPlan, Row
from kumiai.infrastructure.importer.report import ImportReport
from kumiai.infrastructure.importer.rows import RowReader, find_planned


class TaskPlanner:
    def __init__(
        self, plan: ImportPlan, report: ImportReport, read: RowReader, seen: set[uuid.UUID]
    ) -> None:
        self._plan = plan
        self._report = report
        self._read = read
        self._seen = seen
        self._by_raw: dict[str, Row] = {}  # raw v1 id -> row
        self._by_id: dict[uuid.UUID, Row] = {}

    def add(self, raw: dict[str, Any], project: Row | None) -> None:
        """Plan one v1 task of ``project`` (None: its project does not exist)."""
        task_id = self._read.row_id("tasks", raw, self._seen)
        if task_id is None:
            return
        key = str(task_id)
        if project is None:
            # A task belongs to exactly one project; there is none to give it.
            self._report.add(
                "tasks",
                key,
                Action.SKIPPED,
                f"project {raw.get('project_id')!r} does not exist: not imported",
                name=as_text(raw.get("name")),
            )
            return
        created = self._read.timestamp("tasks", key, raw, "created_at", self._read.now)
        row: Row = {
            "id": task_id,
            "project_id": project["id"],
            "name": self._name(key, raw),
            "description": self._read.optional_text("tasks", key, raw, "description"),
            "status": self._status(key, raw),
            "created_at": created,
            "updated_at": self._read.timestamp("tasks", key, raw, "updated_at", created),
            "deleted_at": self._read.optional_timestamp("tasks", key, raw, "deleted_at"),
        }
        self._by_raw[str(raw.get("id"))] = row
        self._by_id[task_id] = row
        self._plan.tasks.append(row)
        self._report.counts["tasks"].planned += 1

    def binding(
        self,
        session_key: str,
        raw_task: object,
        project_id: uuid.UUID | None,
        context: dict[str, Any],
    ) -> uuid.UUID | None:
        """The session's task when it is a live task of the session's own project."""
        if raw_task is None or raw_task == "":
            return None
        task = find_planned(raw_task, "tasks", self._by_raw, self._by_id)
        if task is not None and task["deleted_at"] is None and task["project_id"] == project_id:
            return uuid.UUID(str(task["id"]))
        if task is None:
            problem = "does not exist (or was not imported)"
        elif task["deleted_at"] is not None:
            problem = "was deleted"
        else:
            problem = "belongs to another project"
        context["v1_task_id"] = str(raw_task)
        self._report.add(
            "sessions",
            session_key,
            Action.REPAIRED,
            f"task {raw_task} {problem}: imported without a task",
            v1_task_id=str(raw_task),
        )
        return None

    def _name(self, key: str, raw: dict[str, Any]) -> str:
        name = self._read.required_text("tasks", key, raw, "name", UNTITLED_TASK).strip()
        if len(name) <= TASK_NAME_MAX_LENGTH:
            return name
        self._report.add(
            "tasks",
            key,
            Action.REPAIRED,
            f"name is {len(name)} characters: cut to {TASK_NAME_MAX_LENGTH}",
            name=name,
        )
        return name[:TASK_NAME_MAX_LENGTH].rstrip()

    def _status(self, key: str, raw: dict[str, Any]) -> TaskStatus:
        value = as_text(raw.get("status")) or ""
        status = TASK_STATUSES.get(value.strip().lower())
        if status is None:
            self._report.add(
                "tasks",
                key,
                Action.MAPPED,
                f"unknown status {value!r}: imported as 'open'",
                status=value,
            )
            return TaskStatus.OPEN
        if status.value != value:
            self._report.mapped("tasks", "status", value, status.value, key)
        return status
