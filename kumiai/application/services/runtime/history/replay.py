"""Replay: a session's stored rows as the ``messages`` the Messages API accepts.

The API is strict: every ``tool_use`` must be answered by a ``tool_result`` in the very
next user message, text blocks may not be empty, and the conversation starts with the
user. Persisted rows don't always look like that: a message queued during a tool call
has a sequence between the call and its result, an imported or crashed session may
hold a call that was never answered, and older data may start with an assistant
greeting. This module repairs all of that while keeping every persisted word.

Calls the API ran itself (web search, web fetch) are replayed as the assistant's own
text: their original blocks are not kept, and a ``tool_use`` for a tool the request
does not define would be refused.

A turn that ended early (a user's stop, a crash, an error) has its last row marked
``metadata["interrupted"]``; replay follows that row with an assistant text saying so
(:func:`interruption_marker`), so the model never reads the interrupted request and the
next one as a single user turn. The marker is made from the stored row alone, so the
history's prefix stays the same from request to request (prompt caching).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kumiai.domain.entities import Message
from kumiai.domain.value_objects import MessageRole

Block = dict[str, Any]
ApiMessage = dict[str, Any]

DELIVERED_AFTER = "delivered_after"
SERVER_TOOL = "server_tool"
"""Metadata flag of a tool call the API ran itself (web search, web fetch)."""
OPENING_PLACEHOLDER = "(conversation continues)"
UNANSWERED_RESULT = "Tool call was not completed."
INTERRUPTED = "interrupted"
"""Metadata of the last row of a turn that ended early: ``{"by": ..., "reason": ...}``."""
INTERRUPTED_BY_USER = "user"
INTERRUPTED_BY_SERVER = "server"
INTERRUPTED_BY_ERROR = "error"
USER_INTERRUPT_MARKER = "[Request interrupted by user]"
"""Claude Code's words for a turn the user stopped."""
SERVER_INTERRUPT_MARKER = "[Reply interrupted: the server stopped before this reply was finished]"


def replay_order(messages: Sequence[Message]) -> list[Message]:
    """Rows in the order the model experienced them.

    A message that waited in the queue reached the model when its turn started, not
    when it was sent; ``metadata["delivered_after"]`` records that point.
    """

    def key(message: Message) -> tuple[float, int]:
        delivered = message.metadata.get(DELIVERED_AFTER)
        position = float(delivered) + 0.5 if isinstance(delivered, int) else float(message.sequence)
        return position, message.sequence

    return sorted(messages, key=key)


def attributed_text(message: Message) -> str:
    """User text as the model sees it: messages from other agents say who sent them."""
    if message.sender_session_id is None and not message.sender_name:
        return message.content
    sender = message.sender_name or "another agent"
    origin = f" (session {message.sender_session_id})" if message.sender_session_id else ""
    return f"[Message from {sender}{origin}]\n{message.content}"


@dataclass
class ReplayBuilder:
    turns: list[tuple[str, list[Block]]] = field(default_factory=list)
    pending: dict[str, None] = field(default_factory=dict)
    deferred: list[Block] = field(default_factory=list)
    server_calls: dict[str, str] = field(default_factory=dict)

    def add(self, role: str, block: Block) -> None:
        if self.turns and self.turns[-1][0] == role:
            self.turns[-1][1].append(block)
        else:
            self.turns.append((role, [block]))

    def answer(self, tool_use_id: str, content: str, is_error: bool) -> None:
        self.pending.pop(tool_use_id, None)
        block = {"type": "tool_result", "tool_use_id": tool_use_id, "is_error": is_error}
        block["content"] = content or ("(error)" if is_error else "(no output)")
        self.add("user", block)
        if not self.pending:
            self._flush_deferred()

    def close_pending(self) -> None:
        for tool_use_id in list(self.pending):
            self.answer(tool_use_id, UNANSWERED_RESULT, True)
        self._flush_deferred()

    def _flush_deferred(self) -> None:
        for block in self.deferred:
            self.add("user", block)
        self.deferred.clear()


def to_api_messages(messages: Sequence[Message]) -> list[ApiMessage]:
    """The Anthropic ``messages`` list for the given rows (all of one session)."""
    builder = ReplayBuilder()
    for message in replay_order(messages):
        add_row(builder, message)
    builder.close_pending()
    return _finalise(builder.turns)


