"""Inspection HTTP API: activities and double-random draws."""

from fastapi import APIRouter

from services.inspection.api import activities, draws, plans, public, visits

router = APIRouter()
for part in (activities, draws, plans, public, visits):
    router.include_router(part.router)
