"""v1 session_files endpoints (see V1_CONTRACT.md)."""

from fastapi import APIRouter

router = APIRouter()
