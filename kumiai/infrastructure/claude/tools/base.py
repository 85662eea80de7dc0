"""What the built-in tools share: argument checks, path confinement, output caps, and
turning expected failures into error outcomes the model can read.

A tool never raises for a bad argument, a refused path or a filesystem error: the
model made the call and has to see what went wrong to correct itself.
"""

from __future__ import annotations

import asyncio
import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from kumiai.application.ports.agent_runtime import ToolOutcome, ToolSpec
from kumiai.application.ports.tools import ToolContext
from kumiai.core.exceptions import PathNotAllowedError
from kumiai.infrastructure.filesystem.paths import confine

OUTPUT_LIMIT = 30_000
"""Most characters of one tool result; more would crowd out the model's context."""

BINARY_SNIFF_BYTES = 8192

_BRACES = re.compile(r"\{([^{}]*,[^{}]*)\}")


class ToolInputError(Exception):
    """A bad argument or a refused operation; its text is what the model reads."""


class BuiltinTool(ABC):
    """Base of the built-in tools: subclasses set ``spec`` and implement ``perform``."""

    spec: ToolSpec

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutcome:
        """Run the tool; expected failures come back as ``is_error`` outcomes."""
        try:
            outcome = await self.perform(arguments, context)
        except ToolInputError as error:
            return ToolOutcome(str(error), is_error=True)
        except PathNotAllowedError as error:
            return ToolOutcome(f"Path not allowed: {error.message}", is_error=True)
        except (OSError, ValueError) as error:
            # ValueError covers text the filesystem cannot take, such as lone surrogates.
            return ToolOutcome(f"{self.spec.name} failed: {error}", is_error=True)
        return ToolOutcome(cap_text(outcome.content), outcome.is_error)

    @abstractmethod
    async def perform(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutcome:
        """Do the work; may raise ``ToolInputError``, ``PathNotAllowedError``, ``OSError``
        or ``ValueError``."""


class BlockingTool(BuiltinTool):
    """A tool doing blocking filesystem work, run in a worker thread to keep the loop free."""

    async def perform(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutcome:
        return ToolOutcome(await asyncio.to_thread(self.execute, arguments, context))

    @abstractmethod
    def execute(self, arguments: dict[str, Any], context: ToolContext) -> str:
        """Do the work synchronously and return the text result."""


# --------------------------------------------------------------------------- arguments


def require_str(arguments: dict[str, Any], name: str, *, allow_empty: bool = True) -> str:
    """The string argument ``name``; missing, non-string or (optionally) empty is an error."""
    value = arguments.get(name)
    if not isinstance(value, str):
        raise ToolInputError(f"'{name}' is required and must be a string")
    if not allow_empty and not value:
        raise ToolInputError(f"'{name}' must not be empty")
    return value


def optional_str(arguments: dict[str, Any], name: str) -> str | None:
    """The string argument ``name``, or ``None`` when absent, null or empty."""
    value = arguments.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ToolInputError(f"'{name}' must be a string")
    return value


def optional_int(arguments: dict[str, Any], name: str, *, minimum: int) -> int | None:
    """The integer argument ``name`` (at least ``minimum``), or ``None`` when absent."""
    value = arguments.get(name)
    if value is None:
        return None
    # bool is an int subclass, but ``true`` as a line count is a mistake, not a 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolInputError(f"'{name}' must be an integer")
    if value < minimum:
        raise ToolInputError(f"'{name}' must be at least {minimum}")
    return value


def optional_bool(arguments: dict[str, Any], name: str) -> bool:
    """The boolean argument ``name``, ``False`` when absent."""
    value = arguments.get(name, False)
    if not isinstance(value, bool):
        raise ToolInputError(f"'{name}' must be true or false")
    return value


# --------------------------------------------------------------------------- paths


def working_root(context: ToolContext) -> Path:
    """The resolved folder the calling agent works in."""
    return Path(context.working_dir).resolve()


def confined(context: ToolContext, path: str) -> Path:
    """Resolve ``path`` (relative, or absolute inside the working folder) or refuse it."""
    return confine(Path(context.working_dir), path, allow_absolute=True)


def relative_name(root: Path, path: Path) -> str:
    """``path`` as the model should name it: relative to the working folder."""
    return path.relative_to(root).as_posix()


def looks_binary(sample: bytes) -> bool:
    """Text files practically never contain NUL bytes; binary formats nearly always do."""
    return b"\x00" in sample[:BINARY_SNIFF_BYTES]


def expand_braces(pattern: str) -> list[str]:
    """Expand ``{a,b}`` alternatives (``*.{ts,tsx}``), which glob matching lacks."""
    match = _BRACES.search(pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [
        expanded
        for option in match.group(1).split(",")
        for expanded in expand_braces(f"{head}{option}{tail}")
    ]


# --------------------------------------------------------------------------- output


def cap_text(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[truncated: {len(text) - limit} more characters]"
