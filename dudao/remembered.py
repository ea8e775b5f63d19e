"""Reads remembered until their read model changes (decision 044).

A projection that declares `remembered` has a mark: a random id renewed in the same transaction as anything that
changes its tables (its consumer, a replay's switch, a new version's start). A read over it keyed by the mark computes
its answer once and answers from memory while the mark stands; every replica reads the one mark in PostgreSQL.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import asyncpg


async def ensure_table(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(
        f'CREATE TABLE IF NOT EXISTS "{schema}".read_model_marks (projection text PRIMARY KEY, mark uuid NOT NULL)'
    )


async def renew(conn: asyncpg.Connection, schema: str, projection: str) -> None:
    """A new mark for `projection`, in `conn`'s transaction: what was remembered under the old one is not read again."""
    await conn.execute(
        f'INSERT INTO "{schema}".read_model_marks (projection, mark) VALUES ($1, gen_random_uuid())'
        " ON CONFLICT (projection) DO UPDATE SET mark = excluded.mark",
        projection,
    )


class Remembered:
    """One read's answers over one projection's tables, per mark and key; at most `size`, least recently used out."""

    _NONE = object()

    def __init__(self, schema: str, projection: str, size: int = 256):
        self.schema, self.projection, self.size = schema, projection, size
        self._answers: OrderedDict[tuple[Any, Hashable], Any] = OrderedDict()
        self._mark_sql = f'SELECT mark FROM "{schema}".read_model_marks WHERE projection = $1'

    async def answer(self, conn: asyncpg.Connection, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        """`compute()`'s answer, or the one it gave under the same mark and `key`: a copy of it either way, the
        caller's to change. The mark is read first, so what is kept under it shows at least what it stands for."""
        mark = await conn.fetchval(self._mark_sql, self.projection)
        if mark is None:  # not applied anything yet (or not remembered): nothing to key an answer by
            return await compute()
        at = (mark, key)
        found = self._answers.get(at, self._NONE)
        if found is self._NONE:
            found = self._answers[at] = await compute()
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
        else:
            self._answers.move_to_end(at)
        return copy.deepcopy(found)
