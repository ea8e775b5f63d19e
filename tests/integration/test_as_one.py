"""A batch's runs sent as one statement over arrays (decision 054) leave PostgreSQL's rows as the same writes sent one
at a time, in the order the handlers made them, leave them."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import asyncpg
import pytest

from dudao.deferring import Deferring

pytestmark = pytest.mark.integration

TABLES = """
CREATE TABLE {s}.items (id int PRIMARY KEY, n int NOT NULL, note text, doc jsonb NOT NULL DEFAULT '{{}}',
                        at timestamptz NOT NULL);
CREATE TABLE {s}.tags (id int NOT NULL, tag text NOT NULL, count int NOT NULL, PRIMARY KEY (id, tag));
CREATE TABLE {s}.log (seq bigserial PRIMARY KEY, id int NOT NULL, what text NOT NULL, UNIQUE (id, what));
"""

# an aggregate's writes, each keyed by its own id (an own-rows projection's, decision 040)
INSERT = (
    "INSERT INTO {s}.items (id, n, note, at) VALUES ($1, $2, $3, $4::text::timestamptz) ON CONFLICT (id) DO NOTHING"
)
ADD = "UPDATE {s}.items SET n = n + $2, note = coalesce($3, note) || '·' WHERE id = $1"  # each one's order shows
MERGE = "UPDATE {s}.items SET doc = doc || $2::jsonb WHERE id = $1"
TAG = "INSERT INTO {s}.tags (id, tag, count) VALUES ($1, $2, 1) ON CONFLICT (id, tag) DO UPDATE SET count = tags.count + 1"
UNTAG = "DELETE FROM {s}.tags WHERE id = $1 AND tag = $2"
LOG = "INSERT INTO {s}.log (id, what) VALUES ($1, $2) ON CONFLICT DO NOTHING"  # numbered in the order inserted


def writes(seed: int) -> list[tuple[int, str, tuple[Any, ...]]]:
    """A batch's writes as handlers make them, aggregates interleaved: (aggregate, statement, arguments)."""
    rng = random.Random(seed)
    made: list[tuple[int, str, tuple[Any, ...]]] = []
    started: list[int] = []
    for _ in range(600):
        if not started or rng.random() < 0.1:
            aggregate = len(started) + 1
            started.append(aggregate)
            made.append((aggregate, INSERT, (aggregate, 0, None, f"2026-11-{1 + aggregate % 28:02d}T08:00:00+08:00")))
            continue
        aggregate = rng.choice(started)
        kind = rng.choice((ADD, ADD, MERGE, TAG, TAG, UNTAG, LOG, INSERT))
        tag = rng.choice(("a", "b", "c"))
        if kind == ADD:
            args: tuple[Any, ...] = (aggregate, rng.randint(1, 9), rng.choice((None, "x", "y")))
        elif kind == MERGE:
            args = (aggregate, json.dumps({tag: rng.randint(1, 9)}))
        elif kind == LOG:
            args = (rng.choice(started), tag)  # a log row another aggregate may also write
        elif kind == INSERT:
            args = (aggregate, 99, "again", "2026-11-30T08:00:00+08:00")  # skipped: it exists
        else:
            args = (aggregate, tag)
        made.append((aggregate, kind, args))
    return made


class Counted:
    """A connection that counts the statements it sends."""

    def __init__(self, conn: asyncpg.Connection):
        self.conn, self.sent = conn, 0

    async def execute(self, query: str, *args: Any) -> str:
        self.sent += 1
        return await self.conn.execute(query, *args)

    async def executemany(self, query: str, rows: list[tuple[Any, ...]]) -> None:
        self.sent += len(rows)
        await self.conn.executemany(query, rows)

    async def prepare(self, query: str) -> asyncpg.prepared_stmt.PreparedStatement:
        return await self.conn.prepare(query)


async def contents(conn: asyncpg.Connection, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """The tables' rows; the log's without their numbers, which an own-rows batch gives across aggregates in the order
    of its runs, not of the writes (decision 040)."""
    return {
        table: [tuple(r) for r in await conn.fetch(f"SELECT {columns} FROM {schema}.{table} ORDER BY 1, 2")]
        for table, columns in (("items", "*"), ("tags", "*"), ("log", "id, what"))
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_sent_as_one_statement_a_run_leaves_the_rows_as_its_writes_one_at_a_time_do(settings, seed: int):
    made = writes(seed)

    async def run() -> tuple[dict, dict, int]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            for schema in ("one_at_a_time", "as_one"):
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}; " + TABLES.format(s=schema))
            async with conn.transaction():
                for _, query, args in made:
                    await conn.execute(query.format(s="one_at_a_time"), *args)
            counted = Counted(conn)
            writing = Deferring(counted, own_rows=True)  # type: ignore[arg-type]
            async with conn.transaction():
                for aggregate, query, args in made:
                    writing.aggregate = aggregate
                    await writing.execute(query.format(s="as_one"), *args)
                await writing.flush()
            return await contents(conn, "one_at_a_time"), await contents(conn, "as_one"), counted.sent
        finally:
            await conn.close()

    expected, found, sent = asyncio.run(run())
    assert found == expected
    assert expected["items"] and expected["tags"] and expected["log"]
    assert sent < len(made) / 4  # runs went as one: this many statements for 600 writes


def test_an_insert_run_goes_as_one_in_the_order_written_for_any_projection(settings):
    """Without own rows, an insert that skips what conflicts still goes as one statement: the rows it numbers come in
    the order written, and a row written twice is kept at its first place."""
    rows = [(n % 7, f"w{n % 3}") for n in range(40)]

    async def run() -> tuple[list, list, int]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            for schema in ("one_at_a_time", "as_one"):
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}; " + TABLES.format(s=schema))
            for row in rows:
                await conn.execute(LOG.format(s="one_at_a_time"), *row)
            counted = Counted(conn)
            writing = Deferring(counted)  # type: ignore[arg-type]
            async with conn.transaction():
                for row in rows:
                    await writing.execute(LOG.format(s="as_one"), *row)
                await writing.flush()
            return [
                [tuple(r) for r in await conn.fetch(f"SELECT id, what FROM {schema}.log ORDER BY seq")]
                for schema in ("one_at_a_time", "as_one")
            ] + [counted.sent]
        finally:
            await conn.close()

    expected, found, sent = asyncio.run(run())
    assert found == expected
    assert sent == 1
