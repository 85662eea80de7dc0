"""v1 profile endpoints (see V1_CONTRACT.md)."""

from fastapi import APIRouter

router = APIRouter()
