from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ToolInfo(BaseModel):
    """A tool KumiAI gives agents; ``id`` is the name ``allowed_tools`` would hold."""

    id: str
    provider: str
    category: str
    name: str
    description: str
    input_schema: dict[str, Any]
