"""The Session entity: a running agent instance and its status state machine."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from kumiai.core.exceptions import InvalidTransitionError, ValidationError
from kumiai.domain.entities._rules import SoftDeletable
from kumiai.domain.value_objects.cli_backend import CliBackend
from kumiai.domain.value_objects.kanban_stage import KanbanStage
from kumiai.domain.value_objects.session_status import SessionStatus
from kumiai.domain.value_objects.session_type import SessionType

_S = SessionStatus

# Business methods that reach a status the table also allows from other sources narrow the
# sources, so each method keeps its meaning (e.g. ``resume()`` is the only way out of an end).
_START_FROM = frozenset({_S.IDLE, _S.WAITING})
_RUNNING = frozenset(status for status in _S if status.is_running)
_TERMINAL = frozenset(status for status in _S if status.is_terminal)
_UNKNOWN_FAILURE = "unknown error"


@dataclass(eq=False, kw_only=True)
class Session(SoftDeletable):
    """A running agent instance.

    ``status`` changes only through the business methods, which all go through the
    transition table in :mod:`kumiai.domain.value_objects.session_status`.
    """

    character_id: UUID | None = None
    project_id: UUID | None = None
    # Set at creation only; deleting the task clears it (a bulk update of the repository).
    task_id: UUID | None = None
    session_type: SessionType
    # The agent CLI that runs it: its character's, copied when the session is created.
    cli_backend: CliBackend = CliBackend.CLAUDE
    status: SessionStatus = SessionStatus.INITIALIZING
    claude_session_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    error_message: str | None = None
    next_sequence: int = 0
    started_at: datetime | None = None
    # The last turn started: the input it answers (its transcript row's id) and its run.
    # It is the running turn while ``status.is_running``.
    turn_input_id: UUID | None = None
    turn_run_id: UUID | None = None
    # The runtime (or ``server``) whose slot its next turn waits for, set by the process
    # that runs its turns while it waits, so that every process can say so.
    waiting_slot: str | None = None

    @classmethod
    def create(
        cls,
        session_type: SessionType,
        character_id: UUID | None = None,
        project_id: UUID | None = None,
        context: Mapping[str, Any] | None = None,
        task_id: UUID | None = None,
        *,
        cli_backend: CliBackend = CliBackend.CLAUDE,
    ) -> Session:
        """A new session in ``initializing``.

        PM and specialist sessions need a project and a character; only the assistant
        kinds may run without a character. A session bound to a task needs a project
        (the application checks that the task is one of that project's). ``cli_backend``
        is the character's, which the session keeps.
        """
        if session_type.needs_project and project_id is None:
            raise ValidationError(
                f"a {session_type} session needs a project",
                details={"field": "project_id", "session_type": str(session_type)},
            )
        if session_type.needs_character and character_id is None:
            raise ValidationError(
                f"a {session_type} session needs a character",
                details={"field": "character_id", "session_type": str(session_type)},
            )
        if task_id is not None and project_id is None:
            raise ValidationError(
                "a session bound to a task needs the task's project",
                details={"field": "task_id", "task_id": str(task_id)},
            )
        return cls(
            session_type=session_type,
            character_id=character_id,
            project_id=project_id,
            task_id=task_id,
            cli_backend=cli_backend,
            context=dict(context or {}),
        )

    # --- status business methods -------------------------------------------------------

    def mark_ready(self) -> None:
        """The agent is set up: initializing -> idle."""
        self._move_to(_S.IDLE, only_from={_S.INITIALIZING})

    def start(self, now: datetime | None = None) -> None:
        """A turn begins (a user message or a delegate's reply): idle/waiting -> thinking.

        ``now`` becomes ``started_at`` on the first start; later starts keep it.
        """
        self._move_to(_S.THINKING, only_from=_START_FROM)
        if self.started_at is None:
            self.started_at = now

    def begin_tool(self) -> None:
        """The agent calls a tool: thinking -> working."""
        self._move_to(_S.WORKING, only_from={_S.THINKING})

    def end_tool(self) -> None:
        """The tool returned and the agent continues: working -> thinking."""
        self._move_to(_S.THINKING, only_from={_S.WORKING})

    def wait(self) -> None:
        """The agent waits for the user or a delegate: thinking/working -> waiting."""
        self._move_to(_S.WAITING)

    def finish_turn(self) -> None:
        """The turn is done: thinking/working/waiting -> idle."""
        self._move_to(_S.IDLE, only_from=_RUNNING)

    def complete(self) -> None:
        """The session's work is finished: idle -> completed."""
        self._move_to(_S.COMPLETED)

    def fail(self, reason: str) -> None:
        """The session broke: any live status -> error, keeping ``reason``."""
        self._move_to(_S.ERROR)
        self.error_message = reason.strip() or _UNKNOWN_FAILURE

    def cancel(self) -> None:
        """The user (or a PM removal) stops the session: any live status -> cancelled."""
        self._move_to(_S.CANCELLED)

    def check_cancel(self) -> None:
        """Refuse, as ``cancel`` would, unless the session is live; change nothing."""
        self._check_move(_S.CANCELLED)

    def resume(self) -> None:
        """Reopen an ended session: completed/error/cancelled -> idle."""
        self._move_to(_S.IDLE, only_from=_TERMINAL)
        self.error_message = None

    def reopen(self) -> None:
        """Bring a fresh or ended session to idle (``mark_ready`` or ``resume``).

        An idle or running session is left as it is.
        """
        if self.status == _S.INITIALIZING:
            self.mark_ready()
        elif self.status.is_terminal:
            self.resume()

    def _move_to(
        self, target: SessionStatus, *, only_from: Collection[SessionStatus] | None = None
    ) -> None:
        self._check_move(target, only_from=only_from)
        self.status = target

    def _check_move(
        self, target: SessionStatus, *, only_from: Collection[SessionStatus] | None = None
    ) -> None:
        current = self.status
        allowed = current.can_move_to(target) and (only_from is None or current in only_from)
        if not allowed:
            raise InvalidTransitionError(str(current), str(target), current.allowed_moves())

    # --- context ---------------------------------------------------------------------------

    @property
    def kanban_stage(self) -> KanbanStage | None:
        """The board column, or None when unset or not a known stage (e.g. imported data)."""
        value = self.context.get("kanban_stage")
        if isinstance(value, str) and value in _KANBAN_VALUES:
            return KanbanStage(value)
        return None

    def set_kanban_stage(self, stage: KanbanStage) -> None:
        # A new dict, not an in-place edit, so the ORM sees the JSON column change.
        self.context = {**self.context, "kanban_stage": str(stage)}

    @property
    def description(self) -> str | None:
        """What the session is about: ``description``, else ``task_description``."""
        for key in ("description", "task_description"):
            value = self.context.get(key)
            if isinstance(value, str) and value.strip():
                return value
        return None

    # --- lifecycle -------------------------------------------------------------------------


_KANBAN_VALUES = frozenset(str(stage) for stage in KanbanStage)
