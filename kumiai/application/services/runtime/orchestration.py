"""Tools that let agents work together: a PM delegates, specialists report back.

The names are the ones the KumiAI web client renders. Every tool answers with text
for the model; refusals (wrong project, not on the team, ...) are ``is_error``
outcomes the model can read and recover from, never exceptions.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from kumiai.application.dtos.tasks import TaskView
from kumiai.application.ports.agent_runtime import ToolOutcome, ToolSpec
from kumiai.application.ports.tools import ToolContext
from kumiai.core.exceptions import KumiAIError
from kumiai.domain.value_objects import TaskStatus

LIST_TEAM = "mcp__pm_management__list_team_members"
SPAWN = "mcp__pm_management__spawn_instance"
CONTACT_INSTANCE = "mcp__pm_management__contact_instance"
CREATE_TASK = "mcp__pm_management__create_task"
LIST_TASKS = "mcp__pm_management__list_tasks"
UPDATE_TASK_STATUS = "mcp__pm_management__update_task_status"
CONTACT_PM = "mcp__common_tools__contact_pm"
SESSION_INFO = "mcp__common_tools__get_session_info"
SHOW_FILE = "mcp__common_tools__show_file"
LOAD_SKILL = "mcp__common_tools__load_skill"
NOTIFY_USER = "mcp__common_tools__notify_user"
PRIORITIES = ("low", "normal", "high")


class Delegation(Protocol):
    """What the orchestration tools need from the rest of the application. ``caller``
    is the calling tool's context: its session, folder, and the chain of its turn."""

    async def team_of(self, caller: ToolContext) -> list[dict[str, Any]]: ...
    async def spawn(
        self, caller: ToolContext, agent_ref: str, task: str, task_id: UUID | None = None
    ) -> dict[str, Any]: ...
    async def create_task(
        self, caller: ToolContext, name: str, description: str | None
    ) -> TaskView: ...
    async def list_tasks(self, caller: ToolContext) -> list[TaskView]: ...
    async def update_task_status(
        self, caller: ToolContext, task_id: UUID, status: TaskStatus
    ) -> tuple[TaskStatus, TaskView]: ...
    async def contact(self, caller: ToolContext, target_id: UUID, message: str) -> None: ...
    async def contact_pm(self, caller: ToolContext, message: str) -> UUID: ...
    async def info(self, caller: ToolContext) -> dict[str, Any]: ...
    async def show_file(self, caller: ToolContext, path: str) -> str: ...
    async def load_skill(self, slug: str) -> str: ...
    async def notify(
        self, caller: ToolContext, title: str, message: str, priority: str
    ) -> None: ...


Handler = Callable[[dict[str, Any], ToolContext], Awaitable[str]]


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


_TEXT = {"type": "string"}


@dataclass(frozen=True)
class OrchestrationTool:
    """A tool whose work is one call on :class:`Delegation`."""

    spec: ToolSpec
    handler: Handler

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutcome:
        try:
            return ToolOutcome(content=await self.handler(arguments, context))
        except KumiAIError as error:
            return ToolOutcome(content=error.message, is_error=True)
        except (KeyError, TypeError, ValueError) as error:
            return ToolOutcome(
                content=f"invalid arguments for {self.spec.name}: {error}", is_error=True
            )


def _text(arguments: dict[str, Any], *names: str) -> str:
    for name in names:
        value = arguments.get(name)
        if isinstance(value, str) and value.strip():
            return value
    raise ValueError(f"'{names[0]}' is required")


def _uuid(arguments: dict[str, Any], name: str) -> UUID:
    return UUID(_text(arguments, name))


def _optional_uuid(arguments: dict[str, Any], name: str) -> UUID | None:
    """An id the model may leave out or send empty (the original's "no task")."""
    value = arguments.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return UUID(str(value).strip())
    except ValueError:
        raise ValueError(f"'{name}' must be a task id from list_tasks, not {value!r}") from None


