"""Settings, read from ``KUMIAI_*`` environment variables and ``.env``.

``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL`` and ``CLAUDE_CODE_OAUTH_TOKEN`` keep their
standard names so the same shell setup works for every Anthropic tool.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kumiai.core.exceptions import ConfigurationError

# The web client's origins: the desktop app (1420, 1421) and the dev servers (3000, 5173).
DEFAULT_CORS_ORIGINS = tuple(
    f"http://{host}:{port}"
    for port in (1420, 1421, 3000, 5173)
    for host in ("localhost", "127.0.0.1")
)
# A browser origin: scheme, host and an optional port, nothing after them. Anything else
# (a trailing slash, a path, ``*``) would never match, or match every page while the
# browser sends its cookies along.
ORIGIN_PATTERN = re.compile(r"^https?://[^/\s?#*]+$")

# What each CLI backend offers until the operator says otherwise (KUMIAI_<NAME>_MODELS);
# the first is the default model an agent switched to that backend gets.
DEFAULT_CLI_MODELS: dict[str, tuple[str, ...]] = {
    "codex": (
        "gpt-5.3-codex",
        "gpt-5.3-codex-spark",
        "gpt-5.1-codex-max",
        "gpt-5-codex-mini",
        "o3",
        "o4-mini",
    ),
    "gemini": ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash"),
    "opencode": (),
}

RuntimeName = Literal["anthropic", "claude-code", "auto"]


CLI_MEMORY_SHARE = 0.5
"""The share of the machine's memory the agent CLI processes of one runtime may take."""
UNKNOWN_MEMORY_CLI_CAP = 4
"""The CLI cap where the machine's memory cannot be read."""


def physical_memory_bytes() -> int | None:
    """The machine's memory, or None where the OS does not say (Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def memory_based_cap(memory_bytes: int | None, process_mb: int) -> int:
    """How many processes of ``process_mb`` fit in the CLI share of ``memory_bytes``."""
    if not memory_bytes or memory_bytes <= 0:
        return UNKNOWN_MEMORY_CLI_CAP
    return max(1, int(memory_bytes * CLI_MEMORY_SHARE) // (process_mb * 1024 * 1024))


def _split_csv(value: object) -> object:
    """Lists may be given as JSON (``["a","b"]``) or as comma-separated text."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


# The shapes several settings share; each is declared once here.
TextList = Annotated[list[str], NoDecode, BeforeValidator(_split_csv)]
"""A list, given as JSON or as comma-separated text."""
Seconds = Annotated[float, Field(gt=0)]
"""A duration in seconds, more than zero."""
Count = Annotated[int, Field(ge=1)]
"""How many of something, at least one."""
UserPath = Annotated[Path, AfterValidator(lambda path: path.expanduser().absolute())]
"""A path that may start with ``~``, made absolute."""
CliPath = Annotated[Path, AfterValidator(Path.expanduser)] | None
"""An agent CLI's executable; None: looked up on PATH."""


def _standard_variable(name: str) -> Any:
    """A setting read from the standard variable ``name`` (or ``KUMIAI_<name>``)."""
    return Field(default=None, validation_alias=AliasChoices(name, f"KUMIAI_{name}"))


