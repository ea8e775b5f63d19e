"""One active replica of a worker: a PostgreSQL advisory lock, held on a connection of its own (decisions 006, 011).

Several replicas of a service may run; a durable consumer or the outbox relay must be worked by one at a time, or
events would be applied or published out of order. Whoever holds the lock works; the others stand by, and take over
when the holder's connection goes (a crash closes it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from dudao import bus
from dudao.telemetry import why

log = logging.getLogger("dudao.leadership")

# How long taking or letting go of the lock may wait on PostgreSQL. A connection whose peer vanished without a word
# (a cut link, a dead proxy) would otherwise hold a stopping service or a waiting replica for ever.
WAIT_S = 5.0
CLOSE_S = 2.0


async def lead(database_url: str, key: str, stop: asyncio.Event, who: str) -> asyncpg.Connection | None:
    """Wait until this replica holds the lock named `key`; the connection holding it, or None when stopped."""
    waiting = False
    while not stop.is_set():
        conn = None
        try:
            conn = await asyncpg.connect(database_url, timeout=WAIT_S)
            if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key, timeout=WAIT_S):
                if waiting:
                    log.info("%s: this replica takes over", who)
                return conn
            await release(conn)
            if not waiting:
                log.info("%s: another replica is working; standing by", who)
                waiting = True
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:  # TimeoutError is an OSError
            log.warning("%s: cannot reach PostgreSQL for the lock (%s); retrying", who, why(e))
            if conn is not None:
                await release(conn)
        await bus.wait_or_stop(stop, 1)
    return None


async def while_leading(
    database_url: str, key: str, stop: asyncio.Event, who: str, work: Callable[[asyncpg.Connection], Awaitable[None]]
) -> None:
    """Run `work(lock)` whenever this replica holds the lock named `key`, again after it loses it, until `stop`: the
    loop the relay, each consumer and each link keeper run so that one replica works at a time."""
    while not stop.is_set():
        lock = await lead(database_url, key, stop, who)
        if lock is None:
            return
        try:
            await work(lock)
        finally:
            await release(lock)


async def release(conn: asyncpg.Connection) -> None:
    """Let go of the lock by closing its connection: politely if PostgreSQL answers within `CLOSE_S`, else at once
    (PostgreSQL releases the lock when it sees the session gone)."""
    try:
        await conn.close(timeout=CLOSE_S)
    except Exception as e:
        log.debug("closing a lock's connection: %s", e)
        conn.terminate()
