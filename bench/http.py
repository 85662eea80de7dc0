"""Benchmark: KumiAI's reads against bare FastAPI routes serving the same bytes.

Run by hand from the repository root (not part of the test suite; needs ``wrk``):

    KUMIAI_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/http.py

Without ``KUMIAI_TEST_DATABASE_URL`` an embedded PostgreSQL is started. ``kumiai serve``
runs on a scratch database seeded with a project, 60 sessions and 12 characters. Each
endpoint's answer is recorded and served by ``bench/ceiling.py`` (plain FastAPI routes
returning those bytes, same uvicorn options). ``wrk`` then loads both servers in
alternation, ROUNDS times each, with CONNECTIONS connections; the ratios compare
medians of the same run, so a busy machine shifts both sides alike. Results go to
``bench/results/http.{json,md}``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The repository root instead of bench/: this file would shadow the standard library's
# ``http`` package for everything imported below.
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402

import httpx  # noqa: E402

from bench import harness, reporting  # noqa: E402

CONNECTIONS = 16
SESSIONS = 60
CHARACTERS = 12
# The ratio to the bare route each read should reach (None: no target).
TARGETS = {
    "session (one row)": 0.35,
    "sessions (page of 50)": 0.2,
    "characters (page of 13)": None,
    "404 (no database)": 0.7,
}


@dataclass
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float


def seed(base_url: str) -> dict[str, str]:
    """Characters, a project and its sessions; returns the URL of each measured read."""
    with httpx.Client(base_url=base_url, timeout=30) as client:

        def post(path: str, body: dict[str, object]) -> dict[str, object]:
            response = client.post(path, json=body)
            response.raise_for_status()
            return response.json()["data"]  # type: ignore[no-any-return]

        characters = [
            post("/api/v2/characters", {"name": f"Member {n}", "role": "engineer"})
            for n in range(CHARACTERS)
        ]
        pm = post("/api/v2/characters", {"name": "Pat", "role": "project manager"})
        project = post(
            "/api/v2/projects",
            {
                "name": "Apollo",
                "team_character_ids": [c["slug"] for c in characters],
                "pm_character_id": pm["slug"],
            },
        )
        sessions = [
            post(
                "/api/v2/sessions",
                {
                    "session_type": "specialist",
                    "character_id": characters[n % CHARACTERS]["slug"],
                    "project_id": project["id"],
                    "context": {"description": f"task {n}", "kanban_stage": "active"},
                },
            )
            for n in range(SESSIONS - 1)
        ]
    return {
        "session (one row)": f"/api/v2/sessions/{sessions[0]['id']}",
        "sessions (page of 50)": "/api/v2/sessions?limit=50",
        "characters (page of 13)": "/api/v2/characters",
        "404 (no database)": "/api/v2/nonexistent",
    }


def record(base_url: str, reads: dict[str, str]) -> dict[str, dict[str, object]]:
    """What KumiAI answers on each read, keyed by path, for the ceiling to replay."""
    routes: dict[str, dict[str, object]] = {}
    for url in reads.values():
        response = httpx.get(base_url + url, timeout=30)
        routes[url.split("?")[0]] = {"status": response.status_code, "body": response.text}
    return routes


@contextmanager
def ceiling(routes: dict[str, dict[str, object]], folder: Path) -> Iterator[str]:
    routes_file = folder / "routes.json"
    routes_file.write_text(json.dumps(routes), encoding="utf-8")
    command = [sys.executable, "-m", "bench.ceiling", str(routes_file)]
    with harness.serve(command, next(iter(routes)), folder / "ceiling.log") as base_url:
        yield base_url


def wrk(url: str, seconds: int) -> Load:
    output = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Socket errors" in output and "timeout" in output:
        print(output, file=sys.stderr)
    return Load(
        requests_per_s=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50_ms=_percentile(output, "50%"),
        p99_ms=_percentile(output, "99%"),
    )


def _percentile(output: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", output).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(
    ours: str, bare: str, reads: dict[str, str], rounds: int, seconds: int
) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    for name, url in reads.items():
        wrk(ours + url, 1)  # warm both: caches, statement cache, connection pool
        wrk(bare + url, 1)
        runs: dict[str, list[Load]] = {"ours": [], "bare": []}
        for _ in range(rounds):
            runs["bare"].append(wrk(bare + url, seconds))
            runs["ours"].append(wrk(ours + url, seconds))
        median = {side: _median(loads) for side, loads in runs.items()}
        results[name] = {
            "url": url,
            **{side: asdict(load) for side, load in median.items()},
            "ratio": reporting.ratio(median["ours"].requests_per_s, median["bare"].requests_per_s),
            "p99_over_p50": reporting.ratio(median["ours"].p99_ms, median["ours"].p50_ms),
            "target": TARGETS[name],
            "rounds": {side: [asdict(load) for load in loads] for side, loads in runs.items()},
        }
        print(f"{name}: {results[name]['ratio']}", file=sys.stderr)
    return results


def _median(loads: list[Load]) -> Load:
    return Load(
        requests_per_s=statistics.median(load.requests_per_s for load in loads),
        p50_ms=statistics.median(load.p50_ms for load in loads),
        p99_ms=statistics.median(load.p99_ms for load in loads),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    with (
        harness.scratch() as folder,
        harness.scratch_database() as url,
        harness.kumiai(url, folder) as ours,
    ):
        reads = seed(ours)
        with ceiling(record(ours, reads), folder) as bare:
            results = measure(ours, bare, reads, args.rounds, args.seconds)
    table: list[list[object]] = [
        ["read", "KumiAI req/s", "bare req/s", "ratio", "target", "p50 ms", "p99 ms", "p99/p50"]
    ]
    for name, result in results.items():
        ours, bare_load = result["ours"], result["bare"]
        assert isinstance(ours, dict) and isinstance(bare_load, dict)
        table.append(
            [
                name,
                ours["requests_per_s"],
                bare_load["requests_per_s"],
                result["ratio"],
                f">= {result['target']}" if result["target"] else "-",
                ours["p50_ms"],
                ours["p99_ms"],
                result["p99_over_p50"],
            ]
        )
    print(
        reporting.write(
            "http",
            "HTTP reads: KumiAI vs bare FastAPI routes serving the same bytes",
            {
                "connections": CONNECTIONS,
                "rounds": args.rounds,
                "seconds": args.seconds,
                "results": results,
            },
            table,
            notes=[
                f"wrk, 1 thread, {CONNECTIONS} connections, {args.rounds} alternating rounds of "
                f"{args.seconds} s per side; medians. `kumiai serve` (log level info, console "
                "logs) on PostgreSQL on the same machine.",
            ],
        )
    )


if __name__ == "__main__":
    main()
