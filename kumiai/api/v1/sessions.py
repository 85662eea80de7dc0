"""v1 sessions endpoints (see V1_CONTRACT.md)."""

from fastapi import APIRouter

router = APIRouter()
