"""A run of one statement's writes sent as one statement over arrays (decision 054): `INSERT … VALUES ($1, $2)` run
for 500 rows becomes `INSERT … SELECT r._1, r._2 FROM unnest($1::uuid[], $2::int4[]) …`, one Bind and one Execute
where `executemany` made 500. `Deferring` asks for it; what this module cannot rewrite faithfully it declines
(`NOT_AS_ONE`), and the run goes row by row as before.

Only statements that read nothing but the rows they write are rewritten: an `INSERT … VALUES` of one row (with `ON
CONFLICT`, but no `RETURNING`), an `UPDATE … SET … WHERE` and a `DELETE … WHERE`, with no subquery and no parameter
of an array or composite type (`unnest` would flatten an array of arrays). Such a statement over many rows does what
it did row by row when no two of its rows write the same row: an `UPDATE` or an upsert then finds each target row
once, and none reads a row another wrote. `Deferring` gives a rewritten statement only such rows: the waves of an
own-rows run, one row per aggregate each. An `INSERT` that ends in `DO NOTHING` or in nothing is the
exception: PostgreSQL inserts a statement's rows one after the other, in the order given, each seeing those before
(`ORDER BY` the arrays' ordinality keeps the order), so any run of it goes as one, whoever wrote the rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import asyncpg

_LITERAL = re.compile(r"'(?:[^']|'')*'")
_PARAMETER = re.compile(r"\$(\d+)\b")
_INSERT = re.compile(
    r"\s*INSERT\s+INTO\s+(?P<target>[\w.\"]+)\s*\((?P<columns>[^()]*)\)\s*VALUES\s*\((?P<values>.*?)\)"
    r"(?P<conflict>\s+ON\s+CONFLICT\b.*?)?\s*",
    re.S | re.I,
)
_UPDATE = re.compile(r"\s*UPDATE\s+(?P<target>[\w.\"]+)\s+SET\s+(?P<sets>.*?)\s+WHERE\s+(?P<where>.*?)\s*", re.S | re.I)
_DELETE = re.compile(r"\s*DELETE\s+FROM\s+(?P<target>[\w.\"]+)\s+WHERE\s+(?P<where>.*?)\s*", re.S | re.I)
_NOT_ALONE = re.compile(r"\b(SELECT|RETURNING|FROM|USING|WITH)\b|;", re.I)  # what would read or return more


@dataclass(frozen=True)
class Shape:
    """How a statement's run is sent as one: the statement over arrays (its parameters `$1…$n`, one array each),
    and whether any rows may go together (an insert that skips conflicts or has none) or only one row per written
    row (`Deferring` sends the waves of an own-rows run)."""

    together: str | None  # the `{arrays}` and `{columns}` left to fill with the parameters' types
    any_rows: bool = False

    def statement(self, types: list[str]) -> str:
        columns = ", ".join(f"_{n}" for n in range(1, len(types) + 1))
        arrays = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(types, 1))
        assert self.together is not None
        return self.together.replace("{arrays}", arrays).replace("{columns}", columns)


NOT_AS_ONE = Shape(None)


def shape(query: str) -> Shape:
    """`query` as one statement over arrays, or NOT_AS_ONE where sending it so could differ from row by row."""
    literals = _LITERAL.findall(query)
    bare = _LITERAL.sub("\x00", query)  # what is read here is the statement's own text, not its strings'
    if "--" in bare or "/*" in bare or "'" in bare:
        return NOT_AS_ONE
    if m := _INSERT.fullmatch(bare):
        values, conflict = m["values"], m["conflict"] or ""
        if not _one_row(values) or _NOT_ALONE.search(f"{m['columns']} {values} {conflict}"):
            return NOT_AS_ONE
        together = (
            f"INSERT INTO {m['target']} ({m['columns']}) SELECT {_from_arrays(values)}"
            " FROM unnest({arrays}) WITH ORDINALITY AS r({columns}, _at) ORDER BY r._at"
            f"{_from_arrays(conflict)}"
        )
        any_rows = not conflict or re.search(r"\bDO\s+NOTHING$", conflict.strip(), re.I) is not None
    elif m := _UPDATE.fullmatch(bare):
        if _NOT_ALONE.search(f"{m['sets']} {m['where']}"):
            return NOT_AS_ONE
        together = (
            f"UPDATE {m['target']} SET {_from_arrays(m['sets'])} FROM unnest({{arrays}}) AS r({{columns}})"
            f" WHERE {_from_arrays(m['where'])}"
        )
        any_rows = False
    elif m := _DELETE.fullmatch(bare):
        if _NOT_ALONE.search(m["where"]):
            return NOT_AS_ONE
        together = (
            f"DELETE FROM {m['target']} USING unnest({{arrays}}) AS r({{columns}}) WHERE {_from_arrays(m['where'])}"
        )
        any_rows = False
    else:
        return NOT_AS_ONE
    back = iter(literals)
    return Shape(re.sub("\x00", lambda _: next(back), together), any_rows)


def _one_row(values: str) -> bool:
    """Whether `values` (what stood between `VALUES (` and the last `)`) is one row's: its parentheses balance and
    never close the row early, as `(…), (…)` would."""
    depth = 0
    for c in values:
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0


def _from_arrays(text: str) -> str:
    return _PARAMETER.sub(lambda m: f"r._{m[1]}", text)


async def parameter_types(conn: asyncpg.Connection, query: str) -> list[str] | None:
    """The types PostgreSQL gives `query`'s parameters, as an array's element type is named in a cast; None if any is
    not one value (an array, a row, a range) or not known."""
    types = []
    for t in (await conn.prepare(query)).get_parameters():
        if t.kind != "scalar" or t.name == "unknown":
            return None
        types.append(f'"{t.schema}"."{t.name}"')
    return types


def columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows of parameters as one list per parameter."""
    return [[row[i] for row in rows] for i in range(width)]
