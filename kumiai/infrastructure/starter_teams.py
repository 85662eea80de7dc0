"""The starter teams of the welcome dialog, read from ``starter_teams.yaml`` beside this
module: content that changes without touching code."""

from __future__ import annotations

from importlib.resources import files

import yaml
from pydantic import TypeAdapter

from kumiai.application.services.onboarding_teams import TeamTemplate

TEAMS_FILE = "starter_teams.yaml"

_TEAMS = TypeAdapter(dict[str, TeamTemplate])


def load_starter_teams() -> dict[str, TeamTemplate]:
    """The teams by the key the welcome dialog sends (``dev``, ``research``, ...)."""
    return parse_starter_teams(files(__package__).joinpath(TEAMS_FILE).read_text(encoding="utf-8"))


def parse_starter_teams(text: str) -> dict[str, TeamTemplate]:
    """Teams in the YAML shape of ``starter_teams.yaml``; a pydantic ValidationError
    says what is missing or wrong."""
    return _TEAMS.validate_python(yaml.safe_load(text))
