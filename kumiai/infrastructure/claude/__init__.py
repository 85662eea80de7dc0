"""The Claude adapter: the Anthropic Messages API runtime and the built-in tools.

The runtime is resolved on first access: importing this package (for the tools) must
not import the Anthropic SDK, which start-up does without.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kumiai.infrastructure.claude.tools import file_tools

if TYPE_CHECKING:
    from kumiai.infrastructure.claude.anthropic_runtime import AnthropicRuntime, ClaudeStreamError

__all__ = ["AnthropicRuntime", "ClaudeStreamError", "file_tools"]

_RUNTIME_MODULE = "kumiai.infrastructure.claude.anthropic_runtime"


def __getattr__(name: str) -> Any:
    if name in {"AnthropicRuntime", "ClaudeStreamError"}:
        return getattr(importlib.import_module(_RUNTIME_MODULE), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
