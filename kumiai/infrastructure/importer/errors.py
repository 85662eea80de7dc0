"""Errors the v1 importer raises; the CLI turns each into a message and exit code 1."""

from __future__ import annotations

from kumiai.core.exceptions import KumiAIError


class ImportSourceError(KumiAIError, code="import_source_error"):
    """The v1 home (or its JSON export) cannot be read at all: nothing was imported."""


class ImportValidationError(KumiAIError, code="import_validation_failed"):
    """The imported rows do not match the source; the transaction was rolled back."""

    def __init__(self, differences: list[str]) -> None:
        super().__init__(
            "validation failed, nothing was imported:\n  " + "\n  ".join(differences),
            details={"differences": differences},
        )
        self.differences = differences


class UnknownImportError(KumiAIError, code="unknown_import"):
    """``--undo`` named an import id that has no ``import_completed`` activity row."""
