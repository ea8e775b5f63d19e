"""Registry HTTP API: who may ask what of schools, inspectors, zones, committees and policy profiles."""

from fastapi import APIRouter

from services.registry.api import inspectors, places, public, schools

router = APIRouter()
for part in (schools, inspectors, places, public):
    router.include_router(part.router)
