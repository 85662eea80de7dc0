"""Benchmark: what fan-out through PostgreSQL adds to each event (issue 19 §2/§3).

Run by hand from the repository root (not part of the test suite):

    KUMIAI_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/fanout.py

Without ``KUMIAI_TEST_DATABASE_URL`` an embedded PostgreSQL is started. Two processes
share a scratch database, each with an :class:`EventHub` on its own connections, as two
``kumiai serve`` processes would: this one publishes, a child process subscribes. Each
event carries ``time.monotonic_ns()`` of its publishing (the monotonic clock is one
clock for every process of the machine); a subscriber's latency for an event is its
arrival time minus that stamp: the append (lock, insert, NOTIFY: one statement), the
notification, the read of the rows, and delivery. In memory the same hop costs a few
microseconds, so the latency is what persisting and fanning out adds.

- paced: one event every 5 ms (a turn's tool and status events): per-event latency;
- burst: events published back to back (a stream of text deltas): they share writes,
  so the latency includes waiting for the write in flight.

The same-process subscriber (in the publishing process) is reported too: it hears its
own process's appends the same way. Results go to ``bench/results/fanout.*``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from bench.harness import scratch_database  # noqa: E402
from bench.reporting import write  # noqa: E402
from kumiai.application.services.runtime.events import EventHub, Subscription  # noqa: E402
from kumiai.infrastructure.database.event_log import PostgresEventLog, asyncpg_dsn  # noqa: E402

PACED = 1000
PACE_SECONDS = 0.005
BURST = 5000
BURST_CHUNK = 20  # deltas per read of a model's stream
TARGET_P50_MS, TARGET_P99_MS = 2.0, 10.0


def _stamp() -> str:
    return f"{time.monotonic_ns()};"


async def _latencies(subscription: Subscription, count: int) -> list[float]:
    """Milliseconds from each event's publishing to its arrival here. A delta's text is
    its stamp, so deltas that arrive joined still give each stamp."""
    latencies: list[float] = []
    while len(latencies) < count:
        event = await asyncio.wait_for(subscription.next(), 60)
        assert event is not None, "the subscriber was dropped"
        arrived = time.monotonic_ns()
        for stamp in event.data["text"].split(";")[:-1]:
            latencies.append((arrived - int(stamp)) / 1e6)
    return latencies


def _hub(url: str, durable: bool) -> EventHub:
    return EventHub(
        store=PostgresEventLog(url, durable_commit=durable), subscriber_capacity=100_000
    )


async def subscriber(url: str, session: UUID, durable: bool) -> None:
    """The child process: follow the session, then report each phase's latencies."""
    hub = _hub(url, durable)
    await hub.start()
    subscription = await hub.subscribe(session)
    print("ready", flush=True)
    result = {
        "paced": await _latencies(subscription, PACED),
        "burst": await _latencies(subscription, BURST),
    }
    print(json.dumps(result), flush=True)
    await hub.aclose()


