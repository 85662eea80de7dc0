"""The import report: counts in and out, and every row skipped, repaired or mapped.

Each stage adds to one :class:`ImportReport`; the pipeline writes it as ``report.json``
(for tools and tests) and ``report.txt`` (for people) even when the import fails.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from kumiai.infrastructure.filesystem.atomic import atomic_write_text
from kumiai.infrastructure.importer.entries import Action, ReportEntry
from kumiai.infrastructure.importer.sqlite_export import KNOWN_TABLES

REPORT_FORMAT = "kumiai-v1-import-report"
# Entries about other things (files, folders, the database file) are not counted as rows.
ROW_TABLES = frozenset({*KNOWN_TABLES, "characters", "skills"})


class Outcome(StrEnum):
    COMMITTED = "committed"
    DRY_RUN = "dry-run (rolled back)"
    NOTHING_TO_DO = "nothing changed (everything was already imported)"
    FAILED = "failed (rolled back)"


@dataclass(slots=True)
class TableCounts:
    """One table's accounting; ``source == planned - added + not_imported`` always holds.

    ``added`` counts rows the importer created that had no source row (placeholders).
    ``existing`` counts rows left alone because they (or, for messages and session files,
    their session) already exist. ``inserted + updated + existing == planned`` once the
    writer has run.
    """

    source: int = 0
    planned: int = 0
    added: int = 0
    not_imported: int = 0
    inserted: int = 0
    updated: int = 0
    existing: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "source": self.source,
            "planned": self.planned,
            "added": self.added,
            "not_imported": self.not_imported,
            "inserted": self.inserted,
            "updated": self.updated,
            "existing": self.existing,
        }


@dataclass(slots=True)
class ImportReport:
    import_id: str
    source_home: str
    dry_run: bool
    on_conflict: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    outcome: Outcome | None = None
    error: str | None = None
    stages: dict[str, float] = field(default_factory=dict)
    counts: dict[str, TableCounts] = field(default_factory=lambda: defaultdict(TableCounts))
    mappings: dict[tuple[str, str, str, str], list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    entries: list[ReportEntry] = field(default_factory=list)
    validation: dict[str, Any] = field(default_factory=dict)
    folders: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    files: dict[str, Any] = field(default_factory=dict)

    def add(self, table: str, row_id: object, action: Action, reason: str, **detail: Any) -> None:
        """Record one row that was skipped, repaired, mapped or is worth a look."""
        key = None if row_id is None else str(row_id)
        self.entries.append(ReportEntry(table, key, action, reason, detail))
        if action is Action.SKIPPED and table in ROW_TABLES:
            self.counts[table].not_imported += 1

    def mapped(self, table: str, column: str, old: str, new: str, row_id: object) -> None:
        """Record a routine legacy mapping (``done`` -> ``completed``, ``tool`` -> ...)."""
        self.mappings[(table, column, old, new)].append(str(row_id))

    def entries_for(self, table: str, row_id: object) -> list[ReportEntry]:
        return [e for e in self.entries if e.table == table and e.row_id == str(row_id)]

    @property
    def changed_rows(self) -> bool:
        return any(c.inserted or c.updated for c in self.counts.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "version": 1,
            "import_id": self.import_id,
            "source_home": self.source_home,
            "dry_run": self.dry_run,
            "on_conflict": self.on_conflict,
            "outcome": self.outcome.value if self.outcome else None,
            "error": self.error,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "stages_seconds": {name: round(seconds, 3) for name, seconds in self.stages.items()},
            "counts": {table: counts.to_json() for table, counts in self.counts.items()},
            "mappings": [
                {
                    "table": table,
                    "column": column,
                    "from": old,
                    "to": new,
                    "count": len(ids),
                    "row_ids": ids,
                }
                for (table, column, old, new), ids in self.mappings.items()
            ],
            "entries": [entry.to_json() for entry in self.entries],
            "validation": self.validation,
            "folders": dict(self.folders),
            "files": self.files,
        }

    def write(self, json_path: Path, text_path: Path) -> None:
        atomic_write_text(json_path, json.dumps(self.to_json(), indent=2, ensure_ascii=False))
        atomic_write_text(text_path, render_text(self))


_COUNT_COLUMNS = ("source", "planned", "added", "not_imported", "inserted", "updated", "existing")


def render_text(report: ImportReport) -> str:
    """The report for people: summary, count table, legacy mappings, then every entry."""
    lines = [
        f"KumiAI v1 import {report.import_id}",
        f"source:      {report.source_home}",
        f"mode:        {'dry run' if report.dry_run else 'import'}, "
        f"on conflict: {report.on_conflict}",
        f"outcome:     {report.outcome.value if report.outcome else 'unfinished'}",
    ]
    if report.error:
        lines.append(f"error:       {report.error}")
    if report.stages:
        timings = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in report.stages.items())
        lines.append(f"stages:      {timings}")
    lines += ["", *_count_table(report), "", *_mapping_lines(report), "", *_entry_lines(report)]
    lines += ["", *_validation_lines(report), "", *_file_lines(report)]
    return "\n".join(lines).rstrip() + "\n"


def _count_table(report: ImportReport) -> list[str]:
    header = f"{'table':<16}" + "".join(f"{column:>14}" for column in _COUNT_COLUMNS)
    rows = [
        f"{table:<16}" + "".join(f"{value:>14}" for value in counts.to_json().values())
        for table, counts in report.counts.items()
    ]
    return ["Counts", header, *rows]


def _mapping_lines(report: ImportReport) -> list[str]:
    lines = ["Legacy values mapped (row ids in report.json)"]
    lines += [
        f"  {table}.{column}: {old!r} -> {new!r}: {len(ids)}"
        for (table, column, old, new), ids in report.mappings.items()
    ]
    return lines if len(lines) > 1 else [*lines, "  none"]


def _entry_lines(report: ImportReport) -> list[str]:
    lines = [f"Rows skipped, repaired, mapped or kept ({len(report.entries)})"]
    for entry in report.entries:
        detail = json.dumps(entry.detail, ensure_ascii=False, default=str) if entry.detail else ""
        lines.append(f"  [{entry.action.value}] {entry.table} {entry.row_id}: {entry.reason}")
        if detail:
            lines.append(f"      {_shorten(detail)}")
    return lines if report.entries else [*lines, "  none"]


def _validation_lines(report: ImportReport) -> list[str]:
    if not report.validation:
        return ["Validation: not run"]
    verdict = "ok" if report.validation.get("ok") else "FAILED"
    lines = [
        f"Validation: {verdict}",
        f"  messages checked: {report.validation.get('messages', 0)}",
        f"  content sha256:   {report.validation.get('content_sha256', '')}",
    ]
    lines += [f"  difference: {line}" for line in report.validation.get("differences", [])]
    return lines


def _file_lines(report: ImportReport) -> list[str]:
    lines = ["Files"]
    lines += [f"  {name}: {value}" for name, value in report.files.items()]
    for kind, paths in report.folders.items():
        lines += [f"  folder {kind}: {path}" for path in paths]
    return lines


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
