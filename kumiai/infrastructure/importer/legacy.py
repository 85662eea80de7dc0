"""The v1 value conventions and how each legacy value maps to v2.

Everything here is a pure function of one v1 value, so the transform stays a sequence of
lookups and the mapping table in ``docs/MIGRATION_GUIDE.md`` can be checked against it.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kumiai.domain.value_objects.event_type import EventType
from kumiai.domain.value_objects.session_status import SessionStatus
from kumiai.domain.value_objects.session_type import SessionType
from kumiai.domain.value_objects.task_status import TaskStatus

# Ids derived from non-UUID v1 ids are uuid5s in this namespace, so a re-run derives the
# same ids and stays idempotent.
ID_NAMESPACE = uuid.UUID("6b1f3c1e-9d7a-5e0c-8f4b-2a6d0c9e4b71")

STATUSES: dict[str, SessionStatus] = {
    "initializing": SessionStatus.INITIALIZING,
    "idle": SessionStatus.IDLE,
    "error": SessionStatus.ERROR,
    "done": SessionStatus.COMPLETED,
    "interrupted": SessionStatus.CANCELLED,
    # Not written by v1, but unambiguous if a newer v1 build did.
    "completed": SessionStatus.COMPLETED,
    "cancelled": SessionStatus.CANCELLED,
}
# A turn was running when v1 last wrote the row; no run survives a migration.
RUNNING_STATUSES = frozenset({"working", "thinking", "waiting"})
INTERRUPTED_BY_MIGRATION = "interrupted by migration"

SESSION_TYPES: dict[str, SessionType] = {member.value: member for member in SessionType}
TASK_STATUSES: dict[str, TaskStatus] = {member.value: member for member in TaskStatus}
UNTITLED_TASK = "Untitled task"

# The columns of each v1 table the importer reads (2026-01 schema, and what the 2026-03
# one added: tasks, sessions.task_id). A column of a known table that is not listed here
# is reported as not imported; its values stay in export.json. session_files rows are
# carried whole into their session's context, so that table has no such list.
_TIMES = "created_at updated_at deleted_at"
KNOWN_COLUMNS: dict[str, frozenset[str]] = {
    table: frozenset(columns.split())
    for table, columns in {
        "projects": f"id name description pm_agent_id pm_session_id team_member_ids path {_TIMES}",
        "tasks": f"id project_id name description status {_TIMES}",
        "sessions": "id agent_id project_id task_id session_type status cli_backend "
        f"claude_session_id context error_message {_TIMES}",
        "messages": "id session_id role content tool_use_id sequence metadata created_at "
        "agent_id agent_name from_instance_id response_id",
        "activity_logs": "id session_id event_type event_data created_at",
        "user_profiles": "id settings created_at updated_at",
        "alembic_version": "version_num",
    }.items()
}
TEXT_ROLES = frozenset({"user", "assistant", "system"})
TOOL_ROLE = "tool"
TOOL_RESULT_ROLE = "tool_result"

# The importer's own events never stand in for a v1 event: undo looks them up by type.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

_IMPORTABLE_EVENTS = [
    member.value
    for member in EventType
    if member not in {EventType.IMPORT_COMPLETED, EventType.IMPORT_UNDONE}
]


def stable_uuid(raw: object, kind: str) -> uuid.UUID | None:
    """The v1 id as a UUID, or a uuid5 derived from it when it is not one.

    Returns None for a missing id. Upper-case and brace forms normalise to the same UUID.
    """
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    try:
        return uuid.UUID(text)
    except ValueError:
        return uuid.uuid5(ID_NAMESPACE, f"{kind}:{text}")


def is_canonical_uuid(raw: object) -> bool:
    """True when the v1 id is already a lowercase hyphenated UUID (kept as is)."""
    if not isinstance(raw, str):
        return False
    try:
        return str(uuid.UUID(raw)) == raw
    except ValueError:
        return False


def derived_uuid(*parts: object) -> uuid.UUID:
    """A deterministic new id for a row the importer has to re-key."""
    return uuid.uuid5(ID_NAMESPACE, ":".join(str(part) for part in parts))


def parse_timestamp(raw: object) -> datetime | None:
    """A v1 datetime as an aware UTC datetime; None when missing or unreadable.

    v1 writes naive UTC text; ISO text with an offset and Unix epoch numbers are accepted
    too, because hand-edited databases contain them.
    """
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return _from_epoch(float(raw))
    text = str(raw).strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return _from_epoch_text(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _from_epoch_text(text: str) -> datetime | None:
    try:
        return _from_epoch(float(text))
    except ValueError:
        return None


def _from_epoch(seconds: float) -> datetime | None:
    if not math.isfinite(seconds):
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class JsonValue:
    """A parsed v1 JSON column: ``value`` (None for SQL NULL or ``null``) and ``problem``."""

    value: Any
    problem: str | None = None


def _reject_constant(name: str) -> None:
    # NaN and Infinity are accepted by Python's parser but not by PostgreSQL's JSONB.
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: object) -> JsonValue:
    """Parse JSON text from a v1 column; unreadable text is kept as ``{"_raw": text}``."""
    if raw is None:
        return JsonValue(None)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return JsonValue(raw)
    text = str(raw)
    try:
        return JsonValue(json.loads(text, parse_constant=_reject_constant))
    except (ValueError, RecursionError) as error:
        return JsonValue({"_raw": text}, f"malformed JSON ({_first_line(error)})")


def json_object(raw: object) -> JsonValue:
    """A JSON column that must hold an object (metadata, context, event_data, settings).

    Missing values give ``{}``; valid JSON that is not an object is wrapped as
    ``{"_value": ...}`` and reported, so nothing is lost.
    """
    parsed = parse_json(raw)
    if parsed.value is None:
        return JsonValue({}, parsed.problem)
    if isinstance(parsed.value, dict):
        return parsed
    return JsonValue({"_value": parsed.value}, "JSON is not an object")


def clean_text(value: str) -> str:
    """Text PostgreSQL can store: NUL characters and lone surrogates (which JSON's
    ``\\ud800`` escapes produce) become U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", value)


def has_unstorable(value: str) -> bool:
    return _UNSTORABLE.search(value) is not None


def clean_json(value: Any) -> Any:
    """``value`` with :func:`clean_text` applied to every string, keys included."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(key)): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value


def as_text(value: object) -> str | None:
    """A v1 text column as ``str`` (numbers stored in a TEXT column come back as numbers)."""
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def closest_event_type(raw: str) -> EventType:
    """The v2 event type nearest to an unknown v1 one (by spelling; never an import event)."""
    # v1 calls characters "agents"; cutoff 0 always yields a match, so every unknown
    # type lands somewhere.
    wanted = raw.strip().lower().replace("agent", "character")
    match = difflib.get_close_matches(wanted, _IMPORTABLE_EVENTS, n=1, cutoff=0.0)
    return EventType(match[0])


def humanize(identifier: str) -> str:
    """A display name from a folder name: ``data-analyst`` -> ``Data Analyst``."""
    words = identifier.replace("_", " ").replace("-", " ").split()
    return " ".join(word[:1].upper() + word[1:] for word in words) or identifier


def _first_line(error: BaseException) -> str:
    return (str(error).strip() or type(error).__name__).splitlines()[0]
