"""Effective policy profiles: combine places' own values from the nation down, nearest place winning."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dudao import jurisdiction as divisions
from dudao.errors import Conflict


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


def required(profile: Effective, *keys: str) -> Effective:
    """The profile, if it sets every key a rule needs; else a 409 naming the first it lacks."""
    for key in keys:
        if profile.get(key) is None:
            raise Conflict(
                f"the policy profile at {profile.jurisdiction} has no {key}; set it in the registry",
                field=key,
                rule="policy_key_missing",
            )
    return profile


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
    values jsonb NOT NULL,
    origin text NOT NULL
);
"""


def outranks(origin: str, held: str, place: str) -> bool:
    """Whether a profile of `place` recorded by the instance at `origin` wins over the one recorded at `held`.

    Every instance installs the shipped profiles, and linked instances pass profiles up and down (decision 011), so
    one place's profile can arrive from several instances. The place's own instance decides; failing that, the one
    nearest the nation (a province's copy of the national profile over a county's); ties go to the lower code."""

    def rank(code: str) -> tuple[bool, int, str]:
        return code == place, -len(divisions.ancestors(code)) if divisions.is_valid_code(code) else -99, code

    a, b = rank(origin), rank(held)
    return (a[0], a[1]) > (b[0], b[1]) or ((a[0], a[1]) == (b[0], b[1]) and a[2] < b[2])


async def keep_profile(conn, table: str, event, **extra: Any) -> None:
    """Keep a `PolicyProfile.Created`/`Changed` event in `table` (id, jurisdiction, version, values, origin and the
    `extra` columns), honouring `outranks`; other events are ignored."""
    d, origin = event.data, event.origin.split(":", 1)[0]
    row = await conn.fetchrow(f"SELECT version, origin FROM {table} WHERE id = $1 FOR UPDATE", event.aggregate_id)
    names = ", ".join(extra)
    if event.type == "PolicyProfile.Created":
        if row is not None and row["origin"] != origin and not outranks(origin, row["origin"], d["jurisdiction"]):
            return
        if row is not None and row["origin"] == origin:
            return  # a redelivered creation
        placeholders = ", ".join(f"${n}" for n in range(6, 6 + len(extra)))
        await conn.execute(f"DELETE FROM {table} WHERE id = $1", event.aggregate_id)
        await conn.execute(
            f"INSERT INTO {table} (id, jurisdiction, version, values, origin{', ' + names if extra else ''})"
            f" VALUES ($1, $2, $3, $4::jsonb, $5{', ' + placeholders if extra else ''})",
            event.aggregate_id,
            d["jurisdiction"],
            event.version,
            json.dumps(d["values"]),
            origin,
            *extra.values(),
        )
    elif (
        event.type == "PolicyProfile.Changed"
        and row is not None
        and row["origin"] == origin
        and row["version"] < event.version
    ):
        sets = "".join(f", {name} = ${n}" for n, name in enumerate(extra, start=5))
        await conn.execute(
            f"UPDATE {table} SET values = (values || $3::jsonb) - $4::text[], version = $2{sets} WHERE id = $1",
            event.aggregate_id,
            event.version,
            json.dumps(d["set_values"]),
            d.get("removed") or [],
            *extra.values(),
        )


async def copy_profile(conn, schema: str, event) -> None:
    """Keep a profile event in `schema.profile_copy`."""
    await keep_profile(conn, f"{schema}.profile_copy", event)


async def effective_from_copy(conn, schema: str, code: str) -> Effective:
    """The effective profile at `code` from a service's copy."""
    path = [*divisions.ancestors(code), code]
    rows = await conn.fetch(
        f"SELECT jurisdiction, version, values FROM {schema}.profile_copy WHERE jurisdiction = ANY($1::text[])", path
    )
    return effective(code, {r["jurisdiction"]: (r["version"], json.loads(r["values"])) for r in rows})
