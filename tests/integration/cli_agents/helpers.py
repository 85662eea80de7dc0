"""The real agent CLIs, installed from npm at pinned versions into ``tests/clis``, and
what their tests share.

``npm install`` and ``npm rebuild opencode-ai`` in ``tests/clis`` install them (``.ci/run``
does); without them, their tests are skipped with that reason, never passed.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psutil
import pytest

from kumiai.application.ports.agent_runtime import TurnRequest, Workspace

CLI_BIN = Path(__file__).resolve().parents[2] / "clis" / "node_modules" / ".bin"
INSTALL_HINT = (
    "run `npm install --prefix tests/clis --ignore-scripts && npm rebuild --prefix tests/clis "
    "opencode-ai` (needs npm)"
)
SYSTEM = "You are Dana, a careful specialist. MARKER-DANA"


def installed_cli(name: str) -> Path:
    path = CLI_BIN / name
    if not path.exists():
        pytest.skip(f"the {name} CLI is not installed: {INSTALL_HINT}")
    return path


def turn_request(
    project: Path,
    messages: list[dict[str, object]],
    *,
    session_id: uuid.UUID | None = None,
    model: str = "claude-sonnet-4-6",
    backend: str = "claude",
    **workspace: object,
) -> TurnRequest:
    return TurnRequest(
        model=model,
        backend=backend,
        system=SYSTEM,
        messages=messages,
        workspace=Workspace(
            session_id=session_id or uuid.uuid4(),
            working_dir=str(project),
            **workspace,  # type: ignore[arg-type]
        ),
    )


def all_ended(processes: list[psutil.Process], deadline: float) -> bool:
    """Whether every process has exited (gone, or a zombie not yet reaped) by ``deadline``
    (``time.monotonic()``)."""
    while True:
        running = [process for process in processes if _running(process)]
        if not running or time.monotonic() > deadline:
            return not running
        time.sleep(0.02)


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
