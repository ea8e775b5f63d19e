"""Reads remembered until their read models change (decision 044).

A projection that declares `remembered` has a mark: a random id renewed in the same transaction as anything that
changes its tables (its consumer, a replay's switch, every start). A read over such read models keyed by their marks
computes its answer once and answers from memory while the marks stand; every replica reads the same marks in
PostgreSQL.
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
    """One read's answers over some projections' tables, per their marks and a key; at most `size`, the least
    recently used going first."""

    _NONE = object()

    def __init__(self, schema: str, *projections: str, size: int = 256):
        self.schema, self.projections, self.size = schema, sorted(projections), size
        self._answers: OrderedDict[tuple[tuple[Any, ...], Hashable], Any] = OrderedDict()
        self._marks_sql = (
            f'SELECT mark FROM "{schema}".read_model_marks WHERE projection = ANY($1::text[]) ORDER BY projection'
        )

    async def answer(self, conn: asyncpg.Connection, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        """`compute()`'s answer, or the one it gave under the same marks and `key`: a copy of it either way, the
        caller's to change. The marks are read first, so what is kept under them shows at least what they stand for."""
        marks = tuple(r["mark"] for r in await conn.fetch(self._marks_sql, self.projections))
        if len(marks) < len(self.projections):  # one has no mark (not remembered): nothing to key an answer by
            return await compute()
        at = (marks, key)
        found = self._answers.get(at, self._NONE)
        if found is self._NONE:
            found = self._answers[at] = await compute()
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
        else:
            self._answers.move_to_end(at)
        return copy.deepcopy(found)
