"""API clients as a read model: who may call, for which subtree, since when, and whether still allowed.

Neither the secret nor its hash is kept here: the token endpoint checks secrets against the event store,
so a revocation counts at once, and this table can be listed to anyone allowed to see the clients.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from dudao import jurisdiction
from dudao.consumer import InboundEvent

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS registry.api_clients (
    id uuid PRIMARY KEY,
    jurisdiction text NOT NULL,
    name text NOT NULL,
    roles text[] NOT NULL,
    status text NOT NULL DEFAULT 'active',
    registered_at timestamptz NOT NULL,
    secret_rotated_at timestamptz,
    revoked_at timestamptz,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS api_clients_jurisdiction ON registry.api_clients (jurisdiction text_pattern_ops);
"""


async def _registered(conn: asyncpg.Connection, e: InboundEvent) -> None:
    d = e.data
    await conn.execute(
        "INSERT INTO registry.api_clients (id, jurisdiction, name, roles, registered_at, version)"
        " VALUES ($1, $2, $3, $4, $5::text::timestamptz, $6) ON CONFLICT (id) DO NOTHING",
        e.aggregate_id,
        d["jurisdiction"],
        d["name"],
        list(d["roles"]),
        d["registered_at"],
        e.version,
    )


def _changer(clause: str, key: str):
    async def apply(conn: asyncpg.Connection, e: InboundEvent) -> None:
        await conn.execute(
            f"UPDATE registry.api_clients SET {clause}, version = $2 WHERE id = $1 AND version < $2",
            e.aggregate_id,
            e.version,
            e.data[key],
        )

    return apply


HANDLERS = {
    "ApiClient.Registered": _registered,
    "ApiClient.SecretRotated": _changer("secret_rotated_at = $3::text::timestamptz", "rotated_at"),
    "ApiClient.Revoked": _changer("status = 'revoked', revoked_at = $3::text::timestamptz", "revoked_at"),
}
TABLES = ("api_clients",)

# --- reading -------------------------------------------------------------------------------------------

COLUMNS = "id AS client_id, jurisdiction, name, roles, status, registered_at, secret_rotated_at, revoked_at, version"


async def client_list(conn: asyncpg.Connection, *, within: str, status: str | None = None) -> list[dict[str, Any]]:
    """Every client registered for a jurisdiction in the subtree, oldest first (there are a handful, not thousands)."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM registry.api_clients WHERE jurisdiction LIKE ANY($1::text[]) AND ($2::text IS NULL OR status = $2)"
        " ORDER BY registered_at, id",
        jurisdiction.patterns(within),
        status,
    )
    return [dict(r) for r in rows]
