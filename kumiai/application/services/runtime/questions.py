"""``AskUserQuestion``: the agent asks, the turn waits, the user's next message answers.

The call is persisted and streamed like any other (the sink records it before a tool
runs). The tool then moves the session to ``waiting`` and waits, holding its turn but
making no model request, until the user answers: with the next message they send
(v1 ``enqueue``, v2 ``messages``) or with structured answers
(``POST /api/v2/sessions/{id}/answers``). The answers become the call's result, worded
as Claude Code words them, the session goes back to ``thinking`` and the turn goes on.

A cancel ends the wait as it ends any tool: the runner's synthetic result says the
question was not answered. The wait lives in the process running the turn, so a
restart ends it with the turn, and start-up recovery settles the question the same
way ("not answered: interrupted by server restart").
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from kumiai.application.ports.agent_runtime import ToolOutcome, ToolSpec
from kumiai.application.ports.tools import ToolContext
from kumiai.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from kumiai.application.services.session_lifecycle import take_answer, wait_for_answer
from kumiai.core.exceptions import ConflictError, KumiAIError
from kumiai.domain.value_objects.questions import (
    ASK_USER_QUESTION,
    MAX_OPTIONS,
    MAX_QUESTIONS,
    MIN_OPTIONS,
    MIN_QUESTIONS,
    Answers,
    Questions,
)

_OPTION = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "description": "The choice as the user sees it (1-5 words)."},
        "description": {"type": "string", "description": "What choosing it means."},
    },
    "required": ["label", "description"],
}
_QUESTION = {
    "type": "object",
    "properties": {
        "question": {"type": "string", "description": "The full question, ending with '?'."},
        "header": {"type": "string", "description": "A very short tab label (max 12 chars)."},
        "options": {
            "type": "array",
            "items": _OPTION,
            "minItems": MIN_OPTIONS,
            "maxItems": MAX_OPTIONS,
            "description": "The choices; the user may always answer in their own words.",
        },
        "multiSelect": {
            "type": "boolean",
            "description": "True when the user may pick several options.",
        },
    },
    "required": ["question", "header", "options", "multiSelect"],
}
ASK_USER_QUESTION_SPEC = ToolSpec(
    ASK_USER_QUESTION,
    "Ask the user up to four multiple-choice questions when you need their decision or "
    "information you cannot find yourself. Your turn waits for the answers, which come "
    "back as this tool's result.",
    {
        "type": "object",
        "properties": {
            "questions": {
                "type": "array",
                "items": _QUESTION,
                "minItems": MIN_QUESTIONS,
                "maxItems": MAX_QUESTIONS,
            }
        },
        "required": ["questions"],
    },
)


@dataclass(frozen=True)
class OpenQuestion:
    """An ``AskUserQuestion`` call waiting for the user."""

    session_id: UUID
    tool_use_id: str
    message_id: UUID
    """The call's row in the transcript."""
    run_id: UUID
    """The turn that asked, which goes on with the answers."""
    questions: Questions


@dataclass(frozen=True)
class AnsweredQuestion:
    question: OpenQuestion
    answers: Answers


@dataclass
class _Waiting:
    question: OpenQuestion
    answered: asyncio.Future[Answers]


class QuestionDesk:
    """The questions this process's turns wait on, one per session at most."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow
        self._waiting: dict[UUID, _Waiting] = {}

    def open_question(self, session_id: UUID) -> OpenQuestion | None:
        waiting = self._waiting.get(session_id)
        return waiting.question if waiting is not None else None

    async def ask(self, session_id: UUID, tool_use_id: str, questions: Questions) -> Answers:
        """Wait (``waiting``) until the user answers; then the turn goes on.

        One question at a time: a second call while one waits (Claude Code may run the
        calls of one response together) is refused, so every answer has one home."""
        if session_id in self._waiting:
            raise ConflictError(
                "another question is waiting for the user's answers: ask one at a time"
            )
        answered: asyncio.Future[Answers] = asyncio.get_running_loop().create_future()
        async with self._uow() as uow:
            question = await _recorded_call(uow, session_id, tool_use_id, questions)
            await wait_for_answer(uow, session_id)
            # Open before the commit: a client that sees ``waiting`` can answer.
            waiting = self._waiting[session_id] = _Waiting(question, answered)
            try:
                await uow.commit()
            except BaseException:
                self._close(session_id, waiting)
                raise
        try:
            answers = await answered
        finally:
            self._close(session_id, waiting)
        async with self._uow() as uow:
            await take_answer(uow, session_id, question.run_id)
            await uow.commit()
        return answers

    def answer_with_message(self, session_id: UUID, text: str) -> AnsweredQuestion | None:
        """The user's message answers the open question, if there is one."""
        waiting = self._waiting.get(session_id)
        if waiting is None:
            return None
        return self._answer(session_id, waiting, waiting.question.questions.read_message(text))

    def answer(self, session_id: UUID, answers: Mapping[str, str | list[str]]) -> AnsweredQuestion:
        """Structured answers to the open question; 409 when nothing is asked."""
        waiting = self._waiting.get(session_id)
        if waiting is None:
            raise ConflictError(
                "the session is not waiting for answers", details={"session_id": str(session_id)}
            )
        return self._answer(session_id, waiting, waiting.question.questions.accept(answers))

    def _answer(self, session_id: UUID, waiting: _Waiting, answers: Answers) -> AnsweredQuestion:
        self._close(session_id, waiting)
        if not waiting.answered.done():
            waiting.answered.set_result(answers)
        return AnsweredQuestion(waiting.question, answers)

    def _close(self, session_id: UUID, waiting: _Waiting) -> None:
        if self._waiting.get(session_id) is waiting:
            del self._waiting[session_id]


async def _recorded_call(
    uow: UnitOfWork, session_id: UUID, tool_use_id: str, questions: Questions
) -> OpenQuestion:
    """The call as the transcript holds it (persisted before any tool runs)."""
    calls = [
        call
        for call in await uow.messages.unanswered_tool_uses(session_id)
        if call.tool_name == ASK_USER_QUESTION and call.tool_use_id == tool_use_id
    ]
    call = calls[-1] if calls else None
    if call is None or call.tool_use_id is None or call.response_id is None:
        raise ConflictError("the question's call is not in the transcript")
    return OpenQuestion(
        session_id=session_id,
        tool_use_id=call.tool_use_id,
        message_id=call.id,
        run_id=UUID(call.response_id),
        questions=questions,
    )


class AskUserQuestionTool:
    """Claude Code's ``AskUserQuestion``, answered by the user through the desk."""

    spec = ASK_USER_QUESTION_SPEC

    def __init__(self, desk: QuestionDesk) -> None:
        self._desk = desk

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutcome:
        try:
            questions = Questions.parse(arguments)
            answers = await self._desk.ask(context.session_id, context.tool_use_id or "", questions)
        except KumiAIError as error:
            return ToolOutcome(content=error.message, is_error=True)
        return ToolOutcome(content=questions.result_text(answers), data={"answers": answers})
