"""An optional text file, implementing ``kumiai.application.ports.files.TextFile``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kumiai.core.exceptions import ValidationError
from kumiai.infrastructure.filesystem.atomic import atomic_write_text

# Settings files are small; anything bigger is not one.
MAX_TEXT_BYTES = 1024 * 1024
# Other programs' state files (``~/.claude.json`` keeps every project's history) grow.
MAX_FOREIGN_JSON_BYTES = 32 * 1024 * 1024


class OptionalTextFile:
    def __init__(self, path: Path, *, max_bytes: int = MAX_TEXT_BYTES) -> None:
        self._path = path
        self._max_bytes = max_bytes

    def read(self) -> str | None:
        """The file's UTF-8 text; None when there is no such file."""
        try:
            with self._path.open("rb") as handle:
                data = handle.read(self._max_bytes + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ValidationError(f"cannot read {self._path}: {exc.strerror or exc}") from exc
        if len(data) > self._max_bytes:
            raise ValidationError(f"{self._path} is larger than {self._max_bytes} bytes")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(f"{self._path} is not UTF-8 text") from exc

    def write(self, text: str) -> None:
        """Replace the file atomically; a new file is private, as it may hold secrets."""
        existed = self._path.exists()
        atomic_write_text(self._path, text)
        if not existed:
            os.chmod(self._path, 0o600)


def read_json_object(path: Path, *, max_bytes: int = MAX_FOREIGN_JSON_BYTES) -> dict[str, Any]:
    """The JSON object another program keeps in ``path``; ``{}`` when the file is missing,
    unreadable, too large, malformed or not an object: such files are read for what they
    may tell, never relied on."""
    try:
        text = OptionalTextFile(path, max_bytes=max_bytes).read()
        loaded = json.loads(text) if text is not None else {}
    except (ValidationError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}
