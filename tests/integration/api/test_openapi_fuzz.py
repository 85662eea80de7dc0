"""Schemathesis walks every v1 and v2 operation of a served app: the OpenAPI document is the truth.

Every check runs (server errors, undocumented statuses, response schemas, schema-violating
input accepted, schema-valid input refused, ``Allow`` on 405, ...) over the examples,
coverage and fuzzing phases, with a fixed seed and a bounded number of examples per
operation (``schemathesis.toml`` beside this file). The streaming endpoints are left out:
an SSE response never ends.

The app is served by uvicorn on its own thread and event loop, with a database of its
own and the scripted Anthropic server as Claude, so sends are accepted for real; the
Schemathesis command line runs against it, as CI or a developer would run it by hand.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from kumiai.core.config import load_settings
from kumiai.main import create_app
from tests.support.database import create_scratch_database, drop_database
from tests.support.processes import free_port
from tests.support.scripted_anthropic import ScriptedAnthropic

CONFIG = Path(__file__).with_name("schemathesis.toml")
STREAMING_OPERATIONS = (
    r"^/api/(v1/sessions/\{session_id\}/(stream|query)|v2/sessions/\{session_id\}/events)$"
)


@contextmanager
def _served(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free port from a thread with its own event loop."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="fuzzed-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "the app did not start"
        assert time.monotonic() < deadline, "the app did not start within 60 s"
        time.sleep(0.05)
    base_url = f"http://127.0.0.1:{port}"
    try:
        # The document is built on first use, slowly on a loaded machine (the suite runs
        # in parallel); Schemathesis gives its first request 10 s. Build it now.
        assert httpx.get(f"{base_url}/openapi.json", timeout=120).status_code == 200
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def served_api(
    postgres_server_url: str, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    database_url = create_scratch_database(
        postgres_server_url, prefix="kumiai_fuzz", template=migrated_template
    )
    home: Path = tmp_path_factory.mktemp("fuzz") / "home"
    try:
        with ScriptedAnthropic() as claude:
            settings = load_settings(
                home=home,
                database_url=database_url,
                ANTHROPIC_API_KEY="test-key",
                ANTHROPIC_BASE_URL=claude.base_url,
                _env_file=None,
            )
            with _served(create_app(settings)) as base_url:
                yield base_url
    finally:
        drop_database(database_url)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_operation_keeps_the_promises_of_the_openapi_document(
    served_api: str, tmp_path: Path
) -> None:
    command = [
        sys.executable,
        "-c",
        "from schemathesis.cli import schemathesis; schemathesis()",
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{served_api}/openapi.json",
        "--checks",
        "all",
        "--workers",
        "1",
        "--include-path-regex",
        r"^/api/v[12]/",
        "--exclude-path-regex",
        STREAMING_OPERATIONS,
    ]
    # In tmp_path: the command line keeps a .schemathesis folder in its working directory.
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=840, check=False
    )
    assert result.returncode == 0, _digest(result.stdout) + result.stderr[-5_000:]


def _digest(report: str) -> str:
    """Which operation failed which check, and the summary: the full report is long."""
    keep = ("___", "- ST", "Received:", "Documented:", "`Allow:", "curl ", "❌", "Test cases")
    lines = (line.strip() for line in report.splitlines())
    return "\n".join(line[:300] for line in lines if line.startswith(keep))
