"""`Deferring` (decisions 034 and 040): which writes of a batch go to PostgreSQL together, and in what order."""

from __future__ import annotations

from typing import Any

import pytest

from dudao.deferring import Deferring

pytestmark = pytest.mark.unit

INSERT, ZONE, INSPECTOR = "INSERT school", "UPDATE zone", "UPDATE inspector"


class Sent:
    """A connection that keeps what reaches it: one entry per round trip."""

    def __init__(self) -> None:
        self.trips: list[tuple[str, list[tuple[Any, ...]]]] = []

    async def executemany(self, query: str, rows: list[tuple[Any, ...]]) -> None:
        self.trips.append((query, list(rows)))

    async def fetchval(self, query: str, *args: Any) -> int:
        self.trips.append((query, [args]))
        return 0


async def write(writing: Deferring, aggregate: str, *queries: str) -> None:
    writing.aggregate = aggregate
    for query in queries:
        await writing.execute(query, aggregate, query)


def order_of(trips: list[tuple[str, list[tuple[Any, ...]]]], aggregate: str) -> list[str]:
    """The statements one aggregate's rows reached PostgreSQL in."""
    return [query for query, rows in trips for row in rows if row[0] == aggregate]


async def test_an_aggregate_s_writes_keep_their_order_while_aggregates_are_grouped_by_statement():
    sent = Sent()
    writing = Deferring(sent, own_rows=True)
    for school in ("s1", "s2", "s3"):  # a school registered, given its zone and its responsible inspector
        await write(writing, school, INSERT, ZONE, INSPECTOR)
    await write(writing, "s4", INSPECTOR, ZONE)  # another order: its zone must come after its inspector
    await writing.flush()
    assert [query for query, _ in sent.trips] == [INSERT, ZONE, INSPECTOR, ZONE]
    assert [row[0] for row in sent.trips[0][1]] == ["s1", "s2", "s3"]
    for school in ("s1", "s2", "s3"):
        assert order_of(sent.trips, school) == [INSERT, ZONE, INSPECTOR]
    assert order_of(sent.trips, "s4") == [INSPECTOR, ZONE]


async def test_without_own_rows_the_writes_go_in_the_order_written_a_trip_per_run_of_one_statement():
    sent = Sent()
    writing = Deferring(sent)
    for school in ("s1", "s2"):
        await write(writing, school, INSERT, ZONE, ZONE)
    await writing.flush()
    assert [(query, len(rows)) for query, rows in sent.trips] == [(INSERT, 1), (ZONE, 2), (INSERT, 1), (ZONE, 2)]


async def test_a_read_sends_every_write_before_it_and_grouping_starts_again_after_it():
    sent = Sent()
    writing = Deferring(sent, own_rows=True)
    await write(writing, "s1", INSERT, ZONE)
    await writing.fetchval("SELECT count")
    await write(writing, "s2", INSERT, ZONE)
    await writing.flush()
    assert [query for query, _ in sent.trips] == [INSERT, ZONE, "SELECT count", INSERT, ZONE]
    await writing.flush()  # nothing waits: nothing is sent
    assert len(sent.trips) == 5


async def test_a_statement_an_aggregate_repeats_joins_its_earliest_run_after_that_aggregate_s_last_write():
    sent = Sent()
    writing = Deferring(sent, own_rows=True)
    for school in ("s1", "s2", "s3"):  # a statement twice in each aggregate's writes (a form's "results due")
        await write(writing, school, INSERT, ZONE, INSERT, ZONE)
    await writing.flush()
    # the latest run of each statement would have given each school after the first two runs more: eight trips, not four
    assert [(query, len(rows)) for query, rows in sent.trips] == [(INSERT, 3), (ZONE, 3), (INSERT, 3), (ZONE, 3)]
    for school in ("s1", "s2", "s3"):
        assert order_of(sent.trips, school) == [INSERT, ZONE, INSERT, ZONE]
