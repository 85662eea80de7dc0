"""Stand-ins for the coding-agent CLIs (claude, codex, ...): small shell scripts."""

from __future__ import annotations

from pathlib import Path

# The script's own commands (sleep, touch) come from here, whatever PATH the test sets
# to control where the CLI itself is found.
SCRIPT_PATH = "/usr/local/bin:/usr/bin:/bin"


def fake_cli(folder: Path, name: str, script: str) -> Path:
    """An executable ``folder/name`` running ``script`` with ``/bin/sh``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\nPATH={SCRIPT_PATH}\n{script}\n")
    path.chmod(0o755)
    return path


def printing_version(folder: Path, name: str, version: str) -> Path:
    """A CLI whose ``--version`` prints ``version`` (and a second line to ignore)."""
    return fake_cli(folder, name, f'echo "{version}"\necho "second line"')
