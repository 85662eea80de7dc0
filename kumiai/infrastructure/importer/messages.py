"""Stage 2, messages: v1 rows of one session become a v2 history that replays to Claude.

Messages are put in v1's display order ``(sequence, created_at, id)`` and renumbered
0..n-1, because v1 gives several rows the sequence 0. A legacy ``tool`` row becomes an
assistant row holding the ``tool_use`` block. A ``tool_result`` must answer an earlier,
unanswered call of the same session; one that does not is kept as a system message so
its text survives while the history stays valid.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kumiai.domain.value_objects.message_role import MessageRole
from kumiai.infrastructure.importer.entries import Action
from kumiai.infrastructure.importer.legacy import (
    TEXT_ROLES,
    TOOL_RESULT_ROLE,
    TOOL_ROLE,
    as_text,
    is_canonical_uuid,
    parse_timestamp,
    stable_uuid,
)
from kumiai.infrastructure.importer.plan import Row
from kumiai.infrastructure.importer.report import ImportReport
from kumiai.infrastructure.importer.rows import RowReader

UNKNOWN_TOOL = "unknown_tool"
_LATEST = datetime.max.replace(tzinfo=UTC)


def message_order_key(raw: dict[str, Any]) -> tuple[int, int, datetime, str]:
    """v1's display order; rows without a usable sequence go last, in time order."""
    sequence = _sequence(raw.get("sequence"))
    created = parse_timestamp(raw.get("created_at")) or _LATEST
    return (0 if sequence is not None else 1, sequence or 0, created, str(raw.get("id")).lower())


