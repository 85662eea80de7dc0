"""Reading v1 column values into v2 ones, reporting each value that had to change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from kumiai.infrastructure.importer.entries import Action
from kumiai.infrastructure.importer.legacy import (
    as_text,
    clean_json,
    clean_text,
    derived_uuid,
    has_unstorable,
    is_canonical_uuid,
    json_object,
    parse_timestamp,
    stable_uuid,
)
from kumiai.infrastructure.importer.plan import Row
from kumiai.infrastructure.importer.report import ImportReport


class RowReader:
    """Lenient readers for one v1 row's columns; every repair becomes a report entry."""

    def __init__(self, report: ImportReport, now: datetime) -> None:
        self._report = report
        self.now = now

    def row_id(self, table: str, raw: dict[str, Any], seen: set[uuid.UUID]) -> uuid.UUID | None:
        """The row's v2 id: its v1 UUID, or a derived one (reported) when that is unusable.

        Returns None (and reports the row as skipped) when the row has no id at all.
        """
        original = raw.get("id")
        row_id = stable_uuid(original, table)
        if row_id is None:
            self._report.add(table, original, Action.SKIPPED, "row has no id", row=_preview(raw))
            return None
        if row_id in seen:
            row_id = derived_uuid(table, "duplicate", original, len(seen))
            self._report.add(
                table,
                original,
                Action.REPAIRED,
                "duplicate id: imported under a new id",
                new_id=str(row_id),
            )
        elif not is_canonical_uuid(original):
            self._report.add(
                table,
                original,
                Action.REPAIRED,
                "id is not a lowercase UUID: re-keyed",
                new_id=str(row_id),
            )
        seen.add(row_id)
        return row_id

    def json_object(self, table: str, key: str, column: str, raw: object) -> dict[str, Any]:
        """A JSON object column; malformed text is kept as ``{"_raw": ...}`` and reported."""
        parsed = json_object(raw)
        if parsed.problem:
            self._report.add(
                table,
                key,
                Action.KEPT,
                f"{column}: {parsed.problem}; the original is kept",
                column=column,
            )
        value: dict[str, Any] = clean_json(parsed.value)
        if value != parsed.value:
            self._report.add(
                table,
                key,
                Action.REPAIRED,
                f"{column}: NUL characters or lone surrogates replaced with U+FFFD",
            )
        return value

    def required_text(
        self, table: str, key: str, raw: dict[str, Any], column: str, default: str
    ) -> str:
        value = (as_text(raw.get(column)) or "").strip()
        if value:
            return self.text(table, key, column, value)
        self._report.add(table, key, Action.REPAIRED, f"{column} is empty: set to {default!r}")
        return default

    def text(self, table: str, key: str, column: str, value: str) -> str:
        """``value`` without the characters PostgreSQL text cannot hold."""
        if not has_unstorable(value):
            return value
        self._report.add(
            table,
            key,
            Action.REPAIRED,
            f"{column}: NUL characters or lone surrogates replaced with U+FFFD",
        )
        return clean_text(value)

    def optional_text(self, table: str, key: str, raw: dict[str, Any], column: str) -> str | None:
        value = as_text(raw.get(column))
        return None if value is None else self.text(table, key, column, value)

    def timestamp(
        self, table: str, key: str, raw: dict[str, Any], column: str, fallback: datetime
    ) -> datetime:
        parsed = parse_timestamp(raw.get(column))
        if parsed is not None:
            return parsed
        self._report.add(
            table,
            key,
            Action.REPAIRED,
            f"{column} {raw.get(column)!r} is not a timestamp: set to {fallback.isoformat()}",
        )
        return fallback

    def optional_timestamp(
        self, table: str, key: str, raw: dict[str, Any], column: str
    ) -> datetime | None:
        if raw.get(column) in (None, ""):
            return None
        # An unreadable deletion time still means "deleted".
        return self.timestamp(table, key, raw, column, self.now)


def find_planned(
    raw_id: object, kind: str, by_raw: dict[str, Row], by_id: dict[uuid.UUID, Row]
) -> Row | None:
    """A planned row by its raw v1 id, or by the UUID that id normalises to."""
    found = by_raw.get("" if raw_id is None else str(raw_id))
    if found is not None:
        return found
    row_id = stable_uuid(raw_id, kind)
    return by_id.get(row_id) if row_id is not None else None


def _preview(raw: dict[str, Any]) -> dict[str, Any]:
    return {key: (None if value is None else str(value)[:80]) for key, value in raw.items()}
