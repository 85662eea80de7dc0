"""The Claude Code runtime: agent turns run by the Claude Code CLI (``claude-agent-sdk``).

Optional: installed with ``pip install 'kumiai[claude-code]'``. Only the composition
root imports this package, and only when ``KUMIAI_RUNTIME`` selects Claude Code.
"""

from __future__ import annotations

from kumiai.infrastructure.claude_code.runtime import ClaudeCodeRuntime, cli_environment

__all__ = ["ClaudeCodeRuntime", "cli_environment"]
