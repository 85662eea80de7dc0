"""Agents on other CLIs than Claude Code: Codex, Gemini CLI and OpenCode.

Each runs in its documented non-interactive JSON mode behind the same
:class:`~kumiai.application.ports.agent_runtime.AgentRuntime` port as Claude.
:mod:`.runtime` holds what every CLI shares; one module per CLI says how to run it and
how to read its stream.
"""
