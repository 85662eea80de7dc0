"""``${VAR}`` and ``${VAR:-default}`` in server definitions, as Claude Code expands them.

Users keep tokens out of ``mcp_servers.json`` by referring to environment variables;
the values are read when a server starts, so they never reach the file or the API.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace each reference by the variable's value, its default, or nothing."""
    values = os.environ if environ is None else environ

    def replace(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is None or (value == "" and match.group(2) is not None):
            return match.group(2) or ""
        return value

    return _REFERENCE.sub(replace, text)


def expand_values(mapping: Mapping[str, str]) -> dict[str, str]:
    return {key: expand(value) for key, value in mapping.items()}