async def publisher(url: str, durable: bool) -> dict[str, dict[str, list[float]]]:
    session = uuid4()
    command = [sys.executable, __file__, "--subscribe", url, str(session)]
    child = await asyncio.create_subprocess_exec(
        *command, *(["--durable"] if durable else []), stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    hub = _hub(url, durable)
    await hub.start()
    try:
        local = await hub.subscribe(session)
        ready = await child.stdout.readline()
        assert ready.strip() == b"ready", ready

        async def paced() -> None:
            for index in range(PACED):
                # Each of its own block: paced events never join.
                hub.publish(session, "text_delta", run_id="r", block_index=index, text=_stamp())
                await asyncio.sleep(PACE_SECONDS)

        async def burst() -> None:
            for index in range(BURST):
                hub.publish(session, "text_delta", run_id="r", block_index=-1, text=_stamp())
                if index % BURST_CHUNK == BURST_CHUNK - 1:
                    await asyncio.sleep(0)

        _, local_paced = await asyncio.gather(paced(), _latencies(local, PACED))
        _, local_burst = await asyncio.gather(burst(), _latencies(local, BURST))
        remote = json.loads(await child.stdout.readline())
    finally:
        await hub.aclose()
        await asyncio.wait_for(child.wait(), 30)
    return {
        "other process": {"paced": remote["paced"], "burst": remote["burst"]},
        "same process": {"paced": local_paced, "burst": local_burst},
    }


async def notified(url: str) -> None:
    """The child process of the floor: a bare LISTEN, reporting each NOTIFY's latency."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    latencies: list[float] = []
    done = asyncio.Event()

    def heard(_connection: object, _pid: int, _channel: str, payload: str) -> None:
        latencies.append((time.monotonic_ns() - int(payload)) / 1e6)
        if len(latencies) == PACED:
            done.set()

    await connection.add_listener("bench_floor", heard)
    print("ready", flush=True)
    await done.wait()
    print(json.dumps(latencies), flush=True)
    await connection.close()


async def _bare_notify(url: str) -> list[float]:
    """The floor: a bare NOTIFY from here to a LISTEN in another process, paced."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--listen", url, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        assert (await child.stdout.readline()).strip() == b"ready"
        for _ in range(PACED):
            await connection.execute(f"NOTIFY bench_floor, '{time.monotonic_ns()}'")
            await asyncio.sleep(PACE_SECONDS)
        latencies: list[float] = json.loads(await child.stdout.readline())
    finally:
        await connection.close()
        await asyncio.wait_for(child.wait(), 30)
    return latencies


async def _round_trips(url: str) -> list[float]:
    """The machine's plain round trip right now (``SELECT 1``), paced like the events."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    latencies = []
    try:
        for _ in range(PACED):
            started = time.perf_counter()
            await connection.fetchval("SELECT 1")
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(PACE_SECONDS)
    finally:
        await connection.close()
    return latencies


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribe", nargs=2, metavar=("URL", "SESSION"))
    parser.add_argument("--durable", action="store_true")
    parser.add_argument("--listen", metavar="URL")
    arguments = parser.parse_args()
    if arguments.listen:
        asyncio.run(notified(arguments.listen))
        return
    if arguments.subscribe:
        url, session = arguments.subscribe
        asyncio.run(subscriber(url, UUID(session), arguments.durable))
        return
    with scratch_database() as url:
        measured = {
            "asynchronous commit (default)": asyncio.run(publisher(url, durable=False)),
            "durable commit": asyncio.run(publisher(url, durable=True)),
        }
        calibration = asyncio.run(_round_trips(url))
        floor = asyncio.run(_bare_notify(url))
    results: dict[str, dict[str, float]] = {}
    table: list[list[object]] = [
        ["commit", "subscriber", "load", "events", "p50 ms", "p99 ms", "max ms"]
    ]

    def add(commit: str, where: str, load: str, latencies: list[float]) -> None:
        row = {
            "events": len(latencies),
            "p50_ms": round(statistics.median(latencies), 3),
            "p99_ms": round(_percentile(latencies, 0.99), 3),
            "max_ms": round(max(latencies), 3),
        }
        results[f"{commit}, {where}, {load}"] = row
        table.append([commit, where, load, *row.values()])

    for commit, places in measured.items():
        for where, loads in places.items():
            for load, latencies in loads.items():
                add(commit, where, load, latencies)
    add("-", "calibration: SELECT 1 round trip", "paced", calibration)
    add("-", "calibration: bare NOTIFY to another process", "paced", floor)
    markdown = write(
        "fanout",
        "Event fan-out through PostgreSQL: publish to delivery, per event",
        {"results": results, "target": {"p50_ms": TARGET_P50_MS, "p99_ms": TARGET_P99_MS}},
        table,
        notes=[
            f"Target (issue 19): p50 < {TARGET_P50_MS} ms, p99 < {TARGET_P99_MS} ms added per "
            f"event. Paced: {PACED} events {PACE_SECONDS * 1000:.0f} ms apart. Burst: {BURST} "
            f"text deltas of one block, {BURST_CHUNK} per turn of the event loop, as a model's "
            "stream arrives (those waiting for one write are stored as one row).",
            "Other process: a subscriber in a second OS process on its own connections. "
            "Same process: a subscriber in the publishing process, which hears its own "
            "appends through the same LISTEN. Asynchronous commit is the default "
            "(KUMIAI_EVENT_DURABLE_COMMIT=false): an append does not wait for the disk; "
            "durable commit waits for a WAL flush per write. The calibration rows are a bare "
            "round trip, and a bare NOTIFY heard by another process, on the same server at "
            "the same time: the floor of any fan-out through PostgreSQL. The machine has 2 cores "
            "shared with other work: see the load average.",
        ],
    )
    print(markdown)


if __name__ == "__main__":
    main()
