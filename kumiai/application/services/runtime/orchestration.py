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

from kumiai.application.ports.agent_runtime import ToolOutcome, ToolSpec
from kumiai.application.ports.tools import ToolContext
from kumiai.core.exceptions import KumiAIError

LIST_TEAM = "mcp__pm_management__list_team_members"
SPAWN = "mcp__pm_management__spawn_instance"
CONTACT_INSTANCE = "mcp__pm_management__contact_instance"
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
    async def spawn(self, caller: ToolContext, agent_ref: str, task: str) -> dict[str, Any]: ...
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


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def orchestration_tools(delegation: Delegation, session_type: str) -> list[OrchestrationTool]:
    """The orchestration tools a session of ``session_type`` may call."""

    async def list_team(_: dict[str, Any], ctx: ToolContext) -> str:
        return _json(await delegation.team_of(ctx))

    async def spawn(args: dict[str, Any], ctx: ToolContext) -> str:
        task = _text(args, "task_description", "task")
        return _json(await delegation.spawn(ctx, _text(args, "agent_id"), task))

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
                    "Start a specialist from the team on a task. Returns its session id.",
                    _schema(
                        {"agent_id": _TEXT, "task_description": _TEXT},
                        ["agent_id", "task_description"],
                    ),
                ),
                spawn,
            ),
            contact_tool,
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
