"""Reads remembered until their read models change (decision 044).

A projection that declares `remembered` has a mark: a random id renewed in the same transaction as anything that
changes its tables (its consumer, a replay's switch, every start). A read over such read models keyed by their marks
computes its answer once and answers from memory while the marks stand; every replica reads the same marks in
PostgreSQL.

The gateway may remember a whole answer under the marks it was computed with (decision 047): each service answers,
on core NATS, what its marks are now.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import date
from typing import Any

import asyncpg
import strawberry
from graphql import FieldNode, get_operation_ast
from nats.aio.msg import Msg
from strawberry.extensions import SchemaExtension

from dudao import bus

log = logging.getLogger("dudao.remembered")


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


# --- the marks, asked for by the gateway (decision 047) ----------------------------------------------------------


def marks_subject(jurisdiction: str, service: str) -> str:
    """Where a service of the instance of `jurisdiction` answers what its marks are now (core NATS, not a stream)."""
    return f"dudao.{jurisdiction}.marks.{service}"


class MarksAnswerer(bus.InBackground):
    """Answers `marks_subject` with this service's marks as PostgreSQL has them at that moment, and its day (what is
    overdue depends on it): `{"marks": {projection: mark}, "today": "YYYY-MM-DD"}`. Replicas share the subject as a
    queue group, and every one reads the same table, so any may answer."""

    def __init__(self, nats_url: str, subject: str, pool: asyncpg.Pool, schema: str, today: Callable[[], date]):
        self._url, self._subject, self._pool, self._today = nats_url, subject, pool, today
        self._sql = f'SELECT projection, mark FROM "{schema}".read_model_marks'

    async def _run(self) -> None:
        try:
            self._nc = await bus.connect(self._url, f"marks {self._subject}")
            await self._nc.subscribe(self._subject, queue=self._subject, cb=self._answer)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the gateway cannot remember this service's answers: answering %s failed", self._subject)

    async def _answer(self, msg: Msg) -> None:
        try:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(self._sql)
        except (OSError, asyncpg.PostgresError) as e:  # no answer: the gateway computes, as it would without marks
            log.warning("marks not answered: %s", e)
            return
        marks = {r["projection"]: str(r["mark"]) for r in rows}
        await msg.respond(json.dumps({"marks": marks, "today": self._today().isoformat()}).encode())


# --- what an answer was computed from (decision 047) -------------------------------------------------------------------


def remembered_over(info: strawberry.Info, *projections: str) -> None:
    """Says that this root field's answer comes wholly from the tables of `projections` (each `remembered`, so each
    has a mark), the caller's token, its arguments and the day: the gateway may then remember the whole answer of a
    request whose every root field said so, until one of those marks changes."""
    if info.path.prev is None:
        info.context.setdefault(REMEMBERED_OVER, {})[info.path.key] = projections


REMEMBERED_OVER = "remembered_over"


class Remembrance(SchemaExtension):
    """Adds `extensions.remembered`, the projections an answer came from, when every root field of the request
    declared them (`remembered_over`) and nothing failed; otherwise nothing, and the answer is not remembered."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context
        over = context.context.get(REMEMBERED_OVER) if isinstance(context.context, dict) else None
        if not over or context.pre_execution_errors or context.graphql_document is None:
            return {}
        operation = get_operation_ast(context.graphql_document, context.operation_name)
        if operation is None or operation.operation.value != "query":
            return {}
        projections: set[str] = set()
        for node in operation.selection_set.selections:
            key = (node.alias or node.name).value if isinstance(node, FieldNode) else None
            if key == "__typename":
                continue
            if key not in over:  # a fragment, or a field that read something without a mark
                return {}
            projections.update(over[key])
        return {"remembered": sorted(projections)}