def _task(task: TaskView) -> dict[str, Any]:
    return {
        "task_id": str(task.id),
        "name": task.name,
        "description": task.description,
        "status": task.status.value,
    }


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def orchestration_tools(delegation: Delegation, session_type: str) -> list[OrchestrationTool]:
    """The orchestration tools a session of ``session_type`` may call."""

    async def list_team(_: dict[str, Any], ctx: ToolContext) -> str:
        return _json(await delegation.team_of(ctx))

    async def spawn(args: dict[str, Any], ctx: ToolContext) -> str:
        task = _text(args, "task_description", "task")
        task_id = _optional_uuid(args, "task_id")
        return _json(await delegation.spawn(ctx, _text(args, "agent_id"), task, task_id))

    async def create_task(args: dict[str, Any], ctx: ToolContext) -> str:
        description = args.get("description")
        if not isinstance(description, str) or not description.strip():
            description = None
        created = await delegation.create_task(ctx, _text(args, "name"), description)
        hint = f"Bind specialists to it: spawn_instance with task_id {created.id}."
        return _json({**_task(created), "hint": hint})

    async def list_tasks(_: dict[str, Any], ctx: ToolContext) -> str:
        tasks = await delegation.list_tasks(ctx)
        by_status: dict[str, list[dict[str, Any]]] = {status.value: [] for status in TaskStatus}
        for task in tasks:
            by_status[task.status.value].append(_task(task))
        listing: dict[str, Any] = {"total": len(tasks), "by_status": by_status}
        if not tasks:
            listing["hint"] = "This project has no tasks yet; create_task adds one."
        return _json(listing)

    async def update_task_status(args: dict[str, Any], ctx: ToolContext) -> str:
        task_id = _uuid(args, "task_id")
        status = TaskStatus.parse(_text(args, "new_status").strip(), "new_status")
        before, after = await delegation.update_task_status(ctx, task_id, status)
        return _json({**_task(after), "old_status": before.value, "new_status": after.status.value})

    async def contact(args: dict[str, Any], ctx: ToolContext) -> str:
        target = _uuid(args, "target_instance_id")
        await delegation.contact(ctx, target, _text(args, "message"))
        return f"Message delivered to session {target}."

    async def contact_pm(args: dict[str, Any], ctx: ToolContext) -> str:
        pm = await delegation.contact_pm(ctx, _text(args, "message"))
        return f"Message delivered to the project manager (session {pm})."

    async def info(_: dict[str, Any], ctx: ToolContext) -> str:
        return _json(await delegation.info(ctx))

    async def show(args: dict[str, Any], ctx: ToolContext) -> str:
        return await delegation.show_file(ctx, _text(args, "file_path", "path"))

    async def load_skill(args: dict[str, Any], _: ToolContext) -> str:
        return await delegation.load_skill(_text(args, "skill_id"))

    async def notify(args: dict[str, Any], ctx: ToolContext) -> str:
        priority = args.get("priority") or "normal"
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}")
        title, message = _text(args, "title"), _text(args, "message")
        await delegation.notify(ctx, title, message, priority)
        return "The user was notified."

    common = [
        OrchestrationTool(
            ToolSpec(
                SESSION_INFO,
                "Describe this session: id, type, project, status, folder.",
                _schema({}, []),
            ),
            info,
        ),
        OrchestrationTool(
            ToolSpec(
                SHOW_FILE,
                "Show a file from the working directory to the user.",
                _schema({"file_path": _TEXT}, ["file_path"]),
            ),
            show,
        ),
        OrchestrationTool(
            ToolSpec(
                LOAD_SKILL,
                "Read the full instructions (SKILL.md) of a skill by its id.",
                _schema({"skill_id": _TEXT}, ["skill_id"]),
            ),
            load_skill,
        ),
        OrchestrationTool(
            ToolSpec(
                NOTIFY_USER,
                "Show the user a desktop notification (use sparingly: finished work, "
                "a decision you need, a blocking problem).",
                _schema(
                    {
                        "title": _TEXT,
                        "message": _TEXT,
                        "priority": {"type": "string", "enum": list(PRIORITIES)},
                    },
                    ["title", "message"],
                ),
            ),
            notify,
        ),
    ]
    contact_tool = OrchestrationTool(
        ToolSpec(
            CONTACT_INSTANCE,
            "Send a message to another session of this project.",
            _schema(
                {"target_instance_id": _TEXT, "message": _TEXT}, ["target_instance_id", "message"]
            ),
        ),
        contact,
    )
    if session_type == "pm":
        return [
            *common,
            OrchestrationTool(
                ToolSpec(LIST_TEAM, "List the members of this project's team.", _schema({}, [])),
                list_team,
            ),
            OrchestrationTool(
                ToolSpec(
                    SPAWN,
                    "Start a specialist from the team on a piece of work. Returns its "
                    "session id. Give task_id (from create_task or list_tasks) to file the "
                    "session under that task of this project; leave it out for none.",
                    _schema(
                        {"agent_id": _TEXT, "task_description": _TEXT, "task_id": _TEXT},
                        ["agent_id", "task_description"],
                    ),
                ),
                spawn,
            ),
            contact_tool,
            OrchestrationTool(
                ToolSpec(
                    CREATE_TASK,
                    "Add a task to this project's board (it starts open). Returns its "
                    "task_id, which spawn_instance takes to bind specialists to it.",
                    _schema({"name": _TEXT, "description": _TEXT}, ["name"]),
                ),
                create_task,
            ),
            OrchestrationTool(
                ToolSpec(
                    LIST_TASKS,
                    "List this project's tasks, grouped by status "
                    "(open, in_progress, done, archived).",
                    _schema({}, []),
                ),
                list_tasks,
            ),
            OrchestrationTool(
                ToolSpec(
                    UPDATE_TASK_STATUS,
                    "Move one of this project's tasks to another status: open, "
                    "in_progress, done or archived.",
                    _schema(
                        {
                            "task_id": _TEXT,
                            "new_status": {
                                "type": "string",
                                "description": "open, in_progress, done or archived",
                            },
                        },
                        ["task_id", "new_status"],
                    ),
                ),
                update_task_status,
            ),
        ]
    if session_type == "specialist":
        return [
            *common,
            OrchestrationTool(
                ToolSpec(
                    CONTACT_PM,
                    "Send a message to this project's manager.",
                    _schema({"message": _TEXT}, ["message"]),
                ),
                contact_pm,
            ),
            contact_tool,
        ]
    return common
