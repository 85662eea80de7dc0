"""Every agent and skill of the v1 fixture home parses to the manifest's expected values."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from kumiai.infrastructure.filesystem.documents import (
    AGENT_FORMAT,
    SKILL_FORMAT,
    V1_AGENT_FORMAT,
)
from kumiai.infrastructure.filesystem.stores import DefinitionFolderStore

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HOME = FIXTURES / "kumiai-v1-home"
MANIFEST: dict[str, Any] = json.loads(
    (FIXTURES / "kumiai-v1-home.manifest.json").read_text(encoding="utf-8")
)
AGENTS = MANIFEST["agents"]
SKILLS = MANIFEST["skills"]


def _ids(definitions: list[dict[str, Any]]) -> list[str]:
    return [definition["id"] for definition in definitions]


def test_fixture_holds_eight_agents_and_seven_skills() -> None:
    assert len(AGENTS) == 8
    assert len(SKILLS) == 7
    assert "skills/seo-audit.deleted" in [skill["dir"] for skill in SKILLS]


@pytest.mark.parametrize("agent", AGENTS, ids=_ids(AGENTS))
def test_v1_agent_parses_to_expected_values(agent: dict[str, Any]) -> None:
    text = (HOME / agent["dir"] / "CLAUDE.md").read_text(encoding="utf-8")
    document = V1_AGENT_FORMAT.parse(text)
    assert {key: document.fields[key] for key in agent["expected"]} == agent["expected"]
    assert document.body.startswith("# ")
    assert document.extra == {}


@pytest.mark.parametrize("agent", AGENTS, ids=_ids(AGENTS))
def test_v1_agent_parses_leniently_without_warnings(agent: dict[str, Any]) -> None:
    text = (HOME / agent["dir"] / "CLAUDE.md").read_text(encoding="utf-8")
    document, warnings = V1_AGENT_FORMAT.parse_lenient(text)
    assert warnings == []
    assert document == V1_AGENT_FORMAT.parse(text)


@pytest.mark.parametrize("agent", AGENTS, ids=_ids(AGENTS))
def test_v1_agent_survives_rendering_as_agent_md(agent: dict[str, Any]) -> None:
    document = V1_AGENT_FORMAT.parse(
        (HOME / agent["dir"] / "CLAUDE.md").read_text(encoding="utf-8")
    )
    assert V1_AGENT_FORMAT.parse(AGENT_FORMAT.render(document)) == document


@pytest.mark.parametrize("skill", SKILLS, ids=_ids(SKILLS))
def test_v1_skill_parses_to_expected_values(skill: dict[str, Any]) -> None:
    text = (HOME / skill["dir"] / "SKILL.md").read_text(encoding="utf-8")
    document = SKILL_FORMAT.parse(text)
    assert {key: document.fields[key] for key in skill["expected"]} == skill["expected"]
    assert document.fields["license"] == "MIT"
    assert document.extra == {}
    assert SKILL_FORMAT.parse_lenient(text) == (document, [])


@pytest.mark.parametrize("skill", SKILLS, ids=_ids(SKILLS))
def test_v1_skill_survives_rendering(skill: dict[str, Any]) -> None:
    document = SKILL_FORMAT.parse((HOME / skill["dir"] / "SKILL.md").read_text(encoding="utf-8"))
    assert SKILL_FORMAT.parse(SKILL_FORMAT.render(document)) == document


def test_store_lists_the_fixture_live_definitions_and_their_files(tmp_path: Path) -> None:
    copy = tmp_path / "home"
    shutil.copytree(HOME, copy)
    skills = DefinitionFolderStore(copy / "skills", "SKILL.md", kind="skill")
    agents = DefinitionFolderStore(copy / "agents", "CLAUDE.md", kind="agent")
    live = MANIFEST["filesystem"]
    assert skills.list_slugs() == sorted(live["skills"]["live"])
    assert agents.list_slugs() == sorted(live["agents"]["live"])
    for skill in SKILLS:
        if skill["deleted"]:
            continue
        files = {entry.path for entry in skills.list_files(skill["id"]) if not entry.is_directory}
        assert files == {"SKILL.md", *skill["extra_files"]}
