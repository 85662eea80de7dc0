"""What an import does with rows that already exist (kept light: the CLI's options use it)."""

from __future__ import annotations

from enum import StrEnum


class OnConflict(StrEnum):
    SKIP = "skip"
    UPDATE = "update"
