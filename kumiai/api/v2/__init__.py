"""The v2 API: envelopes, cursor pagination and thin endpoints over the services."""

from fastapi import APIRouter

from kumiai.api.v2 import (
    activity,
    characters,
    conversation,
    profile,
    projects,
    sessions,
    skills,
)

router = APIRouter(prefix="/api/v2")
router.include_router(profile.router)
router.include_router(characters.router)
router.include_router(skills.router)
router.include_router(projects.router)
router.include_router(sessions.router)
router.include_router(conversation.router)
router.include_router(activity.router)
