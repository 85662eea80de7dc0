"""The Project entity: validation, the PM pair invariant, team, archive and delete."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import Project

NOW = datetime(2025, 1, 2, tzinfo=UTC)
LATER = datetime(2030, 1, 1, tzinfo=UTC)


def make(**overrides: object) -> Project:
    return Project.create(name="Website", path="/home/me/website", **overrides)  # type: ignore[arg-type]


def half_pm_project() -> Project:
    # As a row edited outside the domain could look.
    return Project(name="Broken", path="/p", pm_character_id=uuid4())


def test_new_project_has_no_pm_and_no_team() -> None:
    project = make()

    assert project.pm_character_id is None
    assert project.pm_session_id is None
    assert project.team_character_ids == []
    assert project.description is None
    assert not project.is_archived
    assert not project.is_deleted


def test_create_strips_text_and_dedupes_the_team() -> None:
    alice, bob = uuid4(), uuid4()

    project = Project.create(
        name=" Website ",
        path=" /home/me/website ",
        description="  ",
        team_character_ids=[alice, bob, alice],
    )

    assert project.name == "Website"
    assert project.path == "/home/me/website"
    assert project.description is None
    assert project.team_character_ids == [alice, bob]


@pytest.mark.parametrize(("name", "path"), [("", "/p"), ("Site", "  ")])
def test_create_needs_a_name_and_a_path(name: str, path: str) -> None:
    with pytest.raises(ValidationError):
        Project.create(name=name, path=path)


def test_create_accepts_a_complete_pm() -> None:
    character_id, session_id = uuid4(), uuid4()

    project = make(pm_character_id=character_id, pm_session_id=session_id)

    assert (project.pm_character_id, project.pm_session_id) == (character_id, session_id)


@pytest.mark.parametrize("missing", ["pm_character_id", "pm_session_id"])
def test_create_refuses_half_a_pm(missing: str) -> None:
    pm = {"pm_character_id": uuid4(), "pm_session_id": uuid4()}
    del pm[missing]

    with pytest.raises(ValidationError) as caught:
        make(**pm)

    assert caught.value.details[missing] is None


def test_assign_pm_sets_both_fields() -> None:
    project = make()
    character_id, session_id = uuid4(), uuid4()

    replaced = project.assign_pm(character_id, session_id)

    assert replaced is None
    assert (project.pm_character_id, project.pm_session_id) == (character_id, session_id)


def test_assigning_a_new_pm_returns_the_replaced_session() -> None:
    old_session = uuid4()
    project = make(pm_character_id=uuid4(), pm_session_id=old_session)

    assert project.assign_pm(uuid4(), uuid4()) == old_session


def test_reassigning_the_same_pm_session_replaces_nothing() -> None:
    character_id, session_id = uuid4(), uuid4()
    project = make(pm_character_id=character_id, pm_session_id=session_id)

    assert project.assign_pm(character_id, session_id) is None


def test_assign_pm_refuses_a_missing_session() -> None:
    project = make()

    with pytest.raises(ValidationError):
        project.assign_pm(uuid4(), None)  # type: ignore[arg-type]

    assert project.pm_character_id is None


def test_remove_pm_clears_both_fields_and_returns_the_old_session() -> None:
    session_id = uuid4()
    project = make(pm_character_id=uuid4(), pm_session_id=session_id)

    assert project.remove_pm() == session_id
    assert project.pm_character_id is None
    assert project.pm_session_id is None


def test_remove_pm_without_a_pm_returns_none() -> None:
    assert make().remove_pm() is None


def test_remove_pm_repairs_a_half_set_pm() -> None:
    project = half_pm_project()

    assert project.remove_pm() is None
    assert project.pm_character_id is None


MUTATORS: dict[str, Callable[[Project], object]] = {
    "assign_pm": lambda p: p.assign_pm(uuid4(), uuid4()),
    "set_team": lambda p: p.set_team([]),
    "update": lambda p: p.update(name="New"),
    "archive": lambda p: p.archive(NOW),
    "unarchive": Project.unarchive,
    "soft_delete": lambda p: p.soft_delete(NOW),
    "restore": Project.restore,
}


@pytest.mark.parametrize("mutator", list(MUTATORS))
def test_mutators_refuse_a_project_with_half_a_pm(mutator: str) -> None:
    with pytest.raises(ValidationError):
        MUTATORS[mutator](half_pm_project())


def test_set_team_dedupes_and_keeps_order() -> None:
    a, b, c = uuid4(), uuid4(), uuid4()
    project = make(team_character_ids=[a])

    project.set_team(iter([c, a, c, b]))

    assert project.team_character_ids == [c, a, b]


def test_members_are_the_team_and_the_pm() -> None:
    teammate, pm, stranger = uuid4(), uuid4(), uuid4()
    project = make(team_character_ids=[teammate], pm_character_id=pm, pm_session_id=uuid4())

    assert project.has_member(teammate)
    assert project.has_member(pm)
    assert not project.has_member(stranger)


def test_update_renames_and_redescribes() -> None:
    project = make(description="old")

    project.update(name=" New name ", description=" New description ")

    assert project.name == "New name"
    assert project.description == "New description"


def test_update_leaves_omitted_fields_alone() -> None:
    project = make(description="kept")

    project.update(name="Renamed")

    assert project.description == "kept"


def test_update_with_none_clears_the_description() -> None:
    project = make(description="old")

    project.update(description=None)

    assert project.description is None
    assert project.name == "Website"


def test_update_with_a_bad_name_changes_nothing() -> None:
    project = make(description="old")

    with pytest.raises(ValidationError):
        project.update(name="  ", description="new")

    assert (project.name, project.description) == ("Website", "old")


def test_archive_and_unarchive() -> None:
    project = make()

    project.archive(NOW)
    project.archive(LATER)

    assert project.is_archived
    assert project.archived_at == NOW

    project.unarchive()

    assert not project.is_archived


def test_soft_delete_and_restore() -> None:
    project = make()

    project.soft_delete(NOW)
    project.soft_delete(LATER)

    assert project.is_deleted
    assert project.deleted_at == NOW

    project.restore()

    assert not project.is_deleted


def test_project_ids_are_uuids() -> None:
    assert isinstance(make().id, UUID)
    assert make().id != make().id
