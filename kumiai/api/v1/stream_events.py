"""How the runtime's live events become the events of the v1 session stream
(V1_CONTRACT §3.2). Pure: no I/O, so every rule is unit-tested.

One :class:`StreamMapper` serves one open stream, because three v1 rules need memory:

- ``message_complete.has_more_messages`` tells whether a queued message runs next,
  which only the last ``queue_changed`` knows;
- the client wants ``message_complete`` *before* ``session_status{idle}``, while the
  runner settles the status first, so a run's closing status is held back until the
  run's terminal event;
- ``user_message`` names the agent of the session a routed message came from; the
  stream looks that agent up (:meth:`StreamMapper.sender_to_look_up`) and teaches it
  to the mapper (:meth:`StreamMapper.learn_sender`) before mapping the event.

Payloads never carry ``type`` (the client would take it as the event name), and each
carries an ``event_id`` unique across sessions and server restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from kumiai.application.dtos.sessions import AgentRef
from kumiai.application.ports.events import SessionEvent

V1Event = tuple[str, dict[str, Any]]

WORKING, IDLE, ERROR = "working", "idle", "error"
# The client only knows these three; a turn at work shows as working, and one waiting
# for the user's answers as idle (the indicator off, the question form live).
V1_STATUS = {
    "thinking": WORKING,
    "working": WORKING,
    "waiting": IDLE,
    "idle": IDLE,
    "cancelled": IDLE,
    "error": ERROR,
}
DEFAULT_SENDER = "User"
DEFAULT_ERROR = "the agent stopped with an error"


class StreamMapper:
    def __init__(self, agent: AgentRef | None, epoch: str, *, queue_size: int = 0) -> None:
        """``agent``: the session's own agent. ``epoch``: differs between server runs.
        ``queue_size``: messages waiting right now."""
        self._agent = agent
        self._epoch = epoch
        self._queue_size = queue_size
        self._paused = False
        self._senders: dict[str, str | None] = {}
        self._held_status: V1Event | None = None
        self._shown_status: str | None = None
        self._handlers: dict[str, Callable[[SessionEvent], list[V1Event]]] = {
            "message_created": self._user_message,
            "status_changed": self._status,
            "text_done": self._content_block,
            "tool_use": self._tool_use,
            "tool_result": self._tool_complete,
            "queue_changed": self._queue_status,
            "done": self._message_complete,
            "cancelled": self._message_complete,
            "error": self._message_complete,
            "definition_saved": self._auto_save,
            "notification": self._user_notification,
            "retry": self._retry,
            "task_changed": self._task_status,
        }

    def sender_to_look_up(self, event: SessionEvent) -> UUID | None:
        """The session a routed user message came from, when its agent is not known yet."""
        sender = _routed_from(event)
        return UUID(sender) if sender is not None and sender not in self._senders else None

    def learn_sender(self, session_id: UUID, agent: AgentRef | None) -> None:
        self._senders[str(session_id)] = agent.slug if agent else None

    def map(self, event: SessionEvent) -> list[V1Event]:
        """The v1 events for one runtime event, in order; none for the ones v1 ignores."""
        handler = self._handlers.get(event.type)
        return handler(event) if handler else []

    # --- one handler per runtime event type -------------------------------------------

    def _user_message(self, event: SessionEvent) -> list[V1Event]:
        message = event.data.get("message") or {}
        if message.get("role") != "user":
            return []  # assistant rows reach the client as content_block / tool_use
        payload: dict[str, Any] = {
            "message_id": message.get("id"),
            "content": message.get("content"),
        }
        if message.get("created_at"):
            payload["timestamp"] = message["created_at"]
        sender = _routed_from(event)
        # A human's message must carry no agent fields, or the client shows it as an agent's.
        if sender is not None:
            payload |= {
                "agent_id": self._senders.get(sender),
                "agent_name": message.get("sender_name"),
                "from_instance_id": sender,
            }
        return [self._event(event, "user_message", payload)]

    def _status(self, event: SessionEvent) -> list[V1Event]:
        status = V1_STATUS.get(str(event.data.get("status")))
        if status is None:
            return []
        v1 = self._event(event, "session_status", {"status": status})
        if status != WORKING and event.data.get("run_id"):
            self._held_status = v1  # shown after the run's message_complete
            return []
        return self._show_status(v1)

    def _content_block(self, event: SessionEvent) -> list[V1Event]:
        message = event.data.get("message") or {}
        payload = {
            "block_type": "text",
            "content": message.get("content", ""),
            "response_id": event.data.get("run_id"),
            **self._speaker(message),
        }
        return [self._event(event, "content_block", payload)]

    def _tool_use(self, event: SessionEvent) -> list[V1Event]:
        data = event.data
        payload = {
            "tool_use_id": data.get("tool_use_id"),
            "tool_name": data.get("tool_name"),
            "tool_input": data.get("tool_input") or {},
            "response_id": data.get("run_id"),
            **self._speaker(data.get("message") or {}),
        }
        return [self._event(event, "tool_use", payload)]

    def _tool_complete(self, event: SessionEvent) -> list[V1Event]:
        data = event.data
        payload = {
            "tool_use_id": data.get("tool_use_id"),
            # An object here would break the client's handler: always a string.
            "result": str(data.get("content") or ""),
            "is_error": bool(data.get("is_error")),
        }
        return [self._event(event, "tool_complete", payload)]

    def _queue_status(self, event: SessionEvent) -> list[V1Event]:
        waiting = event.data.get("messages") or []
        self._queue_size = int(event.data.get("size", len(waiting)))
        self._paused = bool(event.data.get("paused"))
        return [self._event(event, "queue_status", {"messages": [_queued(m) for m in waiting]})]

    def _auto_save(self, event: SessionEvent) -> list[V1Event]:
        payload = {"auto_save_type": event.data.get("kind"), "item_id": event.data.get("slug")}
        return [self._event(event, "auto_save", payload)]

    def _user_notification(self, event: SessionEvent) -> list[V1Event]:
        fields = ("title", "message", "project_name", "priority")
        payload = {name: event.data[name] for name in fields if event.data.get(name) is not None}
        return [self._event(event, "user_notification", payload)]

    def _retry(self, event: SessionEvent) -> list[V1Event]:
        """The runtime retries a recoverable failure (the 2026-03 client shows nothing)."""
        data = event.data
        payload = {
            "session_id": str(event.session_id),
            "attempt": data.get("attempt"),
            "max_retries": data.get("max_retries"),
            "error_type": data.get("error_type"),
            "corrective_message": data.get("corrective_message"),
        }
        return [self._event(event, "retry", payload)]

    def _task_status(self, event: SessionEvent) -> list[V1Event]:
        """A task's status moved (its session started working on it, a drag on the board,
        the PM's tool): the client refetches the project's tasks."""
        data = event.data
        if data.get("change") != "updated" or "status" not in (data.get("fields") or []):
            return []
        task = data.get("task") or {}
        payload = {
            "task_id": data.get("task_id"),
            "status": task.get("status"),
            "project_id": data.get("project_id"),
        }
        return [self._event(event, "task_status", payload)]

    def _message_complete(self, event: SessionEvent) -> list[V1Event]:
        next_runs = self._queue_size > 0 and not self._paused
        events = [self._event(event, "message_complete", {"has_more_messages": next_runs})]
        if event.type == "error":
            error = str(event.data.get("error") or DEFAULT_ERROR)
            events.append(self._event(event, "error", {"error": error}, part="error"))
        held, self._held_status = self._held_status, None
        return events + (self._show_status(held) if held else [])

    # --- helpers ----------------------------------------------------------------------

    def _show_status(self, v1: V1Event) -> list[V1Event]:
        """Only changes: a tool call moves thinking -> working -> thinking, all 'working'."""
        status = v1[1]["status"]
        if status == self._shown_status:
            return []
        self._shown_status = status
        return [v1]

    def _speaker(self, message: dict[str, Any]) -> dict[str, Any]:
        agent = self._agent
        return {
            "agent_id": agent.slug if agent else None,
            "agent_name": agent.name if agent else message.get("sender_name"),
        }

    def _event(
        self, event: SessionEvent, name: str, payload: dict[str, Any], *, part: str | None = None
    ) -> V1Event:
        event_id = f"{self._epoch}:{event.event_id}" + (f":{part}" if part else "")
        return name, {**payload, "event_id": event_id}


def _routed_from(event: SessionEvent) -> str | None:
    """The sending session of a user message from another session, else None."""
    if event.type != "message_created":
        return None
    message = event.data.get("message") or {}
    sender = message.get("sender_session_id") if message.get("role") == "user" else None
    return str(sender) if sender else None


def _queued(item: dict[str, Any]) -> dict[str, Any]:
    entry = {
        "sender_name": item.get("sender_name") or DEFAULT_SENDER,
        "content_preview": item.get("content_preview", ""),
        "timestamp": item.get("timestamp"),
    }
    if item.get("sender_session_id"):
        entry["sender_session_id"] = item["sender_session_id"]
    return entry
