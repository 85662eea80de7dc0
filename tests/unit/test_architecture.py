"""The layering rules hold, checked by import-linter and a status-writer scan."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "kumiai"
STATUS_ASSIGNMENT = re.compile(r"\.status\s*=(?!=)")


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports)], cwd=PACKAGE.parent, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_only_the_session_and_task_entities_assign_a_status() -> None:
    writers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if STATUS_ASSIGNMENT.search(path.read_text(encoding="utf-8"))
    }
    # Equality, not a subset: a pattern that stopped matching anything must fail here.
    assert writers == {"domain/entities/session.py", "domain/entities/task.py"}
