"""The one exception hierarchy of KumiAI.

Every error a user can cause or meet derives from :class:`KumiAIError`. Each class
carries a stable machine-readable ``code``; the API layer maps classes to HTTP
statuses in a single table (``kumiai.api.middleware.errors``), so no other module
decides a status code. This module is pure Python so every layer may import it.
"""

from __future__ import annotations

from typing import Any


class KumiAIError(Exception):
    """Base of every expected error. ``details`` must be JSON-serialisable.

    A subclass names its code in its header: ``class GoneError(KumiAIError, code="gone")``;
    one that names none keeps its base's.
    """

    code: str = "internal_error"

    def __init_subclass__(cls, *, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class ValidationError(KumiAIError, code="validation_error"):
    """Input that is well-formed but breaks a rule (bad slug, empty name, ...)."""


class PathNotAllowedError(ValidationError, code="path_not_allowed"):
    """A path from a request or a file that escapes its root or is malformed."""


class NotFoundError(KumiAIError, code="not_found"):
    def __init__(self, resource: str, identifier: object) -> None:
        super().__init__(
            f"{resource} not found: {identifier}",
            details={"resource": resource, "id": str(identifier)},
        )


class ConflictError(KumiAIError, code="conflict"):
    """The request conflicts with the current state (duplicate, busy, ...)."""


class InvalidTransitionError(ConflictError, code="invalid_transition"):
    """A session status move that the state machine forbids."""

    def __init__(self, current: str, requested: str, allowed: list[str]) -> None:
        super().__init__(
            f"cannot move a session from '{current}' to '{requested}'",
            details={"current_status": current, "requested": requested, "allowed": allowed},
        )


class LimitReachedError(ConflictError, code="limit_reached"):
    """A runaway guard stopped something: too many specialists, agent messages, ..."""


class PayloadTooLargeError(KumiAIError, code="payload_too_large"): ...


class UnsupportedMediaTypeError(KumiAIError, code="unsupported_media_type"): ...


class AuthenticationError(KumiAIError, code="unauthorized"): ...


class ServiceUnavailableError(KumiAIError, code="service_unavailable"):
    """A dependency (database, Claude) cannot serve the request right now."""


class DatabaseUnavailableError(ServiceUnavailableError, code="database_unavailable"): ...


class ClaudeUnavailableError(ServiceUnavailableError, code="claude_unavailable"): ...


class AgentBackendUnavailableError(ServiceUnavailableError, code="agent_backend_unavailable"):
    """An agent CLI (Codex, Gemini CLI, OpenCode) is missing, failed or crashed in a turn."""


class McpServerError(ServiceUnavailableError, code="mcp_server_unavailable"):
    """An MCP server could not be started or reached. The message never holds its secrets."""


class ContextWindowExceededError(KumiAIError, code="context_too_long"):
    """A turn's request would not fit the model's context window, even trimmed."""


class ConfigurationError(KumiAIError, code="configuration_error"):
    """Invalid configuration; raised at start-up and reported on one line."""
