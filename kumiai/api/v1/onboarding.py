"""v1 onboarding endpoints (see V1_CONTRACT.md)."""

from fastapi import APIRouter

router = APIRouter()
