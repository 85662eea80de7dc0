"""The optional settings file behind the TextSource port."""

from __future__ import annotations

from pathlib import Path

import pytest

from kumiai.core.exceptions import ValidationError
from kumiai.infrastructure.filesystem.text_file import OptionalTextFile


def test_a_missing_file_reads_as_none_and_a_non_utf8_one_is_refused(tmp_path: Path) -> None:
    assert OptionalTextFile(tmp_path / "absent.json").read() is None
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe")
    with pytest.raises(ValidationError, match="UTF-8"):
        OptionalTextFile(tmp_path / "bad.json").read()
