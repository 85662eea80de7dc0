"""The rules of AskUserQuestion: Claude Code's input, the answers, the result's wording."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import Message, synthetic_results_for
from kumiai.domain.value_objects.questions import Questions


def _question(text: str = "Which colour?", *, multi: bool = False, options: int = 2) -> dict:
    return {
        "question": text,
        "header": "Colour",
        "multiSelect": multi,
        "options": [{"label": f"C{n}", "description": f"colour {n}"} for n in range(options)],
    }


def test_claude_codes_input_is_accepted() -> None:
    questions = Questions.parse({"questions": [_question(), _question("Which size?")]})
    assert [item.question for item in questions.items] == ["Which colour?", "Which size?"]
    assert questions.items[0].labels == {"C0", "C1"}


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({}, "questions must be a list of 1 to 4"),
        ({"questions": []}, "questions must be a list of 1 to 4"),
        ({"questions": [_question(f"Q{n}?") for n in range(5)]}, "1 to 4"),
        ({"questions": [_question(options=1)]}, "options must be a list of 2 to 4"),
        ({"questions": [_question(options=5)]}, "options must be a list of 2 to 4"),
        ({"questions": [{**_question(), "header": " "}]}, "header must be non-empty"),
        ({"questions": [{**_question(), "question": 3}]}, "question must be non-empty"),
        ({"questions": [{**_question(), "multiSelect": "yes"}]}, "multiSelect must be"),
        ({"questions": [_question(), _question()]}, "question texts must be unique"),
        (
            {"questions": [{**_question(), "options": [{"label": "A"}, {"label": "B"}]}]},
            "description must be text",
        ),
        (
            {"questions": [{**_question(), "options": [_question()["options"][0]] * 2}]},
            "option labels must be unique",
        ),
    ],
)
def test_bad_input_is_refused_with_what_is_wrong(arguments: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Questions.parse(arguments)
    assert complaint in refused.value.message
    assert refused.value.message.startswith("AskUserQuestion: ")


def test_answers_by_label_read_as_settled_and_own_words_as_to_be_read_carefully() -> None:
    questions = Questions.parse({"questions": [_question(), _question("Sizes?", multi=True)]})
    settled = questions.result_text({"Which colour?": "C1", "Sizes?": "C0, C1"})
    assert settled == (
        'Your questions have been answered: "Which colour?"="C1", "Sizes?"="C0, C1". '
        "You can now continue with these answers in mind."
    )
    own = questions.result_text({"Which colour?": "teal"})
    assert own.startswith('The user answered: "Which colour?"="teal". Read the answers')
    assert questions.result_text({}) == "The user did not answer the questions."


def test_structured_answers_must_fit_the_questions() -> None:
    questions = Questions.parse({"questions": [_question(), _question("Sizes?", multi=True)]})
    assert questions.accept({"Sizes?": ["C0", "big"]}) == {"Sizes?": "C0, big"}
    for bad in ({"Other?": "C0"}, {"Which colour?": ["C0", "C1"]}, {"Which colour?": ""}, {}):
        with pytest.raises(ValidationError):
            questions.accept(bad)


def test_the_web_clients_answer_message_is_read_by_header() -> None:
    sizes = {**_question("Sizes?", multi=True), "header": "Size"}
    questions = Questions.parse({"questions": [_question(), sizes]})
    text = "My answers:\n\n**Colour:** C1\n\n**Size:**\n  - C0\n  - 1&#x2F;2 &lt;b&gt;"
    assert questions.read_message(text) == {"Which colour?": "C1", "Sizes?": "C0, 1/2 <b>"}
    # Anything else is the user's own answer to every question.
    assert questions.read_message("  just pick for me ") == {
        "Which colour?": "just pick for me",
        "Sizes?": "just pick for me",
    }


def test_an_unanswered_question_gets_a_result_saying_so() -> None:
    session_id = uuid4()
    asked = Message.tool_use(session_id, "toolu_1", "AskUserQuestion", {}, "run")
    ran = Message.tool_use(session_id, "toolu_2", "Bash", {}, "run")
    results = synthetic_results_for([asked, ran], "cancelled by the user")
    assert [result.content for result in results] == [
        "The user did not answer the questions (cancelled by the user).",
        "Tool call was not completed: cancelled by the user",
    ]
    assert all(result.is_error for result in results)
