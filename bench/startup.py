"""Benchmark: how long ``kumiai serve`` takes to answer, and what it holds at idle.

Run by hand from the repository root (not part of the test suite):

    .venv/bin/python bench/startup.py

Each start is timed from spawning ``python -m kumiai serve`` to the first 200 from
``/api/health``:

- cold: a fresh home, so the embedded PostgreSQL runs initdb and every migration;
- warm: the same home again (the data folder exists, the server was stopped);
- external: ``KUMIAI_DATABASE_URL`` on an already migrated database (only with
  ``KUMIAI_TEST_DATABASE_URL`` set, which names the server to use).

Idle RSS is the server process's resident memory a few seconds after its first
health answer (the embedded PostgreSQL's processes are reported apart). Results go
to ``bench/results/startup.{json,md}``.

``--baseline REV`` also starts the code of git revision REV (checked out in a
temporary worktree, run with the same interpreter), alternating with the current code
start by start, so both see the same machine load; the table then has their ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The repository root instead of bench/, whose http.py would shadow the standard library.
sys.path[0] = str(ROOT)

import httpx  # noqa: E402
import psutil  # noqa: E402

from bench import harness, reporting  # noqa: E402
from tests.support.database import TEST_DATABASE_URL_VARIABLE  # noqa: E402
from tests.support.processes import free_port, kumiai_env  # noqa: E402

IDLE_SECONDS = 5.0
TARGET_SECONDS = 3.0
TARGET_RSS_MB = 150.0


def start(
    env: dict[str, str], log: Path, *, idle: bool = False, code: Path = ROOT
) -> dict[str, float]:
    """Serve until healthy (and idle a while if asked); returns the timings and memory.

    ``code`` is the checkout whose ``kumiai`` runs (``-m`` imports from the cwd first)."""
    port = free_port()
    started = time.perf_counter()
    with log.open("a") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "kumiai", "serve", "--port", str(port)],
            env=env,
            cwd=code,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            seconds = _until_healthy(f"http://127.0.0.1:{port}/api/health", started, process)
            result = {"seconds": round(seconds, 3)}
            if idle:
                time.sleep(IDLE_SECONDS)
                result.update(_memory(process.pid, Path(env["KUMIAI_HOME"]) / "pgdata"))
            return result
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def _until_healthy(url: str, started: float, process: subprocess.Popen[bytes]) -> float:
    deadline = started + 120
    with httpx.Client(timeout=1) as client:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"kumiai serve exited with {process.returncode}")
            try:
                if client.get(url).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
    raise RuntimeError("kumiai serve did not answer within 120 s")


def _memory(pid: int, pgdata: Path) -> dict[str, float]:
    memory = {"rss_mb": round(psutil.Process(pid).memory_info().rss / 2**20, 1)}
    pid_file = pgdata / "postmaster.pid"
    if pid_file.exists():
        # pg_ctl detaches the server, so it is found through its pid file.
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        processes = [postmaster, *postmaster.children(recursive=True)]
        memory["postgres_rss_mb"] = round(sum(p.memory_info().rss for p in processes) / 2**20, 1)
    return memory


def measure(
    scratch: Path, repeats: int, codes: dict[str, Path]
) -> dict[str, dict[str, list[dict[str, float]]]]:
    """Each kind of start, ``repeats`` times per checkout in ``codes``, alternating."""
    runs: dict[str, dict[str, list[dict[str, float]]]] = {
        name: {"cold": [], "warm": []} for name in codes
    }
    log = scratch / "serve.log"
    for attempt in range(repeats):
        for name, code in codes.items():
            home = scratch / f"home-{name}-{attempt}"
            env = kumiai_env(home, KUMIAI_LOG_FORMAT="console")
            runs[name]["cold"].append(start(env, log, code=code))
            runs[name]["warm"].append(start(env, log, idle=True, code=code))
    if os.environ.get(TEST_DATABASE_URL_VARIABLE):
        with harness.scratch_database() as url:
            for name in codes:
                runs[name]["external"] = []
            for _ in range(repeats):
                for name, code in codes.items():
                    env = kumiai_env(scratch / f"home-external-{name}", KUMIAI_DATABASE_URL=url)
                    runs[name]["external"].append(start(env, log, idle=True, code=code))
    return runs


def _medians(kind_runs: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {
        kind: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        for kind, runs in kind_runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", metavar="REV", help="also run this git revision")
    args = parser.parse_args()
    with harness.scratch() as folder, contextlib.ExitStack() as stack:
        codes = {"current": ROOT}
        if args.baseline:
            codes["baseline"] = stack.enter_context(harness.checkout(args.baseline, folder))
        all_runs = measure(folder, args.repeats, codes)
    summaries = {name: _medians(kind_runs) for name, kind_runs in all_runs.items()}
    summary, baseline = summaries["current"], summaries.get("baseline")
    headers: list[object] = [
        "start",
        "seconds to first answer",
        "target",
        "idle RSS MB",
        "PostgreSQL RSS MB",
    ]
    if baseline is not None:
        headers += [f"baseline {args.baseline} s", "baseline RSS MB", "s / baseline s"]
    table: list[list[object]] = [headers]
    for kind, values in summary.items():
        row: list[object] = [
            kind,
            values["seconds"],
            f"< {TARGET_SECONDS}" if kind == "cold" else "-",
            values.get("rss_mb", "-"),
            values.get("postgres_rss_mb", "-"),
        ]
        if baseline is not None:
            before = baseline[kind]
            row += [
                before["seconds"],
                before.get("rss_mb", "-"),
                round(values["seconds"] / before["seconds"], 2),
            ]
        table.append(row)
    results: dict[str, object] = {
        "repeats": args.repeats,
        "summary": summary,
        "runs": all_runs["current"],
        "targets": {"cold_seconds": TARGET_SECONDS, "idle_rss_mb": TARGET_RSS_MB},
    }
    notes = [
        f"Medians of {args.repeats} starts each. Idle RSS is taken {IDLE_SECONDS:.0f} s "
        f"after the first answer (target < {TARGET_RSS_MB:.0f} MB).",
    ]
    if baseline is not None:
        results |= {"baseline": args.baseline, "baseline_summary": baseline}
        results["baseline_runs"] = all_runs["baseline"]
        notes.append(
            f"Baseline: revision {args.baseline}, started alternately with the current "
            "code (same interpreter and machine load)."
        )
    print(
        reporting.write(
            "startup",
            "Start-up: spawn to first health answer, and idle memory",
            results,
            table,
            notes=notes,
        )
    )


if __name__ == "__main__":
    main()
