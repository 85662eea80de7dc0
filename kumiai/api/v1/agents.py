"""v1 agents endpoints (see V1_CONTRACT.md)."""

from fastapi import APIRouter

router = APIRouter()
