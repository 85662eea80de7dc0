"""What every benchmark writes: ``bench/results/<name>.json`` and ``<name>.md``.

Both carry the date, the machine (with its load average: the reference machine is
shared, so absolute numbers drift; compare the ratios, measured in the same run) and
the commit the numbers belong to.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def commit() -> str:
    """The checked-out commit, marked ``-dirty`` when the work tree has changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{head}-dirty" if git("status", "--porcelain", "--", "kumiai") else head


def ratio(ours: float, reference: float) -> float:
    return round(ours / reference, 3) if reference else float("nan")


def write(
    name: str,
    title: str,
    results: dict[str, Any],
    table: Sequence[Sequence[object]],
    *,
    notes: Sequence[str] = (),
) -> str:
    """Write the JSON and the markdown table (first row: the headers); returns the markdown."""
    header = {
        "benchmark": name,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        "commit": commit(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(
        json.dumps({**header, **results}, indent=2) + "\n", encoding="utf-8"
    )
    box = header["machine"]
    lines = [
        f"# {title}",
        "",
        f"{header['date']} · commit `{header['commit']}` · {box['machine']}, {box['cpus']} CPUs, "
        f"Python {box['python']}, load average {box['load_average']}",
        "",
        _row(table[0]),
        _row(["---"] * len(table[0])),
        *(_row(row) for row in table[1:]),
    ]
    if notes:
        lines += ["", *notes]
    markdown = "\n".join(lines) + "\n"
    (RESULTS / f"{name}.md").write_text(markdown, encoding="utf-8")
    return markdown


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)
