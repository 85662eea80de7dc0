"""An optional text file, implementing ``kumiai.application.ports.files.TextFile``."""

from __future__ import annotations

import os
from pathlib import Path

from kumiai.core.exceptions import ValidationError
from kumiai.infrastructure.filesystem.atomic import atomic_write_text

# Settings files are small; anything bigger is not one.
MAX_TEXT_BYTES = 1024 * 1024


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
