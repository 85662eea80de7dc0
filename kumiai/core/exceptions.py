"""The one exception hierarchy of KumiAI.

Every error a user can cause or meet derives from :class:`KumiAIError`. Each class
carries a stable machine-readable ``code``; the API layer maps classes to HTTP
statuses in a single table (``kumiai.api.middleware.errors``), so no other module
decides a status code. This module is pure Python so every layer may import it.
"""

from __future__ import annotations

from typing import Any


class KumiAIError(Exception):
    """Base of every expected error. ``details`` must be JSON-serialisable."""

    code: str = "internal_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class ValidationError(KumiAIError):
    """Input that is well-formed but breaks a rule (bad slug, empty name, ...)."""

    code = "validation_error"


class PathNotAllowedError(ValidationError):
    """A path from a request or a file that escapes its root or is malformed."""

    code = "path_not_allowed"


class NotFoundError(KumiAIError):
    code = "not_found"

    def __init__(self, resource: str, identifier: object) -> None:
        super().__init__(
            f"{resource} not found: {identifier}",
            details={"resource": resource, "id": str(identifier)},
        )


class ConflictError(KumiAIError):
    """The request conflicts with the current state (duplicate, busy, ...)."""

    code = "conflict"


class InvalidTransitionError(ConflictError):
    """A session status move that the state machine forbids."""

    code = "invalid_transition"

    def __init__(self, current: str, requested: str, allowed: list[str]) -> None:
        super().__init__(
            f"cannot move a session from '{current}' to '{requested}'",
            details={"current_status": current, "requested": requested, "allowed": allowed},
        )


class LimitReachedError(ConflictError):
    """A runaway guard stopped something: too many specialists, agent messages, ..."""

    code = "limit_reached"


class PayloadTooLargeError(KumiAIError):
    code = "payload_too_large"


class UnsupportedMediaTypeError(KumiAIError):
    code = "unsupported_media_type"


class AuthenticationError(KumiAIError):
    code = "unauthorized"


class ServiceUnavailableError(KumiAIError):
    """A dependency (database, Claude) cannot serve the request right now."""

    code = "service_unavailable"


class DatabaseUnavailableError(ServiceUnavailableError):
    code = "database_unavailable"


class ClaudeUnavailableError(ServiceUnavailableError):
    code = "claude_unavailable"


class AgentBackendUnavailableError(ServiceUnavailableError):
    """An agent CLI (Codex, Gemini CLI, OpenCode) is missing, failed or crashed in a turn."""

    code = "agent_backend_unavailable"


class McpServerError(ServiceUnavailableError):
    """An MCP server could not be started or reached. The message never holds its secrets."""

    code = "mcp_server_unavailable"


class ContextWindowExceededError(KumiAIError):
    """A turn's request would not fit the model's context window, even trimmed."""

    code = "context_too_long"


class ConfigurationError(KumiAIError):
    """Invalid configuration; raised at start-up and reported on one line."""

    code = "configuration_error"