def _offered_models(backend: str) -> Any:
    """The models ``backend``'s agents may use: ``KUMIAI_<BACKEND>_MODELS``, else the
    built-in list."""
    return Field(
        default_factory=lambda: list(DEFAULT_CLI_MODELS[backend]),
        description=f"Models offered for {backend} agents; the first is the default.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KUMIAI_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    home: UserPath = Field(default=Path("~/.kumiai"), description="Data folder (files, pgdata).")
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=7892, ge=1, le=65535)
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL; when unset an embedded server runs in $KUMIAI_HOME/pgdata.",
    )
    embedded_database_url: str | None = Field(
        default=None,
        description="Set by `kumiai serve` for its workers once the embedded server is up.",
    )
    # Above the busiest load a laptop sees (a browser's connections plus running turns), so
    # connections are reused: an overflow connection is opened per request and closed
    # after it, a connect, TLS probe and type introspection each time.
    db_pool_size: Count = Field(default=20, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    db_pool_timeout: Seconds = 10.0
    db_connect_timeout: Seconds = 5.0
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    cors_origins: TextList = Field(default_factory=lambda: list(DEFAULT_CORS_ORIGINS))
    allowed_hosts: TextList = Field(default_factory=list)
    api_token: SecretStr | None = None
    max_body_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    body_timeout: Seconds = Field(
        default=30.0, description="Seconds a request body may stall before a 408."
    )
    default_model: str = Field(
        default="sonnet",
        min_length=1,
        description="A model id, or a family (haiku, sonnet, opus): its newest model.",
    )
    model_list_ttl: Seconds = Field(
        default=3600.0, description="Seconds the API's model list is kept."
    )
    context_window_tokens: int = Field(
        default=200_000,
        ge=16_384,
        description="The model's context window; each request is trimmed to fit it.",
    )
    turn_retries: int = Field(
        default=3,
        ge=0,
        le=20,
        description="How many times a turn retries a recoverable failure of the model.",
    )
    retry_backoff_seconds: Seconds = Field(
        default=0.5,
        description="The first retry's wait; each next one waits twice as long (at most 8 s).",
    )
    stream_flush_seconds: Seconds = Field(
        default=1.0,
        description="How often the text of a streaming reply is saved (what a crash can lose).",
    )
    prompt_caching: bool = Field(
        default=True, description="Mark tools, system prompt and history as cacheable."
    )
    skill_import_timeout: Seconds = Field(
        default=120.0, description="Seconds a git clone for a skill import may take."
    )
    skill_import_max_bytes: int = Field(
        default=200 * 1024 * 1024, ge=1024, description="Largest repository a skill import clones."
    )
    skill_import_allow_file_urls: bool = Field(
        default=False, description="Accept file:// git URLs (tests and local mirrors)."
    )
    process_lease_seconds: float = Field(
        default=5.0,
        ge=0.5,
        description="A server process silent this long is dead; another takes its sessions.",
    )
    process_heartbeat_seconds: Seconds = Field(
        default=1.0, description="How often a server process renews its lease."
    )
    max_concurrent_turns: Count | None = Field(
        default=None,
        description="Turns running at once across every runtime, if set; more wait.",
    )
    max_api_turns: Count = Field(
        default=64,
        description="Turns running at once on the Anthropic API runtime (they wait on I/O).",
    )
    max_cli_turns: Count | None = Field(
        default=None,
        description="Turns running at once on each CLI runtime (Claude Code, Codex, Gemini,"
        " OpenCode: one process each); unset, it follows the memory (cli_turn_memory_mb).",
    )
    cli_turn_memory_mb: int = Field(
        default=512,
        ge=16,
        description="Memory one agent CLI process is taken to need: the default CLI cap is"
        " half the machine's memory divided by this.",
    )
    event_buffer_events: int = Field(
        default=2000, ge=10, description="Events kept per session for Last-Event-ID replay."
    )
    event_buffer_bytes: int = Field(
        default=1024 * 1024, ge=4096, description="Bytes of events kept per session for replay."
    )
    event_retention_hours: float = Field(
        default=7 * 24,
        gt=0,
        description="Hours a persisted event stays replayable; older ones are pruned.",
    )
    event_retention_per_session: int = Field(
        default=20_000,
        ge=100,
        description="Persisted events kept per session; the oldest beyond it are pruned.",
    )
    event_durable_commit: bool = Field(
        default=False,
        description="Each event write waits for the disk: no event lost even if PostgreSQL "
        "itself crashes, at the cost of a disk flush per write (see DESIGN.md, Events).",
    )
    event_prune_interval: Seconds = Field(
        default=300.0, description="Seconds between two background prunings of events."
    )
    max_specialists_per_session: Count = Field(
        default=20, description="Live specialists one PM session may have started."
    )
    agent_message_budget: Count = Field(
        default=50,
        description="Messages agents may send each other on behalf of one user message.",
    )
    claude_config_file: UserPath = Field(
        default=Path("~/.claude.json"),
        description="Claude Code's config; its mcpServers are offered to agents too.",
    )
    mcp_start_timeout: Seconds = Field(default=30.0, description="Seconds to start a server.")
    mcp_call_timeout: Seconds = Field(default=300.0, description="Seconds for one MCP call.")
    mcp_idle_timeout: Seconds = Field(
        default=900.0, description="A session's MCP server unused this long is stopped."
    )
    anthropic_api_key: SecretStr | None = _standard_variable("ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = _standard_variable("ANTHROPIC_BASE_URL")
    runtime: RuntimeName = Field(
        default="auto",
        description="Who runs agent turns: the Anthropic API, Claude Code, or auto (see README).",
    )
    claude_code_oauth_token: SecretStr | None = _standard_variable("CLAUDE_CODE_OAUTH_TOKEN")
    claude_code_cli: Path | None = Field(
        default=None, description="A Claude Code CLI to use instead of the SDK's bundled one."
    )
    codex_cli: CliPath = Field(default=None, description="The codex CLI; else PATH.")
    gemini_cli: CliPath = Field(default=None, description="The gemini CLI; else PATH.")
    opencode_cli: CliPath = Field(default=None, description="The opencode CLI; else PATH.")
    codex_models: TextList = _offered_models("codex")
    gemini_models: TextList = _offered_models("gemini")
    opencode_models: TextList = _offered_models("opencode")
    codex_config: TextList = Field(
        default_factory=list,
        description="Codex settings (`key=value`, the value in TOML) for codex agents' "
        "turns, e.g. a model provider: your own config.toml is not loaded for them.",
    )

    @field_validator("cors_origins", mode="after")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        """Explicit origins only: the web client sends credentials, and with those a
        wildcard would let every web page read the answers."""
        for origin in origins:
            if not ORIGIN_PATTERN.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin like http://localhost:1420 "
                    "(scheme, host and port; no wildcard, path or trailing slash)"
                )
        return origins

    @field_validator("database_url", mode="after")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("postgresql://", "postgresql+asyncpg://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def pgdata_dir(self) -> Path:
        return self.home / "pgdata"

    @property
    def claude_configured(self) -> bool:
        return self.anthropic_api_key is not None and bool(
            self.anthropic_api_key.get_secret_value()
        )

    def cli_paths(self) -> dict[str, Path | None]:
        """The CLI each backend is told to use, None where it is looked up on PATH."""
        return {
            "claude": self.claude_code_cli,
            "codex": self.codex_cli,
            "gemini": self.gemini_cli,
            "opencode": self.opencode_cli,
        }

    def cli_turn_cap(self) -> int:
        """Turns each CLI runtime may run at once: the setting, else as many processes
        as half the machine's memory holds."""
        if self.max_cli_turns is not None:
            return self.max_cli_turns
        return memory_based_cap(physical_memory_bytes(), self.cli_turn_memory_mb)

    def cli_models(self) -> dict[str, list[str]]:
        """The configured models of the backends other than ``claude`` (whose models are
        the ones the agent runtime resolves)."""
        return {
            "codex": self.codex_models,
            "gemini": self.gemini_models,
            "opencode": self.opencode_models,
        }

    @property
    def trusted_hosts(self) -> list[str]:
        """Host headers we answer to; anything else could be DNS rebinding."""
        hosts = {"localhost", "127.0.0.1", "::1", "[::1]", self.host, *self.allowed_hosts}
        return sorted(host for host in hosts if host not in {"0.0.0.0", "::"})


def _describe(error: PydanticValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "settings"
    standard = field.upper().startswith(("ANTHROPIC", "CLAUDE_CODE_OAUTH"))
    variable = field.upper() if standard else f"KUMIAI_{field.upper()}"
    return f"invalid configuration: {variable}: {first['msg']}"


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except PydanticValidationError as error:
        raise ConfigurationError(_describe(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
