"""Benchmark: several server processes on one database (issue 19 §1 and §3).

Run by hand from the repository root (not part of the test suite; needs ``wrk``):

    KUMIAI_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/scale.py

Without ``KUMIAI_TEST_DATABASE_URL`` an embedded PostgreSQL is started. Every server
below shares one scratch database and one home, as a deployment's would:

- **reads**: ``wrk`` on the reads of ``bench/http.py`` against ``kumiai serve`` (one
  process) and ``kumiai serve --workers 2``, in alternating rounds; medians;
- **streams**: per-stream delta rate of 50 concurrent turns (paced by a scripted Claude,
  ``bench/scripted_claude.py``) all sent to one server process, and split 25/25 between
  two server processes, against one turn alone; medians of the streams;
- **takeover**: a server killed with ``kill -9`` while a turn runs and a message waits;
  the time until another server has settled the dead turn and started the waiting one
  (the message is in the transcript), with the default lease (5 s) and heartbeat (1 s).
  Twice: the victim on the same host as the survivor (which sees its pid gone at its
  next heartbeat), and on *another host*: the victim runs in a UTS namespace of its own
  with another host name (``unshare --uts``, as root), which is what a lease names its
  host by (``ownership.this_host``), so the survivor cannot look at its pid and notices
  it only when its lease lapses, as across machines;
- **fan-out**: what delivering an event to another process adds, from
  ``bench/results/fanout.json`` (``bench/fanout.py``), when it has been run.

Results go to ``bench/results/scale.*``. ``--only takeover`` measures the takeover alone
(one survivor and its victims, no load of reads or streams), into
``bench/results/scale-takeover.*``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The repository root instead of bench/, whose http.py would shadow the standard library.
sys.path[0] = str(ROOT)

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from bench import harness, reporting  # noqa: E402
from bench.http import Load, seed, wrk  # noqa: E402
from bench.stream import Stream, _post_stream, _session, scripted_claude  # noqa: E402
from kumiai.infrastructure.database.event_log import asyncpg_dsn  # noqa: E402

READS = ("session (one row)", "sessions (page of 50)")
CROWD, CROWD_DELTAS, CROWD_DELAY = 50, 100, 0.01
STREAM_ROUNDS = 2
TAKEOVERS = 3
SAME_HOST, OTHER_HOST = "same host", "another host"
OTHER_HOST_NAME = "kumiai-bench-other-host"
SCRIPT = {
    "crowd-route": {"replies": 4 * CROWD * STREAM_ROUNDS, "deltas": CROWD_DELTAS, "delay": 0.01},
    # A turn that outlives the takeover, twice per run (the killed one and the next), for
    # each of the two hosts.
    "slow-route": {"replies": 2 * 2 * TAKEOVERS + 2, "deltas": 3000, "delay": 0.05},
}
# Five server processes at most (A, B, the two of --workers 2, a takeover's victim) on one
# PostgreSQL: pools small enough for its default max_connections (100).
POOL = {"KUMIAI_DB_POOL_SIZE": "5", "KUMIAI_DB_MAX_OVERFLOW": "5"}
TARGETS = {"reads_ratio": 1.6, "streams_ratio": 0.8, "takeover_s": 10.0}


# --- reads ------------------------------------------------------------------------------


def reads(one: str, two: str, rounds: int, seconds: int) -> dict[str, dict[str, object]]:
    urls = seed(one)
    results: dict[str, dict[str, object]] = {}
    for name in READS:
        url = urls[name]
        wrk(one + url, 1)  # warm both: caches, statement cache, connection pools
        wrk(two + url, 1)
        runs: dict[str, list[Load]] = {"one": [], "two": []}
        for _ in range(rounds):
            runs["one"].append(wrk(one + url, seconds))
            runs["two"].append(wrk(two + url, seconds))
        rates = {
            side: statistics.median(load.requests_per_s for load in loads)
            for side, loads in runs.items()
        }
        results[name] = {
            "one_process_per_s": rates["one"],
            "two_processes_per_s": rates["two"],
            "ratio": reporting.ratio(rates["two"], rates["one"]),
            "rounds": {side: [asdict(load) for load in loads] for side, loads in runs.items()},
        }
        print(f"reads {name}: {results[name]['ratio']}", file=sys.stderr)
    return results


# --- streams ----------------------------------------------------------------------------


def _sessions(base_url: str, folder: Path, route: str, count: int) -> list[str]:
    workspace = folder / "home" / "workspace" / route  # inside the allowed roots
    workspace.mkdir(parents=True, exist_ok=True)
    with httpx.Client(base_url=base_url, timeout=30) as client:
        return [_session(client, {"project_path": str(workspace)}) for _ in range(count)]


async def _turns(ways_in: list[tuple[str, str]]) -> list[Stream]:
    """One turn per (server, session) at once, each streamed from the server it is sent to."""
    return await asyncio.gather(
        *(
            _post_stream(f"{server}/api/v2/sessions/{session}/messages", {"content": "go"}, {})
            for server, session in ways_in
        )
    )


def streams(a: str, b: str, folder: Path) -> dict[str, float]:
    alone, together, split = [], [], []
    for _ in range(STREAM_ROUNDS):
        (single,) = asyncio.run(_turns([(a, s) for s in _sessions(a, folder, "crowd-route", 1)]))
        alone.append(single.rate)
        on_one = _sessions(a, folder, "crowd-route", CROWD)
        together.append(
            statistics.median(s.rate for s in asyncio.run(_turns([(a, s) for s in on_one])))
        )
        on_two = _sessions(a, folder, "crowd-route", CROWD)
        ways_in = [(a if n % 2 == 0 else b, session) for n, session in enumerate(on_two)]
        split.append(statistics.median(s.rate for s in asyncio.run(_turns(ways_in))))
    rates = {
        "alone": statistics.median(alone),
        "one_process": statistics.median(together),
        "two_processes": statistics.median(split),
    }
    print(f"streams: {rates}", file=sys.stderr)
    return {
        "one_stream_per_s": rates["alone"],
        "one_process_per_stream_per_s": rates["one_process"],
        "two_processes_per_stream_per_s": rates["two_processes"],
        "one_process_ratio": reporting.ratio(rates["one_process"], rates["alone"]),
        "two_processes_ratio": reporting.ratio(rates["two_processes"], rates["alone"]),
    }


# --- takeover ---------------------------------------------------------------------------


async def _owner(database_url: str, session_id: str) -> tuple[int, str, list[str]]:
    """The pid and host of the process owning the session, and the hosts of the others."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        owner = await connection.fetchrow(
            "SELECT p.id, p.pid, p.host FROM session_owners o"
            " JOIN server_processes p ON p.id = o.process_id WHERE o.session_id = $1::uuid",
            session_id,
        )
        assert owner is not None, "nobody owns the session"
        others = await connection.fetch(
            "SELECT host FROM server_processes WHERE id <> $1", owner["id"]
        )
        return int(owner["pid"]), str(owner["host"]), [str(row["host"]) for row in others]
    finally:
        await connection.close()


