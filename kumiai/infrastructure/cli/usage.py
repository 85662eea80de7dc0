"""``LiveUsageSource``: how much of a Claude subscription's limits is used, right now.

Claude Code shows this from ``GET /api/oauth/usage``, asked with its OAuth token. The
request goes to the configured Anthropic base URL (``ANTHROPIC_BASE_URL``, else the
API's own), the one every other Claude request of KumiAI uses: no other host is ever
contacted. The token is ``CLAUDE_CODE_OAUTH_TOKEN``, else the one Claude Code keeps in
``<CLAUDE_CONFIG_DIR or ~/.claude>/.credentials.json``; without one nothing is asked.
"""

from __future__ import annotations

from typing import Any

from kumiai.application.ports.cli_backends import LiveUsage, UsageWindow
from kumiai.core.logging import get_logger
from kumiai.infrastructure.claude.models import DEFAULT_BASE_URL
from kumiai.infrastructure.filesystem.text_file import read_json_object
from kumiai.infrastructure.runtime_selection import claude_config_dir

logger = get_logger(__name__)

USAGE_PATH = "/api/oauth/usage"
OAUTH_BETA = "oauth-2025-04-20"
TIMEOUT_SECONDS = 5.0
# The answer's windows, in the order and with the labels the Settings page shows.
WINDOWS = {
    "five_hour": "5-hour",
    "seven_day": "7-day",
    "seven_day_sonnet": "7-day Sonnet",
    "seven_day_opus": "7-day Opus",
}
UNAUTHENTICATED = LiveUsage(error="unauthenticated")
UNAVAILABLE = LiveUsage(error="unavailable")


class ClaudeUsageApi:
    def __init__(
        self, base_url: str | None, oauth_token: str | None, *, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self._url = (base_url or DEFAULT_BASE_URL).rstrip("/") + USAGE_PATH
        self._oauth_token = oauth_token
        self._timeout = timeout

    async def claude(self) -> LiveUsage:
        token = self._oauth_token or _stored_token()
        if not token:
            return UNAUTHENTICATED
        import httpx2  # noqa: PLC0415 - only this request needs it

        headers = {"authorization": f"Bearer {token}", "anthropic-beta": OAUTH_BETA}
        try:
            async with httpx2.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(self._url, headers=headers)
            if response.status_code != 200:
                return LiveUsage(error=f"http_{response.status_code}")
            return LiveUsage(windows=_windows(response.json()))
        except (httpx2.HTTPError, ValueError, TypeError, AttributeError) as error:
            logger.warning("claude_usage_unavailable", error=type(error).__name__)
            return UNAVAILABLE


def _stored_token() -> str | None:
    credentials = read_json_object(claude_config_dir() / ".credentials.json")
    oauth = credentials.get("claudeAiOauth")
    token = oauth.get("accessToken") if isinstance(oauth, dict) else None
    return token if isinstance(token, str) and token else None


def _windows(answer: dict[str, Any]) -> list[UsageWindow]:
    """The windows the answer has; the API counts use in percent, the client in 0-1."""
    windows = []
    for key, label in WINDOWS.items():
        entry = answer.get(key)
        if not isinstance(entry, dict):
            continue
        percent = float(entry.get("utilization") or 0)
        resets_at = entry.get("resets_at")
        windows.append(
            UsageWindow(
                label=label,
                utilization=round(min(max(percent / 100, 0.0), 1.0), 4),
                resets_at=resets_at if isinstance(resets_at, str) else None,
            )
        )
    return windows
