"""The v2 API: envelopes, cursor pagination and thin endpoints over the services."""

from fastapi import APIRouter

from kumiai.api.v2 import profile

router = APIRouter(prefix="/api/v2")
router.include_router(profile.router)
