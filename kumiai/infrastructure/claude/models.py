"""``ModelList`` on the Anthropic SDK: ``GET /v1/models`` through ``models.list``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kumiai.application.ports.models import ModelInfo
from kumiai.core.exceptions import ClaudeUnavailableError
from kumiai.infrastructure.claude.credentials import MISSING_KEY_MESSAGE

if TYPE_CHECKING:
    import anthropic


class AnthropicModelList:
    """The models the configured API offers, every page of them.

    A short timeout and one retry: the list only refines which model a family name
    means, so a slow API must not hold up a turn or the health check for long.
    """

    def __init__(self, api_key: str | None, base_url: str | None, *, timeout: float = 5.0) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout
        self._client: anthropic.AsyncAnthropic | None = None

    async def list_models(self) -> list[ModelInfo]:
        # No client without a key, as for the runtime: no fallback to other credentials.
        if not self._api_key:
            raise ClaudeUnavailableError(MISSING_KEY_MESSAGE)
        if self._client is None:
            # The SDK takes a second of CPU to import: off the event loop, on first use.
            self._client = await asyncio.to_thread(self._new_client, self._api_key)
        import anthropic  # noqa: PLC0415
        import httpx2  # noqa: PLC0415

        from kumiai.infrastructure.claude.retry import describe  # noqa: PLC0415

        try:
            return [
                ModelInfo(
                    id=model.id,
                    # Compatible servers and older API versions may leave these out.
                    line=getattr(model, "line", None),
                    created_at=model.created_at,
                    active=getattr(model, "lifecycle", "active") == "active",
                )
                async for model in self._client.models.list(limit=100)
            ]
        except (anthropic.APIError, httpx2.TransportError) as error:
            raise ClaudeUnavailableError(f"cannot list the models: {describe(error)}") from error

    def _new_client(self, api_key: str) -> anthropic.AsyncAnthropic:
        import anthropic  # noqa: PLC0415

        return anthropic.AsyncAnthropic(
            api_key=api_key, base_url=self._base_url, max_retries=1, timeout=self._timeout
        )

    async def aclose(self) -> None:
        """Release the HTTP connection pool."""
        if self._client is not None:
            await self._client.close()
