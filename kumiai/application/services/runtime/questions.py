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
way ("not answered: interrupted by server restart"). With several server processes,
an answer that reaches another process is asked of the session's owner over the
control channel (:mod:`.ownership`), as a cancel is: the owner's reply is the answer's
outcome, refusals included.
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
from kumiai.application.services.runtime.ownership import SessionOwnership
from kumiai.application.services.session_lifecycle import take_answer, wait_for_answer
from kumiai.core.exceptions import (
    ConflictError,
    KumiAIError,
    ServiceUnavailableError,
    ValidationError,
)
from kumiai.domain.value_objects import SessionStatus
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
    """The answers taken, and the call they settle (whichever process ran its turn)."""

    tool_use_id: str
    message_id: UUID
    """The call's row in the transcript."""
    run_id: UUID
    """The turn that goes on with the answers."""
    answers: Answers

    def as_reply(self) -> dict[str, Any]:
        return {
            "tool_use_id": self.tool_use_id,
            "message_id": str(self.message_id),
            "run_id": str(self.run_id),
            "answers": self.answers,
        }

    @classmethod
    def of_reply(cls, reply: Mapping[str, Any]) -> AnsweredQuestion:
        return cls(
            tool_use_id=str(reply["tool_use_id"]),
            message_id=UUID(str(reply["message_id"])),
            run_id=UUID(str(reply["run_id"])),
            answers={str(key): str(value) for key, value in reply["answers"].items()},
        )


# The request another process makes of a session's owner: answer its open question.
ANSWER = "answer"
# The refusals an owner may reply with, rebuilt where the answer was sent.
_REFUSALS: dict[str, type[KumiAIError]] = {
    error.code: error for error in (ConflictError, ValidationError)
}


@dataclass
class _Waiting:
    question: OpenQuestion
    answered: asyncio.Future[Answers]


class QuestionDesk:
    """The questions this process's turns wait on, one per session at most; answers to
    the questions of turns running in another process are passed on to it."""

    def __init__(self, uow: UnitOfWorkFactory, ownership: SessionOwnership) -> None:
        self._uow = uow
        self._ownership = ownership
        self._waiting: dict[UUID, _Waiting] = {}
        ownership.serve(ANSWER, self._answer_for_another)

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

    async def answer_with_message(self, session_id: UUID, text: str) -> AnsweredQuestion | None:
        """The user's message answers the open question, if there is one."""
        if session_id in self._waiting or self._ownership.owns(session_id):
            return self._answer_with_message_here(session_id, text)
        owner = await self._owner_waiting(session_id)
        if owner is None:
            return None
        reply = await self._ownership.ask(owner, ANSWER, session_id, text=text)
        return _answered(reply, required=False)

    async def answer(
        self, session_id: UUID, answers: Mapping[str, str | list[str]]
    ) -> AnsweredQuestion:
        """Structured answers to the open question; 409 when nothing is asked."""
        if session_id in self._waiting or self._ownership.owns(session_id):
            return self._answer_here(session_id, answers)
        owner = await self._ownership.owner_elsewhere(session_id)
        if owner is None:
            return self._answer_here(session_id, answers)  # asked nowhere: refused here
        reply = await self._ownership.ask(owner, ANSWER, session_id, answers=dict(answers))
        answered = _answered(reply, required=True)
        assert answered is not None
        return answered

    async def _owner_waiting(self, session_id: UUID) -> UUID | None:
        """The other process whose turn of the session waits for answers, if any: only a
        session at ``waiting`` is asked about, so other messages go straight to its queue."""
        async with self._uow(read_only=True) as uow:
            session = await uow.sessions.get(session_id)
        if session is None or session.status is not SessionStatus.WAITING:
            return None
        return await self._ownership.owner_elsewhere(session_id)

    async def _answer_for_another(
        self, _op: str, session_id: UUID, request: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Another process got answers for a question a turn here waits on: the reply
        says what became of them (None: a message that answers nothing)."""
        try:
            if "answers" in request:
                answered: AnsweredQuestion | None = self._answer_here(
                    session_id, request["answers"]
                )
            else:
                answered = self._answer_with_message_here(session_id, str(request["text"]))
        except KumiAIError as error:
            refusal = {"code": error.code, "message": error.message, "details": error.details}
            return {"refused": refusal}
        return {"answered": answered.as_reply()} if answered is not None else None

    def _answer_with_message_here(self, session_id: UUID, text: str) -> AnsweredQuestion | None:
        waiting = self._waiting.get(session_id)
        if waiting is None:
            return None
        return self._answer(session_id, waiting, waiting.question.questions.read_message(text))

    def _answer_here(
        self, session_id: UUID, answers: Mapping[str, str | list[str]]
    ) -> AnsweredQuestion:
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
        question = waiting.question
        return AnsweredQuestion(question.tool_use_id, question.message_id, question.run_id, answers)

    def _close(self, session_id: UUID, waiting: _Waiting) -> None:
        if self._waiting.get(session_id) is waiting:
            del self._waiting[session_id]


def _answered(reply: object, *, required: bool) -> AnsweredQuestion | None:
    """What the owner replied to answers passed on to it."""
    if isinstance(reply, dict) and "answered" in reply:
        return AnsweredQuestion.of_reply(reply["answered"])
    if isinstance(reply, dict) and "refused" in reply:
        refusal = reply["refused"]
        refused = _REFUSALS.get(str(refusal.get("code")), ConflictError)
        raise refused(str(refusal.get("message")), details=dict(refusal.get("details") or {}))
    if reply is None and not required:
        return None  # the owner has no question open: the message is a new one
    raise ServiceUnavailableError(
        "the server process running the session's turn did not answer; try again"
    )


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
