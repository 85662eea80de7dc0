"""What the Claude adapters say about missing credentials (no SDK import needed)."""

from __future__ import annotations

MISSING_KEY_MESSAGE = "Claude is not configured: set ANTHROPIC_API_KEY"
