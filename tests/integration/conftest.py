"""Most integration tests talk to the app in-process; those that read an event stream as
it comes (the v1 streams, task_changed) need a live server, since a stream never ends and
httpx's in-process transport cannot read it piecewise. They share the runtime tests'
live-server fixtures, made visible here to every integration package."""

from tests.integration.runtime.conftest import (  # noqa: F401 - pytest finds them by name
    claude,
    claude_server,
    live,
    live_database_url,
    live_settings,
    runtime,
)
