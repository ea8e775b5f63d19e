"""A process's read pool (decision 041): a connection comes back without a statement of its own, rolled back if a
transaction was left open."""

from __future__ import annotations

import pytest

from dudao.service import open_pool

pytestmark = pytest.mark.integration


async def test_a_connection_comes_back_to_the_pool_without_a_round_trip_of_its_own(settings):
    sent: list[str] = []
    pool = await open_pool(settings.database_url, 1)
    try:
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda r: sent.append(r.query))
            assert await conn.fetchval("SELECT 1") == 1
        async with pool.acquire() as conn:  # the same connection, the only one
            assert await conn.fetchval("SELECT 2") == 2
        assert sent == ["SELECT 1", "SELECT 2"], sent  # asyncpg's default sends its reset between them (RESET ALL …)
    finally:
        await pool.close()


async def test_a_transaction_left_open_is_rolled_back_before_the_next_request_takes_the_connection(settings):
    pool = await open_pool(settings.database_url, 1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TEMP TABLE left_open (n int)")
            await conn.execute("BEGIN")
            await conn.execute("INSERT INTO left_open VALUES (1)")
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM left_open") == 0
    finally:
        await pool.close()