def add_row(builder: ReplayBuilder, message: Message) -> None:
    if message.role == MessageRole.USER:
        _add_user_text(builder, attributed_text(message))
    elif message.is_tool_use and message.metadata.get(SERVER_TOOL) is True:
        _add_server_call(builder, message)
    elif message.is_tool_result and message.tool_use_id in builder.server_calls:
        _add_server_result(builder, message)
    elif message.role == MessageRole.ASSISTANT and message.is_tool_use:
        _add_tool_use(builder, message)
    elif message.role == MessageRole.ASSISTANT and message.content.strip():
        builder.close_pending()
        builder.add("assistant", {"type": "text", "text": message.content})
    elif message.role == MessageRole.TOOL_RESULT and message.tool_use_id in builder.pending:
        builder.answer(message.tool_use_id, message.content, message.is_error)
    # System rows are display-only, and a result whose call is unknown cannot be replayed.
    marker = interruption_marker(message)
    if marker is not None:
        builder.close_pending()
        builder.add("assistant", {"type": "text", "text": marker})


def interruption_marker(message: Message) -> str | None:
    """What the model reads after the last row of a turn that ended early, if it did."""
    mark = message.metadata.get(INTERRUPTED)
    if not isinstance(mark, dict):
        return None
    if mark.get("by") == INTERRUPTED_BY_USER:
        return USER_INTERRUPT_MARKER
    if mark.get("by") == INTERRUPTED_BY_SERVER:
        return SERVER_INTERRUPT_MARKER
    reason = str(mark.get("reason") or "unknown error")
    return f"[Reply interrupted by an error: {reason}]"


def _add_user_text(builder: ReplayBuilder, text: str) -> None:
    if not text.strip():
        return
    block = {"type": "text", "text": text}
    if builder.pending:
        builder.deferred.append(block)
    else:
        builder.add("user", block)


def _add_tool_use(builder: ReplayBuilder, message: Message) -> None:
    tool_use_id = message.tool_use_id or ""
    if builder.pending and builder.turns and builder.turns[-1][0] != "assistant":
        builder.close_pending()
    builder.add(
        "assistant",
        {
            "type": "tool_use",
            "id": tool_use_id,
            "name": message.tool_name or "unknown",
            "input": message.tool_input or {},
        },
    )
    builder.pending[tool_use_id] = None


def _add_server_call(builder: ReplayBuilder, message: Message) -> None:
    name = message.tool_name or "server tool"
    builder.server_calls[message.tool_use_id or ""] = name
    builder.close_pending()
    arguments = json.dumps(message.tool_input or {}, ensure_ascii=False)
    builder.add("assistant", {"type": "text", "text": f"[{name} {arguments}]"})


def _add_server_result(builder: ReplayBuilder, message: Message) -> None:
    name = builder.server_calls[message.tool_use_id or ""]
    heading = f"[{name} failed]" if message.is_error else f"[{name} result]"
    text = f"{heading}\n{message.content}" if message.content.strip() else heading
    builder.add("assistant", {"type": "text", "text": text})


def _finalise(turns: list[tuple[str, list[Block]]]) -> list[ApiMessage]:
    result: list[ApiMessage] = []
    call_order: dict[str, int] = {}
    for role, blocks in turns:
        result.append({"role": role, "content": _results_first(blocks, call_order)})
        call_order = {
            block["id"]: index for index, block in enumerate(blocks) if block["type"] == "tool_use"
        }
    if result and result[0]["role"] != "user":
        result.insert(0, _user_text(OPENING_PLACEHOLDER))
    return result


def _results_first(blocks: list[Block], call_order: dict[str, int] | None = None) -> list[Block]:
    """Tool results first (the API requires it), in the order the calls were made."""
    order = call_order or {}

    def key(block: Block) -> tuple[bool, int]:
        if block["type"] != "tool_result":
            return True, 0
        return False, order.get(block["tool_use_id"], len(order))

    return sorted(blocks, key=key)


def _user_text(text: str) -> ApiMessage:
    return {"role": "user", "content": [{"type": "text", "text": text}]}
