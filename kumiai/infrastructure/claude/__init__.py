"""The Claude adapter: the Anthropic Messages API runtime and the built-in tools."""

from __future__ import annotations

from kumiai.infrastructure.claude.anthropic_runtime import AnthropicRuntime, ClaudeStreamError
from kumiai.infrastructure.claude.tools import file_tools

__all__ = ["AnthropicRuntime", "ClaudeStreamError", "file_tools"]
