"""One entry of the import report: a source row, file or folder that did not go in
unchanged, and why. Stage 1 (reading the v1 home) and the later stages write the same
entries; the report collects them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    """What happened to a source row that did not go in unchanged."""

    SKIPPED = "skipped"  # not imported; the row is still in export.json
    REPAIRED = "repaired"  # imported with a value changed to satisfy v2's rules
    MAPPED = "mapped"  # an unknown or legacy value translated to a v2 one
    KEPT = "kept"  # imported unchanged, but worth a look (e.g. a folder left alone)


@dataclass(frozen=True, slots=True)
class ReportEntry:
    """One row (or file, or folder) that did not go in unchanged, and why."""

    table: str
    row_id: str | None
    action: Action
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_json(cls, data: dict[str, Any]) -> ReportEntry:
        return cls(**{**data, "action": Action(data["action"])})

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "row_id": self.row_id,
            "action": self.action.value,
            "reason": self.reason,
            "detail": self.detail,
        }