def _wrapper(where: str) -> tuple[str, ...]:
    """How the victim runs: as is on this host, or under another host name (a UTS
    namespace of its own; ``exec`` keeps its pid, in the same PID namespace)."""
    if where == SAME_HOST:
        return ()
    return ("unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', OTHER_HOST_NAME)


def _until(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise RuntimeError("timed out")


def _status(client: httpx.Client, session_id: str) -> str:
    return str(client.get(f"/api/v2/sessions/{session_id}").json()["data"]["status"])


def _transcript(client: httpx.Client, session_id: str) -> list[str]:
    rows = client.get(f"/api/v2/sessions/{session_id}/messages").json()["data"]
    return [str(row["content"]) for row in rows]


def takeover(
    survivor: str, database_url: str, folder: Path, claude: str
) -> dict[str, dict[str, Any]]:
    """Seconds from each ``kill -9`` to the waiting message's turn started elsewhere, with
    the victim on the survivor's host and on another one."""
    results: dict[str, dict[str, Any]] = {}
    for where in (SAME_HOST, OTHER_HOST):
        seconds = []
        for run in range(TAKEOVERS):
            seconds.append(_takeover_once(survivor, database_url, folder, claude, where))
            print(f"takeover, {where}, {run + 1}: {seconds[-1]:.2f} s", file=sys.stderr)
        results[where] = {
            "runs": seconds,
            "median": statistics.median(seconds),
            "max": max(seconds),
        }
    return results


def _takeover_once(
    survivor: str, database_url: str, folder: Path, claude: str, where: str
) -> float:
    env = {"ANTHROPIC_API_KEY": "bench", "ANTHROPIC_BASE_URL": claude, **POOL}
    with (
        harness.kumiai(database_url, folder, wrapper=_wrapper(where), **env) as victim,
        httpx.Client(base_url=victim, timeout=30) as client,
    ):
        (session,) = _sessions(victim, folder, "slow-route", 1)
        path = f"/api/v2/sessions/{session}/messages"
        client.post(path, json={"content": "first"}).raise_for_status()
        _until(lambda: _status(client, session) == "thinking")
        client.post(path, json={"content": "second"}).raise_for_status()
        pid, host, others = asyncio.run(_owner(database_url, session))
        # The survivor must see the victim as on its host, or as on another one.
        assert others and all((other == host) == (where == SAME_HOST) for other in others), (
            where,
            host,
            others,
        )
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
    with httpx.Client(base_url=survivor, timeout=30) as other:
        _until(lambda: "second" in _transcript(other, session))
    return time.monotonic() - killed


# --- report -----------------------------------------------------------------------------


def fanout() -> dict[str, float] | None:
    """The other-process, paced row of bench/fanout.py's last results, if it ran."""
    path = reporting.RESULTS / "fanout.json"
    if not path.exists():
        return None
    results = json.loads(path.read_text())["results"]
    for name, row in results.items():
        if "other process" in name and name.endswith("paced") and "durable" not in name:
            return {"p50_ms": row["p50_ms"], "p99_ms": row["p99_ms"], "source": name}
    return None


@contextmanager
def cluster(folder: Path, database_url: str, claude: str) -> Iterator[tuple[str, str, str]]:
    """Server A and server B (one process each) and W (``--workers 2``): one database, one home."""
    env = {"ANTHROPIC_API_KEY": "bench", "ANTHROPIC_BASE_URL": claude, **POOL}
    with ExitStack() as stack:
        a = stack.enter_context(harness.kumiai(database_url, folder, **env))
        b = stack.enter_context(harness.kumiai(database_url, folder, **env))
        w = stack.enter_context(harness.kumiai(database_url, folder, "--workers", "2", **env))
        yield a, b, w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument(
        "--only",
        choices=["takeover"],
        help="measure only this part (takeover: one survivor, no reads or streams first)",
    )
    args = parser.parse_args()
    if args.only == "takeover":
        print(takeover_only(args))
        return
    with (
        harness.scratch() as folder,
        scripted_claude(folder, SCRIPT) as claude,
        harness.scratch_database() as url,
        cluster(folder, url, claude) as (a, b, w),
    ):
        results: dict[str, object] = {
            "reads": reads(a, w, args.rounds, args.seconds),
            "streams": streams(a, b, folder),
        }
        results["takeover_s"] = takeover(b, url, folder, claude)
    results["fanout"] = fanout()
    print(report(results, args))


def takeover_only(args: argparse.Namespace) -> str:
    with (
        harness.scratch() as folder,
        scripted_claude(folder, SCRIPT) as claude,
        harness.scratch_database() as url,
        harness.kumiai(
            url, folder, ANTHROPIC_API_KEY="bench", ANTHROPIC_BASE_URL=claude, **POOL
        ) as survivor,
    ):
        seconds = takeover(survivor, url, folder, claude)
    return reporting.write(
        "scale-takeover",
        "Takeover of a killed server process's sessions",
        {"takeover_s": seconds},
        [["measure", "runs, s", "median, s", "max, s", "target"], *_takeover_rows(seconds)],
        notes=[TAKEOVER_NOTE],
    )


TAKEOVER_NOTE = (
    "Takeover: from `kill -9` of the server running a turn (with a message queued behind"
    " it) to that message's turn started by another server; lease 5 s, heartbeat 1 s (the"
    " defaults). Same host: the survivor sees the victim's pid gone at its next heartbeat."
    " Another host: the victim ran in a UTS namespace of its own under another host name"
    " (`unshare --uts`), which its lease names, so the survivor waited for the lease to"
    " lapse, as across machines."
)


def _takeover_rows(takeovers: dict[str, dict[str, Any]]) -> list[list[object]]:
    return [
        [
            f"takeover after kill -9, {where}",
            ", ".join(f"{s:.2f}" for s in row["runs"]),
            row["median"],
            row["max"],
            f"< {TARGETS['takeover_s']}",
        ]
        for where, row in takeovers.items()
    ]


def report(results: dict[str, object], args: argparse.Namespace) -> str:
    read_results = results["reads"]
    stream_results = results["streams"]
    takeovers = results["takeover_s"]
    fan = results["fanout"]
    assert isinstance(read_results, dict) and isinstance(stream_results, dict)
    assert isinstance(takeovers, dict)
    table: list[list[object]] = [["measure", "1 process", "2 processes", "ratio", "target"]]
    for name, row in read_results.items():
        table.append(
            [
                f"reads/s: {name}",
                row["one_process_per_s"],
                row["two_processes_per_s"],
                row["ratio"],
                f">= {TARGETS['reads_ratio']}",
            ]
        )
    table.append(
        [
            f"deltas/s per stream, {CROWD} streams (1 alone: "
            f"{stream_results['one_stream_per_s']:.0f})",
            stream_results["one_process_per_stream_per_s"],
            stream_results["two_processes_per_stream_per_s"],
            f"{stream_results['one_process_ratio']} / {stream_results['two_processes_ratio']}"
            " of one alone",
            f">= {TARGETS['streams_ratio']}",
        ]
    )
    for name, runs, median, most, target in _takeover_rows(takeovers):
        table.append([f"{name}, s (runs: {runs})", "-", median, f"max {most:.2f}", target])
    if isinstance(fan, dict):
        table.append(
            [
                "fan-out to another process, ms per event (bench/fanout.py)",
                "-",
                f"p50 {fan['p50_ms']:.3f}, p99 {fan['p99_ms']:.1f}",
                "-",
                "p50 < 2, p99 < 10",
            ]
        )
    return reporting.write(
        "scale",
        "Several server processes on one database",
        {**results, "rounds": args.rounds, "seconds": args.seconds},
        table,
        notes=[
            "Every server shares one scratch database and one home on this machine (2 cores"
            " shared with other work: see the load average). Reads: wrk, 1 thread,"
            f" {16} connections, {args.rounds} alternating rounds of {args.seconds} s against"
            " `kumiai serve` and `kumiai serve --workers 2`; medians. Streams: each turn"
            f" streams {CROWD_DELTAS} stamped deltas {CROWD_DELAY * 1000:.0f} ms apart from a"
            " scripted Claude; per-stream rate is the median over the streams, the ratio is"
            f" against one turn alone; {STREAM_ROUNDS} rounds, medians. 2 processes: the"
            " turns are sent to two servers, half each. Each process has a pool of 5"
            " connections and an overflow of 5 (five processes share one PostgreSQL with"
            " max_connections = 100).",
            "",
            TAKEOVER_NOTE,
        ],
    )


if __name__ == "__main__":
    main()
