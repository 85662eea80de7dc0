"""The port to the model list of the Claude API (``GET /v1/models``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class ModelInfo:
    """One model the API offers.

    ``line`` is the family the API puts it in (``haiku``, ``sonnet``, ``opus``, ...),
    None when it belongs to none; ``active`` is False for deprecated and retired models.
    """

    id: str
    line: str | None
    created_at: datetime
    active: bool = True


class ModelList(Protocol):
    async def list_models(self) -> list[ModelInfo]:
        """Every model the API offers; ``ClaudeUnavailableError`` when it cannot say."""
        ...

    async def aclose(self) -> None:
        """Release the connections."""
        ...
