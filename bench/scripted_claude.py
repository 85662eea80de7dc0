"""The scripted Claude of ``bench/stream.py`` and ``bench/history.py``, in its own process.

Run as ``python -m bench.scripted_claude SPEC_JSON`` from the repository root. SPEC maps
a marker to ``{"replies", "deltas", "delay"}``: that many replies, each one text block
of ``deltas`` stamped deltas (``Text.stamped``) sent ``delay`` seconds apart, serve
requests whose system prompt contains the marker. The server prints its base URL,
then serves until its standard input closes. Its own process keeps it from sharing a
GIL with the benchmark's clients.
"""

from __future__ import annotations

import json
import sys

from tests.support.scripted_anthropic import Reply, ScriptedAnthropic, Text


def main() -> None:
    spec = json.loads(sys.argv[1])
    with ScriptedAnthropic() as claude:
        for marker, shape in spec.items():
            turn = Reply.turn([Text.stamped(shape["deltas"])]).slow(shape["delay"])
            claude.enqueue(*[turn] * shape["replies"], when_system_contains=marker)
        print(claude.base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
