"""v1 onboarding (V1_CONTRACT §2.11): the welcome dialog's starter teams."""

from __future__ import annotations

from pydantic import BaseModel

from kumiai.api.deps import ContainerDep
from kumiai.api.routing import FlatRouter
from kumiai.application.dtos.onboarding import OnboardingResult, OnboardingStatus, TeamName

router = FlatRouter(prefix="/onboarding", tags=["v1 onboarding"])


class SetupBody(BaseModel):
    team: TeamName


@router.get("/status")
async def get_status(container: ContainerDep) -> OnboardingStatus:
    """While `completed` is false the client opens the welcome dialog on every load."""
    return await container.onboarding.status()


@router.post("/setup")
async def set_up_team(body: SetupBody, container: ContainerDep) -> OnboardingResult:
    """Create the team's skills and agents and a demo project with its PM session, then
    mark onboarding completed. Existing agents and skills of the same name are reused,
    so running it again completes a team rather than duplicating it."""
    return await container.onboarding.setup(body.team)


@router.post("/reset")
async def reset_onboarding(container: ContainerDep) -> OnboardingStatus:
    """Show the welcome dialog again; nothing the setup made is removed."""
    return await container.onboarding.reset()
