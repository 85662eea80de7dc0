"""The Task entity: a piece of a project's work that sessions are bound to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities._rules import UNSET, SoftDeletable, Unset, optional_text
from kumiai.domain.value_objects.task_status import TaskStatus

TASK_NAME_MAX_LENGTH = 255


def validate_task_name(value: str) -> str:
    """``value`` stripped; it must be non-empty and at most 255 characters."""
    stripped = value.strip()
    if not stripped:
        raise ValidationError("name must not be empty", details={"field": "name"})
    if len(stripped) > TASK_NAME_MAX_LENGTH:
        raise ValidationError(
            f"name must be at most {TASK_NAME_MAX_LENGTH} characters",
            details={"field": "name"},
        )
    return stripped


@dataclass(eq=False, kw_only=True)
class Task(SoftDeletable):
    """A task of one project. Sessions bound to it work toward it (``Session.task_id``).

    Any status may follow any other; a task never moves to another project.
    """

    id: UUID = field(default_factory=uuid4)
    project_id: UUID
    name: str
    description: str | None = None
    status: TaskStatus = TaskStatus.OPEN
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None

    @classmethod
    def create(cls, *, project_id: UUID, name: str, description: str | None = None) -> Task:
        """A new, validated task in ``open``."""
        return cls(
            project_id=project_id,
            name=validate_task_name(name),
            description=optional_text(description),
        )

    def update(
        self,
        *,
        name: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
        status: TaskStatus | Unset = UNSET,
    ) -> list[str]:
        """Apply the given changes, all or none; ``description=None`` (or blank) clears it.

        Returns the names of the fields whose value changed, in a fixed order.
        """
        changes: dict[str, object] = {}
        if not isinstance(name, Unset):
            changes["name"] = validate_task_name(name)
        if not isinstance(description, Unset):
            changes["description"] = optional_text(description)
        if not isinstance(status, Unset):
            changes["status"] = status
        changed = [key for key, value in changes.items() if getattr(self, key) != value]
        for key in changed:
            setattr(self, key, changes[key])
        return changed

    def start(self) -> bool:
        """Work begins on an ``open`` task: it moves to ``in_progress``.

        Returns whether it moved; a task in any other status is left as it is, since the
        user (or the PM) put it there on purpose.
        """
        if self.status is not TaskStatus.OPEN:
            return False
        self.status = TaskStatus.IN_PROGRESS
        return True
