"""Onboarding: the welcome dialog's starter teams and the "completed" flag.

Setting up a team makes its skills, its characters and a demo project whose PM
gets its PM session. What exists already (matched by slug or name) is reused, so
running the setup again, or after a failure half-way, completes the team instead
of duplicating it; the user's edits to reused definitions are kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from kumiai.application.dtos.characters import CharacterCreate
from kumiai.application.dtos.onboarding import OnboardingResult, OnboardingStatus
from kumiai.application.dtos.projects import ProjectCreate, ProjectEdit, ProjectView
from kumiai.application.dtos.skills import SkillCreate
from kumiai.application.ports.unit_of_work import UnitOfWorkFactory
from kumiai.application.services.characters import CharacterService
from kumiai.application.services.common import record_activity
from kumiai.application.services.onboarding_teams import TeamTemplate
from kumiai.application.services.projects import ProjectService
from kumiai.application.services.skills import SkillService
from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import UserProfile
from kumiai.domain.value_objects import EventType, slugify


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class _Definition(_Named, Protocol):
    @property
    def slug(self) -> str: ...


T = TypeVar("T", bound=_Named)


@dataclass
class _Ensured:
    """Slugs by template name, and the slugs this setup created."""

    slugs: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)


class OnboardingService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        characters: CharacterService,
        skills: SkillService,
        projects: ProjectService,
        teams: Mapping[str, TeamTemplate],
    ) -> None:
        """``teams``: the starter teams by the key the welcome dialog sends."""
        self._uow = uow
        self._characters = characters
        self._skills = skills
        self._projects = projects
        self._teams = teams

    async def status(self) -> OnboardingStatus:
        async with self._uow() as uow:
            profile = await uow.profiles.get_or_create()
            await uow.commit()  # the first read creates the profile
            return _status(profile)

    async def setup(self, team: str) -> OnboardingResult:
        """Make the starter ``team`` and mark onboarding completed."""
        template = self._template(team)
        skills = await _ensure(await self._skills.list_all(), template.skills, self._create_skill)
        characters = await _ensure(
            await self._characters.list_all(),
            template.characters,
            lambda member: self._create_character(member, skills.slugs),
        )
        project = await self._ensure_project(template, characters.slugs)
        await self._record(lambda profile: profile.complete_onboarding(team))
        return OnboardingResult(
            project_name=project.name,
            skills_created=skills.created,
            agents_created=characters.created,
            message=(
                f"{template.title} is ready: {len(characters.slugs)} agents with "
                f"{len(skills.slugs)} skills work on '{project.name}'."
            ),
        )

    async def reset(self) -> OnboardingStatus:
        """Show the welcome dialog again; nothing that setup made is removed."""
        return await self._record(UserProfile.reset_onboarding)

    async def _create_skill(self, skill: SkillCreate) -> str:
        return (await self._skills.create(skill)).slug

    async def _create_character(self, member: CharacterCreate, skills: dict[str, str]) -> str:
        """``skills``: the slugs of the team's skills by name."""
        named = {"skills": [skills[name] for name in member.skills or ()]}
        return (await self._characters.create(member.model_copy(update=named))).slug

    async def _ensure_project(self, team: TeamTemplate, slugs: dict[str, str]) -> ProjectView:
        """The live demo project, given its PM; created with the whole team if missing."""
        pm = slugs[team.pm.name]
        for project in await self._projects.list_all():
            if project.name == team.project_name:
                return await self._projects.edit(project.id, ProjectEdit(pm_character_id=pm))
        return await self._projects.create(
            ProjectCreate(
                name=team.project_name,
                description=team.project_description,
                team_character_ids=list(slugs.values()),
                pm_character_id=pm,
            )
        )

    def _template(self, team: str) -> TeamTemplate:
        try:
            return self._teams[team]
        except KeyError:
            raise ValidationError(
                f"unknown team {team!r}: choose one of {', '.join(self._teams)}",
                details={"field": "team", "value": team},
            ) from None

    async def _record(self, change: Callable[[UserProfile], None]) -> OnboardingStatus:
        async with self._uow() as uow:
            profile = await uow.profiles.get_or_create()
            change(profile)
            await record_activity(uow, EventType.PROFILE_UPDATED, fields=["onboarding"])
            await uow.commit()
            return _status(profile)


async def _ensure(
    existing: Sequence[_Definition],
    templates: Sequence[T],
    create: Callable[[T], Awaitable[str]],
) -> _Ensured:
    """The slug of each template's definition, reusing one with its slug or name."""
    ensured = _Ensured()
    for template in templates:
        slug = _existing_slug(existing, template.name)
        if slug is None:
            slug = await create(template)
            ensured.created.append(slug)
        ensured.slugs[template.name] = slug
    return ensured


def _existing_slug(existing: Sequence[_Definition], name: str) -> str | None:
    wanted = slugify(name)
    return next((item.slug for item in existing if item.slug == wanted or item.name == name), None)


def _status(profile: UserProfile) -> OnboardingStatus:
    return OnboardingStatus(completed=profile.onboarding_completed, team=profile.onboarding_team)
