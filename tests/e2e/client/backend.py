"""The backend a browser test of the KumiAI web client talks to, scripted over stdin.

Run from the repository root::

    python -m tests.e2e.client.backend --port 7892 --cors-origin http://127.0.0.1:1420

It starts the scripted Anthropic-compatible server, then ``kumiai serve`` on a fresh
``KUMIAI_HOME`` (embedded PostgreSQL, or a fresh database on ``--database-server``) with
the agent runtime (``--runtime``: the Anthropic API or Claude Code) pointed at that
server. It prints one JSON line ``{"event": "ready", ...}`` and then answers one JSON
command per stdin line with one JSON line on stdout, so the driver scripts Claude's
replies just before it triggers them:

- ``{"op": "enqueue", "replies": [REPLY, ...]}``: the agents' next replies, in order;
- ``{"op": "requests", "since": 0}``: the agents' model requests so far (the tools
  offered and the last message of each), and how many requests found no reply;
- ``{"op": "wait_requests", "count": 3, "timeout": 10}``: the same, once there are 3.

A REPLY is ``{"text": "...", "chunks": 3}``, or ``{"blocks": [{"text": "..."},
{"tool_use": "AskUserQuestion", "input": {...}}], "stop_reason": "tool_use"}``; either
may add ``"delay_per_event"`` (seconds) to stream slowly. Everything stops on stdin EOF,
SIGTERM or SIGINT, and the home and database are removed.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NoReturn

from tests.support.database import create_scratch_database, drop_database
from tests.support.processes import kumiai_env, serving
from tests.support.scripted_anthropic import (
    Block,
    RecordedRequest,
    Reply,
    ScriptedAnthropic,
    ScriptedReply,
    Text,
    ToolUse,
)

SCRIPTED_API_KEY = "sk-ant-scripted-client-e2e"
SCRIPTED_OAUTH_TOKEN = "sk-ant-oat-scripted-client-e2e"
# How much of a request's system prompt the driver sees (enough to tell who asked).
SYSTEM_EXCERPT = 300
# Every KumiAI agent's system prompt has this section (runtime/prompt.py), on both runtimes.
AGENT_PROMPT = "## Workspace"
# Claude Code's own request for a new session's title, and how many of them one run answers.
SESSION_TITLE_PROMPT = "You are naming a coding session"
SESSION_TITLES = 50


def reply_from_spec(spec: dict[str, Any]) -> ScriptedReply:
    """Turn one REPLY of the control protocol into a scripted reply."""
    if "error" in spec:
        return Reply.error(int(spec["error"]), message=spec.get("message"))
    if "text" in spec:
        turn = Reply.text(spec["text"], chunks=int(spec.get("chunks", 3)))
    else:
        blocks = [_block_from_spec(block) for block in spec["blocks"]]
        calls_tools = any(isinstance(block, ToolUse) for block in blocks)
        turn = Reply.turn(
            blocks, spec.get("stop_reason", "tool_use" if calls_tools else "end_turn")
        )
    delay = float(spec.get("delay_per_event", 0))
    return turn.slow(delay) if delay else turn


def _block_from_spec(spec: dict[str, Any]) -> Block:
    if "tool_use" in spec:
        if "id" in spec:
            return ToolUse(spec["tool_use"], spec.get("input", {}), spec["id"])
        return ToolUse(spec["tool_use"], spec.get("input", {}))
    return Text(spec["text"], int(spec.get("chunks", 3)))


def describe_request(request: RecordedRequest) -> dict[str, Any]:
    """What the driver checks of one model request: the tools offered and the last message."""
    return {
        "path": request.path,
        "model": request.model,
        "system": json.dumps(request.system)[:SYSTEM_EXCERPT],
        "tools": [tool.get("name") for tool in request.tools],
        "last_message": request.messages[-1] if request.messages else None,
    }


class Controller:
    """Answers the driver's commands against the scripted server.

    Replies the driver enqueues go to the agents' requests only: those whose system
    prompt carries KumiAI's workspace section. Claude Code also asks the model to name
    each new session; those requests get a title, and neither they nor anything else
    the driver did not script are counted as the agents' requests.
    """

    def __init__(self, claude: ScriptedAnthropic, titles: int = SESSION_TITLES) -> None:
        self._claude = claude
        self._claude.enqueue(
            *(Reply.text("Scripted session") for _ in range(titles)),
            when_system_contains=SESSION_TITLE_PROMPT,
        )
        self._enqueued = titles

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        op = command.get("op")
        if op == "enqueue":
            replies = [reply_from_spec(spec) for spec in command["replies"]]
            marker = command.get("when_system_contains", AGENT_PROMPT)
            self._claude.enqueue(*replies, when_system_contains=marker)
            self._enqueued += len(replies)
            return {"ok": True}
        if op == "requests":
            return self._requests(int(command.get("since", 0)))
        if op == "wait_requests":
            count, timeout = int(command["count"]), float(command.get("timeout", 10))
            return self._wait(count, timeout, int(command.get("since", 0)))
        return {"ok": False, "error": f"unknown op {op!r}"}

    def _agent_requests(self) -> list[RecordedRequest]:
        return [
            request
            for request in self._claude.requests
            if request.path == "/v1/messages" and AGENT_PROMPT in json.dumps(request.system)
        ]

    def _wait(self, count: int, timeout: float, since: int) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while len(self._agent_requests()) < count:
            if time.monotonic() > deadline:
                got = len(self._agent_requests())
                error = f"expected {count} agent request(s) within {timeout}s, got {got}"
                return {**self._requests(since), "ok": False, "error": error}
            time.sleep(0.05)
        return self._requests(since)

    def _requests(self, since: int = 0) -> dict[str, Any]:
        every = [request for request in self._claude.requests if request.path == "/v1/messages"]
        agents = self._agent_requests()
        answered = self._enqueued - self._claude.pending
        return {
            "ok": True,
            "count": len(agents),
            "others": len(every) - len(agents),
            # Requests that found no scripted reply (answered 500 "no scripted reply left").
            "unscripted": max(0, len(every) - answered),
            "requests": [describe_request(request) for request in agents[since:]],
        }


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As uvicorn binds: connections of an earlier server in TIME_WAIT don't count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def _database(server_url: str | None) -> Iterator[str | None]:
    """A fresh database on ``server_url``, dropped afterwards; None means embedded."""
    if server_url is None:
        yield None
        return
    url = create_scratch_database(server_url, prefix="kumiai_client_e2e")
    try:
        yield url
    finally:
        drop_database(url)


@contextmanager
def _home() -> Iterator[Path]:
    """A fresh home in the system temp folder, which the embedded server's user can enter."""
    with tempfile.TemporaryDirectory(prefix="kumiai-client-e2e-") as folder:
        home = Path(folder)
        home.chmod(0o755)
        yield home


