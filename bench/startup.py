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
"""

from __future__ import annotations

import argparse
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


def start(env: dict[str, str], log: Path, *, idle: bool = False) -> dict[str, float]:
    """Serve until healthy (and idle a while if asked); returns the timings and memory."""
    port = free_port()
    started = time.perf_counter()
    with log.open("a") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "kumiai", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
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


def measure(scratch: Path, repeats: int) -> dict[str, list[dict[str, float]]]:
    runs: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    log = scratch / "serve.log"
    for attempt in range(repeats):
        home = scratch / f"home-{attempt}"
        env = kumiai_env(home, KUMIAI_LOG_FORMAT="console")
        runs["cold"].append(start(env, log))
        runs["warm"].append(start(env, log, idle=True))
    if os.environ.get(TEST_DATABASE_URL_VARIABLE):
        with harness.scratch_database() as url:
            env = kumiai_env(scratch / "home-external", KUMIAI_DATABASE_URL=url)
            runs["external"] = [start(env, log, idle=True) for _ in range(repeats)]
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with harness.scratch() as folder:
        runs = measure(folder, args.repeats)
    summary = {
        kind: {key: statistics.median(run[key] for run in kind_runs) for key in kind_runs[0]}
        for kind, kind_runs in runs.items()
    }
    table: list[list[object]] = [
        ["start", "seconds to first answer", "target", "idle RSS MB", "PostgreSQL RSS MB"]
    ]
    for kind, values in summary.items():
        table.append(
            [
                kind,
                values["seconds"],
                f"< {TARGET_SECONDS}" if kind == "cold" else "-",
                values.get("rss_mb", "-"),
                values.get("postgres_rss_mb", "-"),
            ]
        )
    print(
        reporting.write(
            "startup",
            "Start-up: spawn to first health answer, and idle memory",
            {
                "repeats": args.repeats,
                "summary": summary,
                "runs": runs,
                "targets": {"cold_seconds": TARGET_SECONDS, "idle_rss_mb": TARGET_RSS_MB},
            },
            table,
            notes=[
                f"Medians of {args.repeats} starts each. Idle RSS is taken {IDLE_SECONDS:.0f} s "
                f"after the first answer (target < {TARGET_RSS_MB:.0f} MB).",
            ],
        )
    )


if __name__ == "__main__":
    main()
