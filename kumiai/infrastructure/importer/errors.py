"""Errors the v1 importer raises; the CLI turns each into a message and exit code 1."""

from __future__ import annotations

from kumiai.core.exceptions import KumiAIError


class ImportSourceError(KumiAIError):
    """The v1 home (or its JSON export) cannot be read at all: nothing was imported."""

    code = "import_source_error"


class ImportValidationError(KumiAIError):
    """The imported rows do not match the source; the transaction was rolled back."""

    code = "import_validation_failed"

    def __init__(self, differences: list[str]) -> None:
        super().__init__(
            "validation failed, nothing was imported:\n  " + "\n  ".join(differences),
            details={"differences": differences},
        )
        self.differences = differences


class UnknownImportError(KumiAIError):
    """``--undo`` named an import id that has no ``import_completed`` activity row."""

    code = "unknown_import"
