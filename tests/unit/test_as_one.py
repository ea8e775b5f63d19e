"""Which statements a run may send as one statement over arrays, and what that statement is (decision 054). Whether it
does what row by row does is tested against PostgreSQL: tests/integration/test_as_one.py."""

from __future__ import annotations

import pytest

from dudao.as_one import NOT_AS_ONE, shape

pytestmark = pytest.mark.unit


def test_an_insert_reads_each_row_from_the_arrays_in_the_order_given_and_keeps_its_conflict_clause():
    found = shape(
        "INSERT INTO registry.school_directory (id, position, registered_at)"
        " VALUES ($1, $2, $3::text::timestamptz) ON CONFLICT (id) DO NOTHING"
    )
    assert found.statement(['"pg_catalog"."uuid"', '"pg_catalog"."int8"', '"pg_catalog"."text"']) == (
        "INSERT INTO registry.school_directory (id, position, registered_at)"
        " SELECT r._1, r._2, r._3::text::timestamptz"
        ' FROM unnest($1::"pg_catalog"."uuid"[], $2::"pg_catalog"."int8"[], $3::"pg_catalog"."text"[])'
        " WITH ORDINALITY AS r(_1, _2, _3, _at) ORDER BY r._at ON CONFLICT (id) DO NOTHING"
    )
    assert found.any_rows  # PostgreSQL inserts them one after the other: whoever wrote them


def test_an_insert_that_updates_on_conflict_an_update_and_a_delete_take_one_row_of_each_aggregate_at_a_time():
    upsert = shape("INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT (a) DO UPDATE SET b = greatest(t.b, excluded.b)")
    update = shape("UPDATE s.t SET b = $2, c = now() WHERE a = $1 AND v < $3")
    delete = shape("DELETE FROM s.t WHERE a = $1")
    assert not upsert.any_rows and not update.any_rows and not delete.any_rows
    assert update.statement(["int4"] * 3) == (
        "UPDATE s.t SET b = r._2, c = now() FROM unnest($1::int4[], $2::int4[], $3::int4[]) AS r(_1, _2, _3)"
        " WHERE a = r._1 AND v < r._3"
    )
    assert delete.statement(["text"]) == "DELETE FROM s.t USING unnest($1::text[]) AS r(_1) WHERE a = r._1"
    assert "greatest(t.b, excluded.b)" in upsert.statement(["text", "int4"])


def test_a_literal_is_kept_as_written_even_where_it_looks_like_a_parameter_or_a_clause():
    found = shape("UPDATE t SET note = 'a $1 (SELECT ''x'') FROM', n = $2 WHERE id = $1")
    assert found.statement(["text", "int4"]) == (
        "UPDATE t SET note = 'a $1 (SELECT ''x'') FROM', n = r._2 FROM unnest($1::text[], $2::int4[]) AS r(_1, _2)"
        " WHERE id = r._1"
    )


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO t (a) VALUES ($1), ($2)",  # two rows a statement
        "INSERT INTO t (a) VALUES ($1) RETURNING a",  # an answer per row
        "INSERT INTO t (a) SELECT $1 FROM u",  # reads another table
        "INSERT INTO t (a) VALUES ((SELECT max(a) FROM t) + $1)",  # reads rows another row may have written
        "UPDATE t SET n = (SELECT count(*) FROM u WHERE u.t = t.id) WHERE id = $1",
        "UPDATE t SET n = $2 FROM u WHERE t.id = u.id AND u.k = $1",
        "UPDATE t SET n = $2 WHERE id = $1 RETURNING n",
        "DELETE FROM t USING u WHERE t.id = u.id AND u.k = $1",
        "WITH x AS (SELECT 1) UPDATE t SET n = $1 WHERE id = $2",
        "UPDATE t SET n = $1 WHERE id = $2; DELETE FROM t WHERE id = $2",
        "UPDATE t SET n = $1 -- a comment\n WHERE id = $2",
        "SELECT $1",
        "UPDATE t SET n = n + 1",  # no WHERE: every row
    ],
)
def test_what_could_differ_from_row_by_row_is_declined(query: str):
    assert shape(query) is NOT_AS_ONE or shape(query) == NOT_AS_ONE
