"""Which Claude model a turn uses: the one place where model names are resolved.

A full model id (``claude-sonnet-4-6``) is used as is. A family name (``haiku``,
``sonnet``, ``opus``, as v1 characters store them, and the default) means the newest
active model of that family in the API's model list. The list is fetched at most once
an hour; when it cannot be fetched, a fixed table answers and the list is tried again
a few minutes later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from kumiai.application.ports.models import ModelInfo, ModelList
from kumiai.core.exceptions import KumiAIError
from kumiai.core.logging import get_logger

logger = get_logger(__name__)

FAMILIES = ("haiku", "sonnet", "opus")
# The newest model of each family this release knows; used only without a model list.
FALLBACK_MODELS = {
    "haiku": "claude-haiku-5-5",
    "sonnet": "claude-sonnet-5-5",
    "opus": "claude-opus-5-5",
}

ModelSource = Literal["as_given", "model_list", "fallback"]


@dataclass(frozen=True)
class ResolvedModel:
    """A model name and the model id it resolved to, with where the answer came from."""

    requested: str
    id: str
    source: ModelSource
    problem: str | None = None  # why the model list was not used, for a fallback


@dataclass(frozen=True)
class _Listing:
    models: list[ModelInfo] | None  # None: the list could not be fetched
    problem: str | None
    fetched_at: float


class ModelResolver:
    def __init__(
        self,
        models: ModelList,
        *,
        default: str,
        ttl_seconds: float = 3600.0,
        retry_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._models = models
        self._default = default
        self._ttl = ttl_seconds
        self._retry = retry_seconds
        self._clock = clock
        self._listing: _Listing | None = None
        self._lock = asyncio.Lock()

    async def resolve(self, name: str | None = None) -> ResolvedModel:
        """The model for ``name``, or for the configured default when it is None."""
        requested = (name or "").strip() or self._default
        family = requested.lower()
        if family not in FAMILIES:
            return ResolvedModel(requested, requested, "as_given")
        listing = await self._current_listing()
        newest = _newest(listing.models or [], family)
        if newest is not None:
            return ResolvedModel(requested, newest, "model_list")
        problem = listing.problem or f"the model list has no active {family} model"
        return ResolvedModel(requested, FALLBACK_MODELS[family], "fallback", problem)

    @property
    def default(self) -> str:
        """The configured default: a model id or a family."""
        return self._default

    async def usable_families(self) -> list[ResolvedModel]:
        """The families a turn can use now, each resolved: those with an active model in
        the API's list, or every family of the built-in table while there is no list."""
        listing = await self._current_listing()
        if listing.models is None:
            return [
                ResolvedModel(family, FALLBACK_MODELS[family], "fallback", listing.problem)
                for family in FAMILIES
            ]
        found = [(family, _newest(listing.models, family)) for family in FAMILIES]
        return [ResolvedModel(family, model, "model_list") for family, model in found if model]

    async def aclose(self) -> None:
        await self._models.aclose()

    async def _current_listing(self) -> _Listing:
        async with self._lock:
            listing = self._listing
            if listing is None or self._clock() - listing.fetched_at >= self._lifetime(listing):
                listing = self._listing = await self._fetch()
            return listing

    def _lifetime(self, listing: _Listing) -> float:
        return self._ttl if listing.models is not None else self._retry

    async def _fetch(self) -> _Listing:
        try:
            models = await self._models.list_models()
        except KumiAIError as error:
            logger.warning("model_list_unavailable", error=error.message)
            return _Listing(None, f"the model list is unavailable: {error.message}", self._clock())
        return _Listing(models, None, self._clock())


def _newest(models: list[ModelInfo], family: str) -> str | None:
    candidates = [model for model in models if model.active and model.line == family]
    if not candidates:
        return None
    return max(candidates, key=lambda model: (model.created_at, model.id)).id
