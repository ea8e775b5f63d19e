"""One active replica of a worker: a PostgreSQL advisory lock, held on a connection of its own (decisions 006, 011).

Several replicas of a service may run; a durable consumer or the outbox relay must be worked by one at a time, or
events would be applied or published out of order. Whoever holds the lock works; the others stand by, and take over
when the holder's connection goes (a crash closes it).
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from dudao import bus

log = logging.getLogger("dudao.leadership")


async def lead(database_url: str, key: str, stop: asyncio.Event, who: str) -> asyncpg.Connection | None:
    """Wait until this replica holds the lock named `key`; the connection holding it, or None when stopped."""
    waiting = False
    while not stop.is_set():
        try:
            conn = await asyncpg.connect(database_url)
            if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
                if waiting:
                    log.info("%s: this replica takes over", who)
                return conn
            await conn.close()
            if not waiting:
                log.info("%s: another replica is working; standing by", who)
                waiting = True
        except (OSError, asyncpg.PostgresError) as e:
            log.warning("%s: cannot reach PostgreSQL for the lock (%s); retrying", who, e)
        await bus.wait_or_stop(stop, 1)
    return None
