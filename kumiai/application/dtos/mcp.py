from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class McpServerView(BaseModel):
    """An MCP server the user configured; characters list its id in ``allowed_mcps``."""

    id: str
    name: str
    description: str
    command: str = Field(description="The command line, or the URL of a remote server.")
    config: dict[str, Any] = Field(description="The entry as configured, without secrets.")
    status: Literal["active", "inactive"]
