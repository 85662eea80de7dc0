"""Continuing a KumiAI session in an agent CLI while PostgreSQL stays the source of truth.

Agent CLIs (Claude Code, Codex, Gemini CLI, OpenCode) keep their own transcript of a
conversation on disk and can resume it by their session id. KumiAI remembers, per KumiAI
session, which CLI session holds its conversation and a fingerprint of the history that
conversation covers. A turn resumes that session only when the stored history still has
exactly that fingerprint before the new message; anything else (an imported session,
turns run on another runtime, a cancelled or failed turn, trimmed history, a lost CLI
folder) starts a fresh CLI session whose first prompt carries the stored history as a
transcript.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from kumiai.core.logging import get_logger

logger = get_logger(__name__)

TOOL_RESULT_PREVIEW = 4000
"""Most characters of one tool result repeated in a rebuilt transcript, by default."""
TRANSCRIPT_OPENING = (
    "This conversation started earlier; its transcript so far is below. Continue it: "
    "the message after the transcript is the newest one.\n\n"
    "<conversation_transcript>\n"
)
TRANSCRIPT_CLOSING = "\n</conversation_transcript>\n\n"
LINE_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class ResumePoint:
    cli_session_id: str
    working_dir: str
    fingerprint: str
    context_tokens: int | None = None
    """The size of the CLI's session after its last response, when the CLI reported it."""


class ResumePoints:
    """One small JSON file per KumiAI session, next to nothing else."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def get(self, session_id: UUID) -> ResumePoint | None:
        try:
            data = json.loads(self._path(session_id).read_text(encoding="utf-8"))
            # Written before the CLI runtimes shared this file.
            if "claude_session_id" in data:
                data["cli_session_id"] = data.pop("claude_session_id")
            return ResumePoint(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as error:
            logger.warning("cli_resume_point_unreadable", reason=str(error))
            return None

    def continuing(
        self, session_id: UUID, working_dir: str, history: list[dict[str, Any]]
    ) -> ResumePoint | None:
        """The CLI session that holds exactly ``history`` in ``working_dir``, if any."""
        point = self.get(session_id)
        if point is None or point.working_dir != working_dir:
            return None
        if point.fingerprint != fingerprint(history):
            return None
        return point

    def record(
        self,
        session_id: UUID,
        working_dir: str,
        cli_session_id: str,
        history: list[dict[str, Any]],
        *,
        context_tokens: int | None = None,
    ) -> None:
        """The CLI session ``cli_session_id`` now holds exactly ``history`` in
        ``working_dir``: what ``continuing`` asks for next turn."""
        point = ResumePoint(cli_session_id, working_dir, fingerprint(history), context_tokens)
        self.put(session_id, point)

    def put(self, session_id: UUID, point: ResumePoint) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self._path(session_id)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(point)), encoding="utf-8")
        temporary.replace(path)

    def _path(self, session_id: UUID) -> Path:
        return self._folder / f"{session_id}.json"


def fingerprint(messages: list[dict[str, Any]]) -> str:
    """A hash of what a history says, independent of how its blocks are grouped.

    Texts, tool calls and tool results (by id) in order: the same conversation always
    hashes the same, whether it comes from this turn's stream or from the database.
    """
    digest = hashlib.sha256()
    for item in _flatten(messages):
        digest.update(json.dumps(item, ensure_ascii=False).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _flatten(messages: list[dict[str, Any]]) -> list[list[str]]:
    items = []
    for message in messages:
        for block in _blocks(message.get("content")):
            kind = block.get("type")
            if kind == "text":
                items.append(["text", str(block.get("text", ""))])
            elif kind == "tool_use":
                items.append(["tool_use", str(block.get("id", ""))])
            elif kind == "tool_result":
                items.append(["tool_result", str(block.get("tool_use_id", ""))])
    return items


def _blocks(content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [block for block in content if isinstance(block, dict)]
    return []


def split_prompt(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The history before the new message, and the new message's text.

    The last message is the user's (the queue only runs a turn for a user message);
    any tool results it opens with answer calls of the history, so they belong to it.
    """
    if not messages or messages[-1].get("role") != "user":
        return messages, ""
    *earlier, last = messages
    blocks = _blocks(last.get("content"))
    texts = [str(block.get("text", "")) for block in blocks if block.get("type") == "text"]
    results = [block for block in blocks if block.get("type") != "text"]
    history = [*earlier, {"role": "user", "content": results}] if results else list(earlier)
    return history, "\n\n".join(text for text in texts if text)


def transcript_prompt(
    history: list[dict[str, Any]], prompt: str, *, preview: int | None = TOOL_RESULT_PREVIEW
) -> str:
    """The first prompt of a fresh CLI session that continues ``history``; tool results
    longer than ``preview`` characters are cut (None: kept whole)."""
    lines = [line for message in history for line in transcript_lines(message, preview)]
    if not lines:
        return prompt
    return TRANSCRIPT_OPENING + LINE_SEPARATOR.join(lines) + TRANSCRIPT_CLOSING + prompt


def transcript_lines(message: dict[str, Any], preview: int | None) -> list[str]:
    """What one history message contributes to a transcript, block by block."""
    lines = (_line(message["role"], block, preview) for block in _blocks(message.get("content")))
    return [line for line in lines if line]


def _line(role: str, block: dict[str, Any], preview: int | None) -> str:
    kind = block.get("type")
    if kind == "text":
        return f"[{role}]\n{block.get('text', '')}"
    if kind == "tool_use":
        arguments = json.dumps(block.get("input", {}), ensure_ascii=False)
        return f"[assistant called {block.get('name')} ({block.get('id')})]\n{arguments}"
    if kind == "tool_result":
        content = _result_text(block.get("content"))
        if preview is not None and len(content) > preview:
            content = content[:preview] + "\n(... cut)"
        error = " (error)" if block.get("is_error") else ""
        return f"[result of {block.get('tool_use_id')}{error}]\n{content}"
    return ""


def _result_text(content: object) -> str:
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)
