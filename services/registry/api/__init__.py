"""Registry HTTP API: who may ask what of schools, inspectors, zones, committees, policy profiles and API clients."""

from fastapi import APIRouter

from services.registry.api import api_clients, imports, inspectors, personal, places, public, schools, townships

router = APIRouter()
for part in (schools, inspectors, imports, personal, places, townships, public, api_clients):
    router.include_router(part.router)
