"""``ModelList`` on the Anthropic SDK: ``GET /v1/models`` through ``models.list``."""

from __future__ import annotations

import anthropic
import httpx2

from kumiai.application.ports.models import ModelInfo
from kumiai.core.exceptions import ClaudeUnavailableError
from kumiai.infrastructure.claude.anthropic_runtime import MISSING_KEY_MESSAGE
from kumiai.infrastructure.claude.retry import describe


class AnthropicModelList:
    """The models the configured API offers, every page of them.

    A short timeout and one retry: the list only refines which model a family name
    means, so a slow API must not hold up a turn or the health check for long.
    """

    def __init__(self, api_key: str | None, base_url: str | None, *, timeout: float = 5.0) -> None:
        # No client without a key, as for the runtime: no fallback to other credentials.
        self._client = (
            anthropic.AsyncAnthropic(
                api_key=api_key, base_url=base_url, max_retries=1, timeout=timeout
            )
            if api_key
            else None
        )

    async def list_models(self) -> list[ModelInfo]:
        if self._client is None:
            raise ClaudeUnavailableError(MISSING_KEY_MESSAGE)
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

    async def aclose(self) -> None:
        """Release the HTTP connection pool."""
        if self._client is not None:
            await self._client.close()
