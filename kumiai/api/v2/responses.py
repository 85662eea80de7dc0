"""OpenAPI declarations of the error responses each endpoint can produce.

The body shape follows the API version; see ``kumiai.api.openapi``.
"""

from __future__ import annotations

from typing import Any

from kumiai.api.schemas import ErrorEnvelope

DESCRIPTIONS = {
    400: "The path or input is not allowed.",
    404: "The resource does not exist.",
    409: "The request conflicts with the current state.",
    413: "The body or file is too large.",
    415: "The body is neither JSON nor, where files are uploaded, multipart.",
    422: "The input failed validation.",
    503: "The database or Claude is unavailable.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Error responses for ``responses=``; 503 is implied everywhere."""
    return {
        status: {"model": ErrorEnvelope, "description": DESCRIPTIONS[status]}
        for status in (*statuses, 503)
    }
