"""The v1 importer: a SQLite-era KumiAI home into the v2 PostgreSQL database and home.

An adapter between two storage formats, so it lives in infrastructure. Entry points:
:func:`run_import` (``kumiai import-v1``) and :func:`undo_import` (``--undo``).
"""

from kumiai.infrastructure.importer.errors import ImportSourceError, UnknownImportError
from kumiai.infrastructure.importer.pipeline import ImportOptions, ImportResult, run_import
from kumiai.infrastructure.importer.undo import UndoResult, undo_import
from kumiai.infrastructure.importer.writer import OnConflict

__all__ = [
    "ImportOptions",
    "ImportResult",
    "ImportSourceError",
    "OnConflict",
    "UndoResult",
    "UnknownImportError",
    "run_import",
    "undo_import",
]
