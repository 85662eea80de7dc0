from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from kumiai.application.dtos.base import View

# What the API shows instead of an env value or a header. Sent back in an update, it
# keeps the value already stored, so a client can edit a server without knowing it.
REDACTED = "<redacted>"

ServerName = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_-]{1,48}$")
]


class McpServerView(BaseModel):
    """An MCP server the user configured; characters list its id in ``allowed_mcps``."""

    id: str
    name: str
    description: str
    command: str = Field(description="The command line, or the URL of a remote server.")
    config: dict[str, Any] = Field(description="The entry as configured, without secrets.")
    status: Literal["active", "inactive"]
    source: Literal["kumiai", "claude_code"] = Field(
        description="`kumiai`: $KUMIAI_HOME/mcp_servers.json; `claude_code`: ~/.claude.json."
    )


def _redacted(values: dict[str, str]) -> dict[str, str]:
    return dict.fromkeys(values, REDACTED)


Redacted = Annotated[dict[str, str], AfterValidator(_redacted)]


class McpServerDetail(View):
    """A server definition for the v2 API; env values and headers are redacted."""

    name: str
    source: Literal["kumiai", "claude_code"]
    transport: Literal["stdio", "http", "sse"]
    command: str
    args: list[str]
    url: str
    env: Redacted = Field(description=f"Variable names; every value reads {REDACTED!r}.")
    headers: Redacted = Field(description=f"Header names; every value reads {REDACTED!r}.")
    description: str
    disabled: bool


class McpServerInput(BaseModel):
    """A server as the user writes it: a command (stdio) or a URL (http, sse)."""

    transport: Literal["stdio", "http", "sse"] = "stdio"
    command: str = ""
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    url: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    disabled: bool = False

    @model_validator(mode="after")
    def _check_transport(self) -> McpServerInput:
        if self.transport == "stdio" and not self.command.strip():
            raise ValueError("a stdio server needs a command")
        if self.transport != "stdio" and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"an {self.transport} server needs an http:// or https:// url")
        return self


class McpServerCreate(McpServerInput):
    name: ServerName


class McpToolView(BaseModel):
    name: str = Field(description="The tool's name on its server.")
    agent_name: str = Field(description="The name agents call it by: mcp__<server>__<tool>.")
    description: str


class McpTestResult(BaseModel):
    """Whether KumiAI could start the server and list its tools."""

    ok: bool
    tools: list[McpToolView]
    error: str | None = None
