"""Benchmark: time to first token, turn by turn against the direct read, and against a
baseline revision on the same machine at the same moment.

Run by hand from the repository root (not part of the test suite):

    KUMIAI_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/first_token.py [--turns 60] [--baseline REV]

``bench/stream.py`` measures first token once, in a run of several minutes. On a shared
machine whose speed drifts by tens of percent from one minute to the next, two such
runs of two revisions compare the machine's moments as much as the code. Here every
server is started at once, on one scripted Claude, and the turns interleave: a direct
read, then a turn relayed by one server; a direct read, then a turn relayed by the
next; the order of the servers flips every round. Each server has its own scratch
database and home and runs its own sessions (warmed by a few turns first).

``--baseline REV`` also serves git revision REV, checked out in a temporary worktree
and run with the same interpreter. Its database is migrated by the current code, so the
revision must share the current migrations. Results go to ``bench/results/first_token.*``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The repository root instead of bench/, whose http.py would shadow the standard library.
sys.path[0] = str(ROOT)

from bench import harness, reporting, stream  # noqa: E402

ROUTE = "ttft-route"
WARM_TURNS = 4
PROBE_STEPS = 3_000_000


def cpu_probe() -> float:
    """Seconds a fixed pure-Python loop takes: how fast the machine runs Python at this
    moment (on a shared VM it drifts), reported beside the milliseconds."""
    started = time.perf_counter()
    total = 0
    for step in range(PROBE_STEPS):
        total += step
    return round(time.perf_counter() - started, 3)


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    low, median, high = statistics.quantiles(values, n=4)
    return low, median, high


async def measure(servers: dict[str, stream.Sides], turns: int) -> dict[str, object]:
    for sides in servers.values():
        for _ in range(WARM_TURNS):
            await sides.relay(ROUTE)
    relayed: dict[str, list[float]] = {name: [] for name in servers}
    direct: list[float] = []
    names = list(servers)
    for turn in range(turns):
        for name in names if turn % 2 == 0 else names[::-1]:
            direct.append((await servers[name].direct(ROUTE)).first_token_ms)
            relayed[name].append((await servers[name].relay(ROUTE)).first_token_ms)
    direct_p50 = statistics.median(direct)
    results: dict[str, object] = {"turns": turns, "direct_p50_ms": direct_p50, "cpu_probe_s": []}
    for name, times in relayed.items():
        low, median, high = _quartiles(times)
        results[name] = {
            "relayed_p25_ms": low,
            "relayed_p50_ms": median,
            "relayed_p75_ms": high,
            "added_p50_ms": median - direct_p50,
        }
    return results


def report(results: dict[str, object], baseline: str | None) -> str:
    table: list[list[object]] = [
        ["server", "relayed p25 ms", "relayed p50 ms", "relayed p75 ms", "added p50 ms", "target"]
    ]
    for name in ("current", "baseline"):
        values = results.get(name)
        if not isinstance(values, dict):
            continue
        label = "current" if name == "current" else f"baseline `{baseline}`"
        table.append(
            [
                label,
                round(values["relayed_p25_ms"], 2),
                round(values["relayed_p50_ms"], 2),
                round(values["relayed_p75_ms"], 2),
                f"+{values['added_p50_ms']:.1f}",
                stream.TARGETS["ttft_added_ms"] + " ms added" if name == "current" else "-",
            ]
        )
    return reporting.write(
        "first_token",
        "Time to first token: KumiAI relaying a scripted Claude, interleaved",
        {"baseline": baseline, **results},
        table,
        notes=[
            f"{results['turns']} turns per server, each after a direct read of the same "
            f"scripted Claude (direct p50 {results['direct_p50_ms']:.2f} ms, the control "
            "of every row); the servers' turns interleave, their order flipping every "
            "round, so the machine's drift falls on every row alike.",
            f"CPU probe ({PROBE_STEPS:,} steps of a pure-Python loop) before and after the "
            f"turns: {results['cpu_probe_s']} s; the same code's milliseconds scale with it.",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--baseline", metavar="REV", help="also serve this git revision")
    args = parser.parse_args()
    # Enough replies for every turn of every server, the warm-ups and the direct reads.
    script = {ROUTE: {"replies": 4 * (args.turns + WARM_TURNS) + 8, "deltas": 5, "delay": 0.0}}
    with harness.scratch() as folder, contextlib.ExitStack() as stack:
        claude = stack.enter_context(stream.scripted_claude(folder, script))
        codes = {"current": ROOT}
        if args.baseline:
            codes["baseline"] = stack.enter_context(harness.checkout(args.baseline, folder))
        servers = {}
        for name, code in codes.items():
            home = folder / f"home-{name}"
            home.mkdir()
            url = stack.enter_context(harness.scratch_database())
            base_url = stack.enter_context(
                harness.kumiai(
                    url, home, code=code, ANTHROPIC_API_KEY="bench", ANTHROPIC_BASE_URL=claude
                )
            )
            sessions = stream.create_sessions(base_url, home, [ROUTE])
            servers[name] = stream.Sides(base_url, claude, sessions, ("", ""), ("", ""))
        before = cpu_probe()
        results = asyncio.run(measure(servers, args.turns))
        results["cpu_probe_s"] = [before, cpu_probe()]
    print(report(results, args.baseline))


if __name__ == "__main__":
    main()
