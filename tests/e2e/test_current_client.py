"""The current KumiAI web client (2026-03, 82fdb30) in headless Chromium (issue 16).

The client is never part of this repository: build it elsewhere (README, "The current
web client, in a browser") and name its ``dist`` folder, or the URL it is served at, in
``KUMIAI_CLIENT``. Without it, Node.js, Chromium or ``tests/e2e/client/node_modules``,
the test is skipped and says which one is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DRIVER = Path(__file__).parent / "client" / "drive.mjs"
CLIENT_VARIABLE = "KUMIAI_CLIENT"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _why_it_cannot_run() -> str | None:
    client = os.environ.get(CLIENT_VARIABLE)
    if not client:
        return f"{CLIENT_VARIABLE} is not set: build the web client and point it at its dist folder"
    if (
        not client.startswith(("http://", "https://"))
        and not (Path(client) / "index.html").is_file()
    ):
        return f"{CLIENT_VARIABLE}={client} holds no built client (no index.html)"
    if shutil.which("node") is None:
        return "node is not installed"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
    if not (DRIVER.parent / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is not installed: run `npm ci` in tests/e2e/client"
    return None


@pytest.mark.timeout(1200)
def test_the_current_client_runs_its_journeys_with_no_failed_api_call(
    request: pytest.FixtureRequest,
) -> None:
    reason = _why_it_cannot_run()
    if reason is not None:
        pytest.skip(reason)
    # Asked for only now: without a client there is no server to start.
    postgres_server_url: str = request.getfixturevalue("postgres_server_url")
    run = subprocess.run(
        [
            "node",
            str(DRIVER),
            "--client",
            os.environ[CLIENT_VARIABLE],
            "--python",
            sys.executable,
            "--database-server",
            postgres_server_url,
        ],
        capture_output=True,
        text=True,
        timeout=1100,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
