"""The v1 importer: a SQLite-era KumiAI home into the v2 PostgreSQL database and home.

An adapter between two storage formats, so it lives in infrastructure. Entry points:
:func:`run_import` (``kumiai import-v1``) and :func:`undo_import` (``--undo``).

The names below are resolved on first access: the ``kumiai`` command imports this
package for its options, and ``kumiai serve`` should not pay for the whole importer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kumiai.infrastructure.importer.conflicts import OnConflict
from kumiai.infrastructure.importer.errors import ImportSourceError, UnknownImportError

if TYPE_CHECKING:
    from kumiai.infrastructure.importer.pipeline import ImportOptions, ImportResult, run_import
    from kumiai.infrastructure.importer.undo import UndoResult, undo_import

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

_LAZY = {
    "ImportOptions": "pipeline",
    "ImportResult": "pipeline",
    "run_import": "pipeline",
    "UndoResult": "undo",
    "undo_import": "undo",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
