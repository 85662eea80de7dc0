from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

# The starter teams the welcome dialog offers.
TeamName = Literal["dev", "research", "content"]


class OnboardingStatus(BaseModel):
    completed: bool
    team: str | None


class OnboardingResult(BaseModel):
    """What a starter-team setup made; lists hold the slugs created by this call."""

    project_name: str
    skills_created: list[str]
    agents_created: list[str]
    message: str
