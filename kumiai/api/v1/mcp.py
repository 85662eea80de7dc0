"""v1 mcp endpoints (see V1_CONTRACT.md)."""

from fastapi import APIRouter

router = APIRouter()