def _sequence(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None


def tool_use_id_for(message_id: uuid.UUID) -> str:
    """A stable call id for a v1 tool row that had none."""
    return f"toolu_v1_{message_id.hex}"


@dataclass(slots=True)
class _Calls:
    """Tool calls seen so far in one session, and which of them have a result."""

    made: set[str] = field(default_factory=set)
    answered: set[str] = field(default_factory=set)


class MessagePlanner:
    def __init__(self, report: ImportReport, reader: RowReader) -> None:
        self._report = report
        self._reader = reader
        self._seen: set[uuid.UUID] = set()

    def plan_session(
        self, session: Row, ordered: list[dict[str, Any]]
    ) -> list[tuple[dict[str, Any], Row]]:
        """``ordered`` v1 rows of one session (in display order) as (v1 row, v2 row) pairs;
        a v1 row without an id is reported and left out."""
        calls = _Calls()
        pairs: list[tuple[dict[str, Any], Row]] = []
        for raw in ordered:
            row = self._message(session, raw, len(pairs), calls)
            if row is not None:
                pairs.append((raw, row))
        session["next_sequence"] = len(pairs)
        return pairs

    def _message(
        self, session: Row, raw: dict[str, Any], sequence: int, calls: _Calls
    ) -> Row | None:
        message_id = self._reader.row_id("messages", raw, self._seen)
        if message_id is None:
            return None
        key = str(message_id)
        if _sequence(raw.get("sequence")) is None:
            self._report.add(
                "messages",
                key,
                Action.REPAIRED,
                f"sequence {raw.get('sequence')!r} is not a number: placed after the others",
            )
        metadata = self._reader.json_object("messages", key, "metadata", raw.get("metadata"))
        row: Row = {
            "id": message_id,
            "session_id": session["id"],
            "role": MessageRole.SYSTEM,
            "content": self._content(key, raw),
            "tool_use_id": as_text(raw.get("tool_use_id")) or None,
            "sequence": sequence,
            "metadata": metadata,
            "sender_session_id": None,
            "sender_name": self._reader.optional_text("messages", key, raw, "agent_name"),
            "response_id": as_text(raw.get("response_id")),
            "created_at": self._reader.timestamp(
                "messages", key, raw, "created_at", session["created_at"]
            ),
        }
        self._attribute(row, raw)
        self._map_role(row, as_text(raw.get("role")) or "", calls)
        return row

    def _content(self, key: str, raw: dict[str, Any]) -> str:
        content = as_text(raw.get("content"))
        if content is None:
            self._report.add("messages", key, Action.REPAIRED, "content is NULL: stored as ''")
            return ""
        return self._reader.text("messages", key, "content", content)

    @staticmethod
    def _attribute(row: Row, raw: dict[str, Any]) -> None:
        """v1 names the sending agent and session; v2 keeps the session id and the name."""
        agent_id = raw.get("agent_id")
        if agent_id is not None:
            row["metadata"]["v1_agent_id"] = as_text(agent_id)
        sender = raw.get("from_instance_id")
        row["sender_session_id"] = stable_uuid(sender, "sessions")
        if sender not in (None, "") and not is_canonical_uuid(sender):
            row["metadata"]["v1_from_instance_id"] = as_text(sender)

    def _map_role(self, row: Row, role: str, calls: _Calls) -> None:
        normalised = role.strip().lower()
        if normalised == TOOL_ROLE:
            self._tool_call(row, calls)
        elif normalised == TOOL_RESULT_ROLE:
            self._tool_result(row, calls)
        elif normalised in TEXT_ROLES:
            row["role"] = MessageRole(normalised)
            self._move_stray_tool_use_id(row)
        else:
            row["metadata"]["v1_role"] = role
            self._move_stray_tool_use_id(row)
            self._report.add(
                "messages", row["id"], Action.MAPPED, f"unknown role {role!r}: imported as 'system'"
            )

    def _tool_call(self, row: Row, calls: _Calls) -> None:
        metadata = row["metadata"]
        name = metadata.pop("tool_name", None)
        arguments = metadata.pop("tool_args", None)
        if not isinstance(name, str) or not name.strip():
            self._report.add(
                "messages",
                row["id"],
                Action.REPAIRED,
                f"tool call without a tool name: named {UNKNOWN_TOOL!r}",
                tool_name=name,
            )
            name = UNKNOWN_TOOL
        call_id = row["tool_use_id"] or tool_use_id_for(row["id"])
        if call_id in calls.made:
            self._report.add(
                "messages",
                row["id"],
                Action.REPAIRED,
                f"tool call id {call_id!r} is used twice in the session: given a new id",
            )
            call_id = tool_use_id_for(row["id"])
        calls.made.add(call_id)
        metadata["tool_use"] = {
            "id": call_id,
            "name": name.strip(),
            "input": self._tool_input(row["id"], arguments),
        }
        row["role"] = MessageRole.ASSISTANT
        row["tool_use_id"] = call_id
        self._report.mapped("messages", "role", TOOL_ROLE, "assistant (tool_use)", row["id"])

    def _tool_input(self, message_id: uuid.UUID, arguments: object) -> dict[str, Any]:
        if isinstance(arguments, dict):
            return arguments
        if arguments is None:
            return {}
        self._report.add(
            "messages",
            message_id,
            Action.REPAIRED,
            "tool_args is not an object: wrapped as {'_value': ...}",
        )
        return {"_value": arguments}

    def _tool_result(self, row: Row, calls: _Calls) -> None:
        call_id = row["tool_use_id"]
        if call_id is not None and call_id in calls.made and call_id not in calls.answered:
            calls.answered.add(call_id)
            row["role"] = MessageRole.TOOL_RESULT
            row["metadata"]["is_error"] = row["metadata"].get("is_error") is True
            return
        row["metadata"]["v1_role"] = TOOL_RESULT_ROLE
        self._move_stray_tool_use_id(row)
        self._report.add(
            "messages",
            row["id"],
            Action.REPAIRED,
            "tool result answers no earlier open tool call of its session: kept as a "
            "system message",
            tool_use_id=call_id,
        )

    @staticmethod
    def _move_stray_tool_use_id(row: Row) -> None:
        # In v2 only tool calls and their results carry a tool_use_id.
        if row["tool_use_id"] is not None:
            row["metadata"]["v1_tool_use_id"] = row["tool_use_id"]
            row["tool_use_id"] = None
