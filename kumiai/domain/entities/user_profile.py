"""The UserProfile entity: the single user's profile and settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from kumiai.domain.entities._rules import UNSET, Unset, optional_text
from kumiai.domain.value_objects.identifiers import validate_name


def default_settings() -> dict[str, Any]:
    """The settings of a fresh profile; the layout every reader may rely on."""
    return {
        "preferences": {},
        "onboarding": {"completed": False, "team": None},
        "tools": {"bash_enabled": True},
        "model": None,
    }


@dataclass(eq=False, kw_only=True)
class UserProfile:
    """The one user of this workbench.

    ``settings`` holds ``preferences`` (free JSON from the client), ``onboarding``
    (``completed``, ``team``), ``tools`` (``bash_enabled``) and ``model``. Readers are
    lenient because imported or older rows may miss sections; every mutator assigns a new
    dict so the ORM notices the JSON column changed.
    """

    id: UUID = field(default_factory=uuid4)
    display_name: str | None = None
    avatar: str | None = None
    description: str | None = None
    settings: dict[str, Any] = field(default_factory=default_settings)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def preferences(self) -> dict[str, Any]:
        return dict(self._section("preferences"))

    @property
    def onboarding_completed(self) -> bool:
        return self._section("onboarding").get("completed") is True

    @property
    def onboarding_team(self) -> str | None:
        team = self._section("onboarding").get("team")
        return team if isinstance(team, str) else None

    @property
    def bash_enabled(self) -> bool:
        # Bash is on unless the user turned it off explicitly.
        return self._section("tools").get("bash_enabled") is not False

    @property
    def preferred_model(self) -> str | None:
        model = self.settings.get("model")
        return model if isinstance(model, str) else None

    def update_profile(
        self,
        *,
        display_name: str | Unset | None = UNSET,
        avatar: str | Unset | None = UNSET,
        description: str | Unset | None = UNSET,
        preferences: Mapping[str, Any] | Unset = UNSET,
    ) -> None:
        """Change the given fields; omitted ones stay, ``None`` clears a text field.

        ``preferences`` replaces the whole preferences object.
        """
        if not isinstance(display_name, Unset):
            name = optional_text(display_name)
            self.display_name = None if name is None else validate_name(name, "display_name")
        if not isinstance(avatar, Unset):
            self.avatar = optional_text(avatar)
        if not isinstance(description, Unset):
            self.description = optional_text(description)
        if not isinstance(preferences, Unset):
            self._replace_section("preferences", dict(preferences))

    def complete_onboarding(self, team: str | None = None) -> None:
        """Record that onboarding finished, with the starter team the user picked."""
        self._replace_section("onboarding", {"completed": True, "team": optional_text(team)})

    def reset_onboarding(self) -> None:
        self._replace_section("onboarding", {"completed": False, "team": None})

    def set_tool_permissions(self, *, bash_enabled: bool) -> None:
        self._replace_section("tools", {**self._section("tools"), "bash_enabled": bash_enabled})

    def set_preferred_model(self, model: str | None) -> None:
        """Set the default Claude model; ``None`` or blank means "use the built-in default"."""
        self._replace_section("model", optional_text(model))

    def _section(self, key: str) -> dict[str, Any]:
        section = self.settings.get(key)
        return section if isinstance(section, dict) else {}

    def _replace_section(self, key: str, value: object) -> None:
        self.settings = {**self.settings, key: value}
