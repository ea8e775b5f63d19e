"""Inspection HTTP API: activities and double-random draws."""

from fastapi import APIRouter

from services.inspection.api import activities, draws, plans, visits

router = APIRouter()
for part in (activities, draws, plans, visits):
    router.include_router(part.router)
