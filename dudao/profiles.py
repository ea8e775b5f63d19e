"""Effective policy profiles: combine places' own values from the nation down, nearest place winning."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dudao import jurisdiction as divisions


@dataclass(frozen=True)
class Effective:
    """The values in force at a jurisdiction, each with the profile (place and version) it comes from."""

    jurisdiction: str
    values: dict[str, Any]
    sources: dict[str, tuple[str, int]]
    chain: list[tuple[str, int]]

    @property
    def version(self) -> str:
        """Which profile versions were combined, e.g. `000000@1/500000@2/500120@3`: recorded with every decision."""
        return "/".join(f"{code}@{version}" for code, version in self.chain)

    def get(self, key: str) -> Any:
        return self.values.get(key)


def effective(code: str, profiles: Mapping[str, tuple[int, Mapping[str, Any]]]) -> Effective:
    """Combine the profiles from the nation down to `code`; the nearest place that sets a key wins."""
    path = list(reversed(divisions.ancestors(code))) + [code]
    values: dict[str, Any] = {}
    sources: dict[str, tuple[str, int]] = {}
    chain: list[tuple[str, int]] = []
    for place in path:
        if place not in profiles:
            continue
        version, own = profiles[place]
        chain.append((place, version))
        for key, value in own.items():
            values[key], sources[key] = value, (place, version)
    return Effective(jurisdiction=code, values=values, sources=sources, chain=chain)


# --- a service's own copy of the profiles, fed by the registry's PolicyProfile events ---------------------------

PROFILE_COPY_SQL = """
CREATE TABLE IF NOT EXISTS {schema}.profile_copy (
    id uuid PRIMARY KEY,
    jurisdiction text NOT NULL UNIQUE,
    version integer NOT NULL,
    values jsonb NOT NULL
);
"""


async def copy_profile(conn, schema: str, event) -> None:
    """Keep a `PolicyProfile.Created`/`Changed` event in `schema.profile_copy` (other events are ignored)."""
    d = event.data
    if event.type == "PolicyProfile.Created":
        await conn.execute(
            f"INSERT INTO {schema}.profile_copy (id, jurisdiction, version, values) VALUES ($1, $2, $3, $4::jsonb)"
            " ON CONFLICT DO NOTHING",
            event.aggregate_id, d["jurisdiction"], event.version, json.dumps(d["values"]),
        )  # fmt: skip
    elif event.type == "PolicyProfile.Changed":
        await conn.execute(
            f"UPDATE {schema}.profile_copy SET values = (values || $3::jsonb) - $4::text[], version = $2"
            " WHERE id = $1 AND version < $2",
            event.aggregate_id, event.version, json.dumps(d["set_values"]), d.get("removed") or [],
        )  # fmt: skip


async def effective_from_copy(conn, schema: str, code: str) -> Effective:
    """The effective profile at `code` from a service's copy."""
    path = [*divisions.ancestors(code), code]
    rows = await conn.fetch(
        f"SELECT jurisdiction, version, values FROM {schema}.profile_copy WHERE jurisdiction = ANY($1::text[])", path
    )
    return effective(code, {r["jurisdiction"]: (r["version"], json.loads(r["values"])) for r in rows})
