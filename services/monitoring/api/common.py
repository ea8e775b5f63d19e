"""What every monitoring route shares: the application, the clock, the read pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
from fastapi import Request

from services.monitoring.application import Monitoring


def app_of(request: Request) -> Monitoring:
    return request.app.state.application


def now(request: Request) -> datetime:
    return request.app.state.clock.now()


@asynccontextmanager
async def reading(request: Request) -> AsyncIterator[asyncpg.Connection]:
    async with request.app.state.pool.acquire() as conn:
        yield conn
