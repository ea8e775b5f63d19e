"""A batch's connection as its handlers see it (`Deferring`, decisions 034, 040 and 054): their writes wait and go to
PostgreSQL together, a round trip per run of the same statement (one statement over arrays where that does what row by
row does), in an order each aggregate keeps."""

from __future__ import annotations

import bisect
from typing import Any

import asyncpg

from dudao import as_one
from dudao.telemetry import why


class WritesFailed(Exception):
    """A batch's deferred writes failed: raised where they were sent, which may be inside another event's handler,
    as a type no handler catches, so the batch rolls back and goes one event at a time."""


class Deferring:
    """A batch's connection as its handlers see it (decision 034). A write (`execute` with arguments) waits; the
    waiting writes go to PostgreSQL in order before anything else is sent, one round trip per run of the same
    statement: as one statement over arrays where `dudao.as_one` can write it so faithfully (decision 054), otherwise
    asyncpg's pipelined `executemany`. So a handler reads its own and earlier events' writes as it would
    alone, and a backlog of one kind of event (a month of routine visits; every event into the audit and change feed)
    costs a round trip per batch, not per event: about seven times fewer seconds for such statements.

    For a projection whose events write only rows of their own aggregate (`Projection.own_rows`, decision 040), a
    write joins the earliest run of its statement that comes at or after its aggregate's previous write, so each
    aggregate's writes keep their order while different aggregates' are grouped: a school's registration, zone and
    responsible inspector (three statements) cost three round trips a batch rather than three per school."""

    # what sends anything else, after the waiting writes (a pool's connection proxies these; they are not coroutine
    # functions to inspect)
    SENDING = frozenset(
        {
            "fetch",
            "fetchrow",
            "fetchval",
            "fetchmany",
            "executemany",
            "prepare",
            "copy_records_to_table",
            "copy_to_table",
        }
    )

    def __init__(self, conn: asyncpg.Connection, *, own_rows: bool = False):
        self._conn, self._own_rows = conn, own_rows
        self._runs: list[tuple[str, list[tuple[Any, ...]], list[object]]] = []  # in the order they are sent, with
        # the aggregate that wrote each row
        self._runs_of: dict[str, list[int]] = {}  # a statement's runs, in order
        self._reached: dict[object, int] = {}  # an aggregate's latest write's run
        self.aggregate: object = None  # whose handler is writing: set per event by the batch

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        if not args or timeout is not None:  # a script, or a statement with a deadline of its own: sent now
            await self.flush()
            return await self._conn.execute(query, *args, timeout=timeout)
        runs = self._runs
        if self._own_rows:
            # the earliest run of this statement at or after the aggregate's previous write: the latest would leave
            # a statement an aggregate repeats (a form's "results due" after each change) a run per aggregate
            of_query = self._runs_of.setdefault(query, [])
            found = bisect.bisect_left(of_query, self._reached.get(self.aggregate, 0))
            if found < len(of_query):
                at = of_query[found]
            else:
                at = len(runs)
                of_query.append(at)
                runs.append((query, [], []))
            self._reached[self.aggregate] = at
        elif runs and runs[-1][0] == query:
            at = len(runs) - 1
        else:
            at = len(runs)
            runs.append((query, [], []))
        runs[at][1].append(args)
        runs[at][2].append(self.aggregate)
        return ""  # no handler reads a write's status

    async def flush(self) -> None:
        runs = self._runs
        self._runs, self._runs_of, self._reached = [], {}, {}
        try:
            for query, rows, aggregates in runs:
                await self._send(query, rows, aggregates)
        except Exception as e:
            raise WritesFailed(f"a batch's writes failed: {why(e)}") from e

    async def _send(self, query: str, rows: list[tuple[Any, ...]], aggregates: list[object]) -> None:
        """A run of `query`: as one statement over arrays where that does what row by row would (decision 054), for
        an own-rows projection a wave at a time (one row of each aggregate); otherwise row by row, pipelined."""
        if len(rows) > 1:
            shape, types = await _as_one(self._conn, query)
            if types is not None and len(types) == len(rows[0]) and (shape.any_rows or self._own_rows):
                statement = shape.statement(types)
                for wave in [rows] if shape.any_rows else _waves(rows, aggregates):
                    if len(wave) > 1:
                        await self._conn.execute(statement, *as_one.columns(wave, len(types)))
                    else:
                        await self._conn.executemany(query, wave)
                return
        await self._conn.executemany(query, rows)

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._conn, name)
        if name not in self.SENDING:
            return found

        async def after_the_writes(*args: Any, **kwargs: Any) -> Any:
            await self.flush()
            return await found(*args, **kwargs)

        return after_the_writes


_AS_ONE: dict[str, tuple[as_one.Shape, list[str] | None]] = {}  # a statement's text -> how its runs are sent


async def _as_one(conn: asyncpg.Connection, query: str) -> tuple[as_one.Shape, list[str] | None]:
    """How `query`'s runs go as one statement, and its parameters' types (None: row by row), once a process."""
    if (known := _AS_ONE.get(query)) is None:
        shape = as_one.shape(query)
        types = await as_one.parameter_types(conn, query) if shape.together is not None else None
        known = _AS_ONE[query] = (shape, types)
    return known


def _waves(rows: list[tuple[Any, ...]], aggregates: list[object]) -> list[list[tuple[Any, ...]]]:
    """A run's rows as waves holding each aggregate's first row, then its second, and so on: each aggregate's rows in
    the order written, none of them two to a wave."""
    waves: list[list[tuple[Any, ...]]] = []
    seen: dict[object, int] = {}
    for row, aggregate in zip(rows, aggregates, strict=True):
        at = seen[aggregate] = seen.get(aggregate, -1) + 1
        if at == len(waves):
            waves.append([])
        waves[at].append(row)
    return waves