def _claude_code_login(home: Path) -> Path:
    """A Claude Code folder of the run's own, logged in with a scripted OAuth token.

    Settings reads the subscription's usage with that token (from the scripted server),
    and nothing of the machine's own Claude Code login or state is read or written.
    """
    folder = home / ".claude"
    folder.mkdir()
    credentials = folder / ".credentials.json"
    credentials.write_text(json.dumps({"claudeAiOauth": {"accessToken": SCRIPTED_OAUTH_TOKEN}}))
    credentials.chmod(0o600)
    return folder


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _stop_on_signal(signum: int, _frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=7892, help="where kumiai serve listens")
    parser.add_argument(
        "--cors-origin", action="append", default=[], help="an origin the client is served from"
    )
    parser.add_argument(
        "--database-server",
        help="a PostgreSQL admin URL to create a fresh database on (default: embedded)",
    )
    parser.add_argument(
        "--runtime",
        choices=["anthropic", "claude-code"],
        default="anthropic",
        help="who runs agent turns; both talk to the scripted server",
    )
    parser.add_argument("--serve-log", type=Path, help="where kumiai serve's output goes")
    parser.add_argument("--startup-timeout", type=float, default=120.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    if not _port_is_free(arguments.port):
        _emit({"event": "error", "error": f"port {arguments.port} is already in use"})
        return 2
    with ExitStack() as stack:
        claude = stack.enter_context(ScriptedAnthropic())
        home = stack.enter_context(_home())
        database_url = stack.enter_context(_database(arguments.database_server))
        extra = {
            "KUMIAI_RUNTIME": arguments.runtime,
            "ANTHROPIC_API_KEY": SCRIPTED_API_KEY,
            "ANTHROPIC_BASE_URL": claude.base_url,
            "KUMIAI_CORS_ORIGINS": ",".join(arguments.cors_origin),
            "KUMIAI_LOG_FORMAT": "console",
            "CLAUDE_CONFIG_DIR": str(_claude_code_login(home)),
        }
        if database_url is not None:
            extra["KUMIAI_DATABASE_URL"] = database_url
        log = arguments.serve_log or home / "serve.log"
        env = kumiai_env(home, **extra)
        try:
            server = stack.enter_context(
                serving(env, arguments.startup_timeout, port=arguments.port, log=log)
            )
        except AssertionError as error:
            _emit({"event": "error", "error": f"{error}"[-4000:]})
            return 1
        _emit(
            {
                "event": "ready",
                "api_url": server.base_url,
                "anthropic_url": claude.base_url,
                "home": str(home),
                "serve_log": str(log),
                "database": database_url or "embedded",
            }
        )
        controller = Controller(claude)
        for line in sys.stdin:
            if line.strip():
                _emit(controller.handle(json.loads(line)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
