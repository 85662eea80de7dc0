"""``ModelList`` over ``GET /v1/models``, with a plain HTTP client.

Not the Anthropic SDK: the first health check resolves the default model through this
list, and the SDK costs about a second of CPU and 45 MB to import, which the server
would then carry from its first answer on even if it never ran a turn. The request is
the documented one (``x-api-key``, ``anthropic-version``, ``limit``/``after_id``
paging); like the SDK client it replaces, it retries once what may pass by itself.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kumiai.application.ports.models import ModelInfo
from kumiai.core.exceptions import ClaudeUnavailableError
from kumiai.infrastructure.claude.credentials import MISSING_KEY_MESSAGE

if TYPE_CHECKING:
    import httpx2

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
PAGE_SIZE = 100
RETRY_DELAY_SECONDS = 0.5
MAX_RETRY_AFTER_SECONDS = 5.0
_RETRIED_STATUSES = frozenset({408, 409, 429})


class ModelListError(Exception):
    """The API answered the list with an error status."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(f"{status} {kind}: {message}")


class AnthropicModelList:
    """The models the configured API offers, every page of them.

    A short timeout and one retry: the list only refines which model a family name
    means, so a slow API must not hold up a turn or the health check for long.
    """

    def __init__(self, api_key: str | None, base_url: str | None, *, timeout: float = 5.0) -> None:
        self._api_key = api_key
        self._url = (base_url or DEFAULT_BASE_URL).rstrip("/") + "/v1/models"
        self._timeout = timeout
        self._client: httpx2.AsyncClient | None = None

    async def list_models(self) -> list[ModelInfo]:
        # No request without a key, as for the runtime: no fallback to other credentials.
        if not self._api_key:
            raise ClaudeUnavailableError(MISSING_KEY_MESSAGE)
        import httpx2  # noqa: PLC0415

        if self._client is None:
            self._client = httpx2.AsyncClient(
                timeout=self._timeout,
                headers={
                    "x-api-key": self._api_key,
                    "anthropic-version": API_VERSION,
                    "accept": "application/json",
                },
            )
        models: list[ModelInfo] = []
        after: str | None = None
        try:
            while True:
                page = await self._page(self._client, after)
                models.extend(_model(item) for item in page.get("data", []))
                after = page.get("last_id")
                if not page.get("has_more") or not after:
                    return models
        except ModelListError as error:
            raise ClaudeUnavailableError(f"cannot list the models: {error}") from error
        except httpx2.TimeoutException as error:
            raise ClaudeUnavailableError("cannot list the models: the request timed out") from error
        except httpx2.TransportError as error:
            raise ClaudeUnavailableError(
                f"cannot list the models: connection error ({type(error).__name__}: {error})"
            ) from error
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ClaudeUnavailableError(
                f"cannot list the models: unexpected answer ({type(error).__name__}: {error})"
            ) from error

    async def _page(self, client: httpx2.AsyncClient, after: str | None) -> dict[str, Any]:
        import httpx2  # noqa: PLC0415

        params: dict[str, str | int] = {"limit": PAGE_SIZE}
        if after is not None:
            params["after_id"] = after
        for attempt in (0, 1):
            try:
                response = await client.get(self._url, params=params)
            except httpx2.TransportError:
                if attempt:
                    raise
                await asyncio.sleep(RETRY_DELAY_SECONDS)
                continue
            if response.status_code < 400:
                page: dict[str, Any] = response.json()
                return page
            if attempt or not _worth_retrying(response):
                raise _error(response)
            await asyncio.sleep(_retry_delay(response))
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        """Release the HTTP connection pool."""
        if self._client is not None:
            await self._client.aclose()


def _model(item: dict[str, Any]) -> ModelInfo:
    return ModelInfo(
        id=item["id"],
        # Compatible servers and older API versions may leave these out.
        line=item.get("line"),
        created_at=datetime.fromisoformat(item["created_at"]),
        active=item.get("lifecycle", "active") == "active",
    )


def _worth_retrying(response: httpx2.Response) -> bool:
    hint = response.headers.get("x-should-retry")
    if hint in ("true", "false"):
        return hint == "true"
    return response.status_code in _RETRIED_STATUSES or response.status_code >= 500


def _retry_delay(response: httpx2.Response) -> float:
    for header, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            seconds = float(response.headers.get(header, "")) / scale
        except ValueError:
            continue
        return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
    return RETRY_DELAY_SECONDS


def _error(response: httpx2.Response) -> ModelListError:
    kind, message = "error", response.text[:200]
    try:
        error = response.json().get("error") or {}
        kind, message = error.get("type") or kind, error.get("message") or message
    except (ValueError, AttributeError):
        pass
    return ModelListError(response.status_code, kind, message)
