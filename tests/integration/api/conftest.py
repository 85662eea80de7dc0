"""Most API tests talk to the app in-process; the few that follow an event stream reuse
the live-server fixtures of the runtime tests (a stream never ends, so httpx's in-process
transport cannot read it as it comes)."""

from tests.integration.runtime.conftest import (  # noqa: F401 - pytest finds them by name
    claude,
    claude_server,
    live,
    live_database_url,
    live_settings,
    runtime,
)
