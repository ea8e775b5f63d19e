"""Accountability HTTP API: rectification cases, the measures that make results bite, public reads."""

from fastapi import APIRouter

from services.accountability.api import cases, measures, public

router = APIRouter()
for part in (cases, measures, public):
    router.include_router(part.router)
