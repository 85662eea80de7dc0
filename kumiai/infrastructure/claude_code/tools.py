"""Which tools Claude Code may use in a turn, and the guard in front of every call.

Claude Code runs its own file tools (same names and input shapes as KumiAI's). They
are confined to the session's folder by a ``PreToolUse`` hook that answers for every
call, so no permission prompt is ever needed (and none is bypassed). KumiAI's own tools
(orchestration, ``mcp__<server>__<tool>``) are served as in-process SDK MCP servers
whose handlers call the turn's :class:`ToolExecutor`, so they behave exactly as on the
API runtime.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from claude_agent_sdk import (
    CanUseTool,
    HookContext,
    HookJSONOutput,
    HookMatcher,
    McpServerConfig,
    PermissionResultAllow,
    PermissionResultDeny,
    SdkMcpTool,
    ToolPermissionContext,
    create_sdk_mcp_server,
)
from claude_agent_sdk.types import HookInput

from kumiai.application.ports.agent_runtime import ToolCall, ToolExecutor, ToolSpec, Workspace
from kumiai.core.exceptions import PathNotAllowedError
from kumiai.core.logging import get_logger
from kumiai.domain.value_objects.questions import ASK_USER_QUESTION
from kumiai.infrastructure.filesystem.paths import confine

logger = get_logger(__name__)

MCP_PREFIX = "mcp__"
NATIVE_TOOLS = ("WebSearch", "WebFetch")
"""Claude Code's own tools that KumiAI's API runtime has no counterpart for."""

PATH_ARGUMENTS = {
    "Read": ("file_path",),
    "Write": ("file_path",),
    "Edit": ("file_path",),
    "MultiEdit": ("file_path",),
    "NotebookEdit": ("notebook_path",),
    "Glob": ("path",),
    "Grep": ("path",),
}
BASH = "Bash"
TOOL_USE_PERSIST_TIMEOUT = 10.0
"""How long a tool waits for its call to be persisted before running anyway."""


def builtin_tools(specs: list[ToolSpec], workspace: Workspace) -> list[str]:
    """Claude Code's built-in tools for this turn: the file tools the request offers
    (already filtered by the character's allowlist), plus web search and fetch."""
    allowed = set(workspace.allowed_tools)
    names = [spec.name for spec in specs if not spec.name.startswith(MCP_PREFIX)]
    names += [name for name in NATIVE_TOOLS if not allowed or name in allowed]
    if not workspace.bash_enabled:
        names = [name for name in names if name != BASH]
    return names


def kumiai_servers(
    specs: list[ToolSpec], executor: ToolExecutor, calls: ToolCalls
) -> dict[str, McpServerConfig]:
    """KumiAI's ``mcp__<server>__<tool>`` tools as in-process MCP servers of the same names."""
    grouped: dict[str, list[SdkMcpTool[Any]]] = defaultdict(list)
    for spec in specs:
        parts = spec.name.split("__", 2)
        if len(parts) == 3 and spec.name.startswith(MCP_PREFIX):
            grouped[parts[1]].append(_bridged(spec, parts[2], executor, calls))
    return {name: create_sdk_mcp_server(name, tools=tools) for name, tools in grouped.items()}


def _bridged(
    spec: ToolSpec, short_name: str, executor: ToolExecutor, calls: ToolCalls
) -> SdkMcpTool[Any]:
    async def handler(arguments: dict[str, Any]) -> dict[str, Any]:
        call = calls.take(spec.name, arguments)
        outcome = await executor.execute(call)
        return {
            "content": [{"type": "text", "text": outcome.content or "(no output)"}],
            "is_error": outcome.is_error,
        }

    return SdkMcpTool(short_name, spec.description, spec.input_schema, handler)


class ToolCalls:
    """Tool calls seen in the stream, so a tool runs only after its call is persisted,
    and an MCP handler (which gets no call id) can tell which call it is serving."""

    def __init__(self) -> None:
        self._persisted: dict[str, asyncio.Event] = {}
        self._calls: dict[str, ToolCall] = {}
        self._served: set[str] = set()

    def persisted(self, call: ToolCall) -> None:
        self._calls[call.id] = call
        self._event(call.id).set()

    async def wait_persisted(self, tool_use_id: str) -> None:
        # asyncio.timeout, not wait_for, which on Python 3.11 can swallow a cancel that
        # comes as the wait ends (a user's stop of the turn).
        try:
            async with asyncio.timeout(TOOL_USE_PERSIST_TIMEOUT):
                await self._event(tool_use_id).wait()
        except TimeoutError:
            logger.warning("claude_code_tool_use_not_seen", tool_use_id=tool_use_id)

    def take(self, name: str, arguments: dict[str, Any]) -> ToolCall:
        for call in self._calls.values():
            if call.id not in self._served and call.name == name and call.input == arguments:
                self._served.add(call.id)
                return call
        return ToolCall("", name, arguments)

    def _event(self, tool_use_id: str) -> asyncio.Event:
        return self._persisted.setdefault(tool_use_id, asyncio.Event())


def guard_hooks(workspace: Workspace, calls: ToolCalls) -> dict[str, list[HookMatcher]]:
    """A ``PreToolUse`` hook deciding every call: confined paths, Bash per the profile.

    ``AskUserQuestion`` is left undecided: it goes on to the permission callback
    (:func:`permission_callback`), which waits for the user's answers."""

    async def decide(
        hook_input: HookInput, tool_use_id: str | None, _: HookContext
    ) -> HookJSONOutput:
        name = str(hook_input.get("tool_name", ""))
        arguments = hook_input.get("tool_input") or {}
        refusal = refusal_for(name, arguments if isinstance(arguments, dict) else {}, workspace)
        if refusal is None and tool_use_id:
            await calls.wait_persisted(tool_use_id)
        if name == ASK_USER_QUESTION:
            return {}
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny" if refusal else "allow",
                "permissionDecisionReason": refusal or "allowed by KumiAI",
            }
        }

    return {"PreToolUse": [HookMatcher(matcher=None, hooks=[decide])]}


def permission_callback(executor: ToolExecutor) -> CanUseTool:
    """Claude Code asks this callback about ``AskUserQuestion`` (every other call is
    decided by the hook). The turn's own tool asks the user and waits, so the CLI
    waits too, with no model request; the answers go back in the call's input, and
    Claude Code words the result itself. A bad input or a cancelled wait is a denial
    the model reads as the tool's error."""

    async def can_use_tool(
        name: str, arguments: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResultAllow | PermissionResultDeny:
        if name != ASK_USER_QUESTION:
            return PermissionResultAllow()
        outcome = await executor.execute(ToolCall(context.tool_use_id or "", name, arguments))
        answers = outcome.data.get("answers") if outcome.data else None
        if outcome.is_error or not isinstance(answers, dict):
            return PermissionResultDeny(message=outcome.content)
        return PermissionResultAllow(updated_input={**arguments, "answers": answers})

    return can_use_tool


def refusal_for(name: str, arguments: Mapping[str, Any], workspace: Workspace) -> str | None:
    """Why KumiAI refuses this call, or None when it may run."""
    if name == BASH and not workspace.bash_enabled:
        return "Bash is disabled in the user's profile."
    for argument in PATH_ARGUMENTS.get(name, ()):
        value = arguments.get(argument)
        if isinstance(value, str) and value:
            try:
                confine(Path(workspace.working_dir), value, allow_absolute=True)
            except PathNotAllowedError as error:
                return error.message
    return None
