"""Questions an agent asks the user with Claude Code's ``AskUserQuestion`` tool.

The input is Claude Code's: 1-4 questions, each with a ``question``, a short
``header``, ``multiSelect`` and 2-4 options (``label``, ``description``). Answers are
keyed by question text, as Claude Code keys them; several choices of a multi-select
question are joined with ", ". The tool's result reads as Claude Code's does, so the
model reads the same text on either runtime.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kumiai.core.exceptions import ValidationError

ASK_USER_QUESTION = "AskUserQuestion"
MIN_QUESTIONS, MAX_QUESTIONS = 1, 4
MIN_OPTIONS, MAX_OPTIONS = 2, 4
CHOICE_SEPARATOR = ", "
NOT_ANSWERED = "The user did not answer the questions"

# The web client's answer message: "My answers:" then one "**<header>:** <answer>" per
# question, several choices as "  - <choice>" lines under the header.
_ANSWER_HEADER = re.compile(r"^\*\*(?P<header>.+?):\*\*[ \t]*(?P<rest>.*)$")
_LIST_ITEM = re.compile(r"^\s*-\s+(?P<item>.+)$")
_ANSWERS_PREFIX = "my answers:"


@dataclass(frozen=True)
class Option:
    label: str
    description: str


@dataclass(frozen=True)
class Question:
    question: str
    header: str
    multi_select: bool
    options: tuple[Option, ...]

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(option.label for option in self.options)


Answers = dict[str, str]
"""Answer text by question text; a multi-select answer joins its choices with ", "."""


@dataclass(frozen=True)
class Questions:
    """What one ``AskUserQuestion`` call asks."""

    items: tuple[Question, ...]

    @classmethod
    def parse(cls, arguments: Mapping[str, Any]) -> Questions:
        """The call's input, checked against Claude Code's schema; ``ValidationError``
        names what is wrong (the model reads it as the tool's error)."""
        raw = arguments.get("questions")
        if not isinstance(raw, list) or not MIN_QUESTIONS <= len(raw) <= MAX_QUESTIONS:
            raise _invalid(
                f"questions must be a list of {MIN_QUESTIONS} to {MAX_QUESTIONS} questions",
                "questions",
            )
        items = tuple(_question(entry, index) for index, entry in enumerate(raw))
        texts = [item.question for item in items]
        if len(set(texts)) != len(texts):
            raise _invalid("question texts must be unique", "questions")
        return cls(items)

    def accept(self, answers: Mapping[str, str | list[str]]) -> Answers:
        """Structured answers checked against the questions: each key is a question's
        text; a single-choice question takes one answer, a multi-select one several.
        A choice may be an option's label or the user's own words."""
        by_text = {item.question: item for item in self.items}
        accepted: Answers = {}
        for text, given in answers.items():
            question = by_text.get(text)
            if question is None:
                raise _invalid(f"no question asks {text!r}", "answers")
            choices = [given] if isinstance(given, str) else list(given)
            choices = [choice.strip() for choice in choices if isinstance(choice, str)]
            if not choices or not all(choices):
                raise _invalid(f"the answer to {text!r} is empty", "answers")
            if len(choices) > 1 and not question.multi_select:
                raise _invalid(f"{text!r} takes a single answer", "answers")
            accepted[text] = CHOICE_SEPARATOR.join(choices)
        if not accepted:
            raise _invalid("answer at least one question", "answers")
        return accepted

    def read_message(self, text: str) -> Answers:
        """The answers in a message the user sent while the questions were open.

        The web client's form sends "My answers:" with a ``**<header>:**`` section per
        question; its "Other" box arrives HTML-escaped and is unescaped here. Any other
        message is the user's own answer to every question.
        """
        sections = _sections(text)
        by_header: dict[str, Question] = {}
        for item in self.items:
            by_header.setdefault(item.header.strip().casefold(), item)
        answers: Answers = {}
        for header, choices in sections:
            question = by_header.get(header.casefold())
            if question is not None and choices and question.question not in answers:
                answers[question.question] = CHOICE_SEPARATOR.join(choices)
        if answers:
            return answers
        words = text.strip()
        return {item.question: words for item in self.items} if words else {}

    def result_text(self, answers: Mapping[str, str]) -> str:
        """The tool's result, worded as Claude Code words it: answers that are all
        among the options read as settled; anything else asks the model to read the
        user's words carefully."""
        pairs = [
            f'"{item.question}"="{answers[item.question]}"'
            for item in self.items
            if answers.get(item.question)
        ]
        if not pairs:
            return f"{NOT_ANSWERED}."
        joined = ", ".join(pairs)
        if all(_among_options(item, answers.get(item.question)) for item in self.items):
            return (
                f"Your questions have been answered: {joined}. "
                "You can now continue with these answers in mind."
            )
        return (
            f"The user answered: {joined}. Read the answers carefully \u2014 they may request "
            "clarification, changes, or that you not proceed \u2014 and follow what they "
            "actually say."
        )


def not_answered(reason: str) -> str:
    """The result of a question left unanswered (a cancel, a restart)."""
    return f"{NOT_ANSWERED} ({reason})."


def _question(entry: object, index: int) -> Question:
    where = f"questions[{index}]"
    if not isinstance(entry, Mapping):
        raise _invalid(f"{where} must be an object", where)
    question = _text(entry, "question", where)
    header = _text(entry, "header", where)
    multi_select = entry.get("multiSelect", False)
    if not isinstance(multi_select, bool):
        raise _invalid(f"{where}.multiSelect must be true or false", where)
    raw = entry.get("options")
    if not isinstance(raw, list) or not MIN_OPTIONS <= len(raw) <= MAX_OPTIONS:
        raise _invalid(
            f"{where}.options must be a list of {MIN_OPTIONS} to {MAX_OPTIONS} options", where
        )
    options = tuple(_option(option, f"{where}.options[{n}]") for n, option in enumerate(raw))
    labels = [option.label for option in options]
    if len(set(labels)) != len(labels):
        raise _invalid(f"{where}: option labels must be unique", where)
    return Question(question, header, multi_select, options)


def _option(entry: object, where: str) -> Option:
    if not isinstance(entry, Mapping):
        raise _invalid(f"{where} must be an object", where)
    description = entry.get("description")
    if not isinstance(description, str):
        raise _invalid(f"{where}.description must be text", where)
    return Option(_text(entry, "label", where), description.strip())


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{where}.{key} must be non-empty text", where)
    return value.strip()


def _among_options(question: Question, answer: str | None) -> bool:
    if not answer:
        return True  # a skipped question takes nothing away from the others
    if answer in question.labels:
        return True
    choices = answer.split(CHOICE_SEPARATOR)
    return question.multi_select and all(choice in question.labels for choice in choices)


def _sections(text: str) -> list[tuple[str, list[str]]]:
    """``(header, choices)`` for each ``**<header>:**`` section of an answer message."""
    lines = text.strip().splitlines()
    if not lines or lines[0].strip().casefold() != _ANSWERS_PREFIX:
        return []
    sections: list[tuple[str, list[str]]] = []
    for line in lines[1:]:
        heading = _ANSWER_HEADER.match(line.strip())
        if heading is not None:
            rest = heading["rest"].strip()
            sections.append((heading["header"].strip(), [html.unescape(rest)] if rest else []))
            continue
        item = _LIST_ITEM.match(line)
        if item is not None and sections:
            sections[-1][1].append(html.unescape(item["item"].strip()))
    return sections


def _invalid(message: str, field: str) -> ValidationError:
    return ValidationError(f"{ASK_USER_QUESTION}: {message}", details={"field": field})
