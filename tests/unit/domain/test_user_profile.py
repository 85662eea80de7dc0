"""The UserProfile entity: profile fields and the settings layout."""

from __future__ import annotations

from typing import Any

import pytest

from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import UserProfile, default_settings


def test_new_profile_has_the_default_settings() -> None:
    profile = UserProfile()

    assert profile.settings == {
        "preferences": {},
        "onboarding": {"completed": False, "team": None},
        "tools": {"bash_enabled": True},
        "model": None,
    }
    assert profile.preferences == {}
    assert not profile.onboarding_completed
    assert profile.onboarding_team is None
    assert profile.bash_enabled
    assert profile.preferred_model is None


def test_default_settings_are_fresh_each_time() -> None:
    assert default_settings() is not default_settings()
    assert UserProfile().settings["preferences"] is not UserProfile().settings["preferences"]


@pytest.mark.parametrize(
    "settings", [{}, {"preferences": [], "onboarding": "yes", "tools": None, "model": 5}]
)
def test_missing_or_malformed_settings_read_as_defaults(settings: dict[str, Any]) -> None:
    profile = UserProfile(settings=settings)

    assert profile.preferences == {}
    assert not profile.onboarding_completed
    assert profile.onboarding_team is None
    assert profile.bash_enabled
    assert profile.preferred_model is None


def test_preferences_are_returned_as_a_copy() -> None:
    profile = UserProfile()
    profile.update_profile(preferences={"theme": "dark"})

    profile.preferences["theme"] = "light"

    assert profile.preferences == {"theme": "dark"}


def test_update_profile_changes_the_given_fields() -> None:
    profile = UserProfile(display_name="Old", avatar="a.png", description="d")

    profile.update_profile(display_name="  Kumi  ", description=" Builder ")

    assert profile.display_name == "Kumi"
    assert profile.description == "Builder"
    assert profile.avatar == "a.png"


def test_update_profile_with_none_or_blank_clears_text() -> None:
    profile = UserProfile(display_name="Old", avatar="a.png", description="d")

    profile.update_profile(display_name="  ", avatar=None, description="")

    assert (profile.display_name, profile.avatar, profile.description) == (None, None, None)


def test_update_profile_accepts_a_large_data_url_avatar() -> None:
    avatar = "data:image/png;base64," + "A" * 3_000_000
    profile = UserProfile()

    profile.update_profile(avatar=avatar)

    assert profile.avatar == avatar


def test_display_name_has_the_name_length_limit() -> None:
    with pytest.raises(ValidationError) as caught:
        UserProfile().update_profile(display_name="n" * 201)

    assert caught.value.details == {"field": "display_name"}


def test_updating_preferences_replaces_them_and_the_settings_dict() -> None:
    profile = UserProfile()
    profile.update_profile(preferences={"theme": "dark", "lang": "en"})
    before = profile.settings

    profile.update_profile(preferences={"theme": "light"})

    assert profile.preferences == {"theme": "light"}
    assert profile.settings is not before
    assert before["preferences"] == {"theme": "dark", "lang": "en"}


def test_updating_only_text_fields_leaves_settings_untouched() -> None:
    profile = UserProfile()
    before = profile.settings

    profile.update_profile(display_name="Kumi")

    assert profile.settings is before


def test_completing_onboarding_records_the_team() -> None:
    profile = UserProfile()
    before = profile.settings

    profile.complete_onboarding(" web-team ")

    assert profile.onboarding_completed
    assert profile.onboarding_team == "web-team"
    assert profile.settings is not before


def test_onboarding_can_complete_without_a_team() -> None:
    profile = UserProfile()

    profile.complete_onboarding()

    assert profile.onboarding_completed
    assert profile.onboarding_team is None


def test_resetting_onboarding_forgets_the_team() -> None:
    profile = UserProfile()
    profile.complete_onboarding("web-team")

    profile.reset_onboarding()

    assert not profile.onboarding_completed
    assert profile.onboarding_team is None


def test_bash_can_be_turned_off_and_on() -> None:
    profile = UserProfile()
    before = profile.settings

    profile.set_tool_permissions(bash_enabled=False)

    assert not profile.bash_enabled
    assert profile.settings is not before

    profile.set_tool_permissions(bash_enabled=True)

    assert profile.bash_enabled


def test_tool_permissions_keep_other_tool_settings() -> None:
    profile = UserProfile(settings={"tools": {"bash_enabled": True, "web": False}})

    profile.set_tool_permissions(bash_enabled=False)

    assert profile.settings["tools"] == {"bash_enabled": False, "web": False}


def test_preferred_model_can_be_set_and_cleared() -> None:
    profile = UserProfile()

    profile.set_preferred_model(" claude-sonnet-4 ")
    assert profile.preferred_model == "claude-sonnet-4"

    profile.set_preferred_model("  ")
    assert profile.preferred_model is None


def test_mutators_keep_the_other_sections() -> None:
    profile = UserProfile()
    profile.update_profile(preferences={"theme": "dark"})
    profile.complete_onboarding("team")
    profile.set_tool_permissions(bash_enabled=False)
    profile.set_preferred_model("m")

    assert profile.settings == {
        "preferences": {"theme": "dark"},
        "onboarding": {"completed": True, "team": "team"},
        "tools": {"bash_enabled": False},
        "model": "m",
    }
