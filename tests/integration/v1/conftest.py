"""The v1 tests reuse the live-server fixtures of the runtime tests: streams are endless,
so they need a real port (httpx's in-process transport does not stream them)."""

from tests.integration.runtime.conftest import (  # noqa: F401 - pytest finds them by name
    claude,
    claude_server,
    live,
    live_database_url,
    live_settings,
    runtime,
)
