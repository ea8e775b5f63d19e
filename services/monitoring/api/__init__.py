"""Monitoring HTTP API: frameworks, submissions and their approval, results, imports, operational roll-ups."""

from fastapi import APIRouter

from services.monitoring.api import collection, frameworks, imports, operations, results

router = APIRouter()
for part in (frameworks, collection, imports, results, operations):
    router.include_router(part.router)
