"""The starter teams of the welcome dialog, as starter_teams.yaml describes them."""

from __future__ import annotations

import textwrap

import pytest
from pydantic import ValidationError

from kumiai.infrastructure.starter_teams import load_starter_teams, parse_starter_teams


def test_the_welcome_dialog_offers_the_dev_research_and_content_teams() -> None:
    teams = load_starter_teams()

    assert list(teams) == ["dev", "research", "content"]
    assert teams["dev"].project_name == "Demo: Todo App"
    assert [member.name for member in teams["dev"].members] == [
        "Software Engineer",
        "QA Engineer",
    ]


def test_every_pm_is_written_from_its_focus() -> None:
    pm = load_starter_teams()["research"].pm.character()

    assert pm.role == "project manager"
    assert pm.content.startswith(
        "You are the Research Lead of this project. You turn the user's question into a "
        "research plan and a final report.\n\nBreak the goal into small tasks"
    )


def test_a_long_prompt_folds_into_one_paragraph_and_instructions_keep_their_lines() -> None:
    dev = load_starter_teams()["dev"]

    assert dev.members[0].content == (
        "You are a software engineer. Write simple, well-named code with tests, "
        "and explain your design choices briefly."
    )
    assert dev.skills[0].content.splitlines()[:3] == [
        "# Code review",
        "",
        "1. Read the change and the code around it.",
    ]


def test_a_member_naming_a_skill_its_team_lacks_is_refused() -> None:
    text = """
    dev:
      title: T
      skills: []
      pm: {name: PM, description: d, focus: f, icon_color: "#000000"}
      members:
        - {name: Dev, role: developer, skills: [Code Review], content: p}
      project_name: P
      project_description: d
    """

    with pytest.raises(ValidationError, match="Dev names skills the team lacks"):
        parse_starter_teams(textwrap.dedent(text))


def test_a_member_field_the_character_api_lacks_is_refused() -> None:
    text = """
    dev:
      title: T
      skills: []
      pm: {name: PM, description: d, focus: f, icon_color: "#000000"}
      members: [{name: Dev, role: developer, skils: [], content: p}]
      project_name: P
      project_description: d
    """

    with pytest.raises(ValidationError, match="skils"):
        parse_starter_teams(textwrap.dedent(text))
