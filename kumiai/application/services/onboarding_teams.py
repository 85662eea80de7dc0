"""The starter teams of the welcome dialog: characters, skills and a demo project.

The teams themselves are content, kept in ``infrastructure/starter_teams.yaml``; their
skills and members are the commands that create them. Slugs are derived from the names,
so a second setup finds what the first one made.
"""

from __future__ import annotations

from dataclasses import dataclass

from kumiai.application.dtos.characters import CharacterCreate
from kumiai.application.dtos.skills import SkillCreate


@dataclass(frozen=True)
class ProjectManagerTemplate:
    """Every PM works the same way; only its ``focus`` differs."""

    name: str
    description: str
    focus: str
    icon_color: str

    def character(self) -> CharacterCreate:
        return CharacterCreate(
            name=self.name,
            role="project manager",
            description=self.description,
            tags=["management"],
            skills=[],
            icon_color=self.icon_color,
            content=(
                f"You are the {self.name} of this project. {self.focus}\n\n"
                "Break the goal into small tasks, give each task to the team member best "
                "suited for it, follow up on their progress and keep PROJECT.md up to date "
                "with decisions and status. Ask the user when the goal is unclear."
            ),
        )


@dataclass(frozen=True)
class TeamTemplate:
    title: str
    skills: tuple[SkillCreate, ...]
    pm: ProjectManagerTemplate
    # A member's ``skills`` are the names of skills of this team, not slugs.
    members: tuple[CharacterCreate, ...]
    project_name: str
    project_description: str

    def __post_init__(self) -> None:
        offered = {skill.name for skill in self.skills}
        for member in self.members:
            unknown = set(member.skills or ()) - offered
            if unknown:
                raise ValueError(f"{member.name} names skills the team lacks: {sorted(unknown)}")

    @property
    def characters(self) -> tuple[CharacterCreate, ...]:
        """The PM, then the members."""
        return (self.pm.character(), *self.members)
