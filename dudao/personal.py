"""Personal information (PIPL, 个人信息保护法): phone numbers, ID numbers and home addresses, sealed with a key per person.

A command seals a personal value before it goes into an event, so the event store, the streams, the read models, the
audit and every instance above only ever hold a `Sealed` value: the ciphertext, whose data it is, which key opens it
and which instance holds that key. The keys live in `<service>.person_keys`, the one table of a service that rows are
deleted from. Erasing a person (`POST /v1/personal-data/erasures`, dudao.erasure) deletes their keys: every copy of
their data, wherever it went, is then unreadable for good, and no event is rewritten. Reads reveal a sealed value at
the instance holding its key, and show `ERASED` once the key is gone (decision 019).

The cipher is AES-SIV, which is deterministic: the same value under the same key seals the same way, so a command
that repeats a person's phone number changes nothing, as with any other field.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Transcoding
from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Identifier

ERASED = "[已删除]"  # what a read shows for data whose key was destroyed
TABLE = "person_keys"


def withheld(holder: str) -> str:
    """What a read shows at an instance that does not hold the key (a county's data read at the province)."""
    return f"[由 {holder} 保管]"


@dataclass(frozen=True)
class Sealed:
    """A personal value as it is kept everywhere: ciphertext, whose it is, the key's id and the instance holding it."""

    sealed: str  # base64 of the AES-SIV ciphertext
    person: str  # e.g. "inspector:<uuid>"
    key: str
    holder: str  # the jurisdiction of the instance whose person_keys has the key

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def of(cls, value: Any) -> Sealed | None:
        """A sealed value from an event's state or its wire form (a dict with `sealed`); None for anything else."""
        if isinstance(value, Sealed):
            return value
        if isinstance(value, dict) and {"sealed", "person", "key", "holder"} <= value.keys():
            return cls(**{k: str(value[k]) for k in ("sealed", "person", "key", "holder")})
        return None


class SealedAsDict(Transcoding):
    """`Sealed` in stored event state."""

    type = Sealed
    name = "sealed"

    def encode(self, obj: Sealed) -> dict[str, str]:
        return obj.as_dict()

    def decode(self, data: dict[str, str]) -> Sealed:
        return Sealed(**data)


def _close(key: bytes, key_id: str, value: str) -> str:
    return base64.b64encode(AESSIV(key).encrypt(value.encode(), [key_id.encode()])).decode()


def _open(key: bytes | None, sealed: Sealed) -> str:
    if key is None:
        return ERASED
    try:
        return AESSIV(key).decrypt(base64.b64decode(sealed.sealed), [sealed.key.encode()]).decode()
    except (InvalidTag, ValueError):
        return ERASED  # a key that does not open it is as good as none


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


class PersonKeys:
    """The keys of one service's persons, in its own schema, reached through the event store's connection pool."""

    def __init__(self, datastore: PostgresDatastore, schema: str, holder: str):
        self.datastore, self.schema, self.holder = datastore, schema, holder
        self.table = SQL("{0}.{1}").format(Identifier(schema), Identifier(TABLE))

    def ensure(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0} (key_id uuid PRIMARY KEY, person text NOT NULL,"
                    " jurisdiction text NOT NULL, key bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
                ).format(self.table)
            )
            cursor.execute(SQL("CREATE INDEX IF NOT EXISTS person_keys_person ON {0} (person)").format(self.table))

    def seal(self, person: str, jurisdiction: str, value: str | None) -> Sealed | None:
        """`value` sealed with the person's key (made on first use); None for no value."""
        if value is None or not value.strip():
            return None
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"person-key:{person}",))
            cursor.execute(
                SQL("SELECT key_id, key FROM {0} WHERE person = %s ORDER BY created_at, key_id LIMIT 1").format(self.table),
                (person,),
            )
            row = cursor.fetchone()
            if row is None:
                row = {"key_id": uuid.uuid4(), "key": AESSIV.generate_key(512)}
                cursor.execute(
                    SQL("INSERT INTO {0} (key_id, person, jurisdiction, key) VALUES (%s, %s, %s, %s)").format(self.table),
                    (row["key_id"], person, jurisdiction, row["key"]),
                )
        key_id = str(row["key_id"])
        return Sealed(sealed=_close(bytes(row["key"]), key_id, value.strip()), person=person, key=key_id, holder=self.holder)

    def reveal(self, value: Any) -> Any:
        """The plain value of a sealed one (ERASED once its key is gone); anything else as it is."""
        sealed = Sealed.of(value)
        if sealed is None:
            return value
        if sealed.holder != self.holder:
            return withheld(sealed.holder)
        key_id = _uuid(sealed.key)
        row = None
        if key_id is not None:
            with self.datastore.transaction() as cursor:
                cursor.execute(SQL("SELECT key FROM {0} WHERE key_id = %s").format(self.table), (key_id,))
                row = cursor.fetchone()
        return _open(bytes(row["key"]) if row else None, sealed)

    def held(self, person: str) -> tuple[list[str], str | None]:
        """The ids of the keys held for `person` and the jurisdiction the person belongs to (None without keys)."""
        with self.datastore.transaction() as cursor:
            cursor.execute(SQL("SELECT key_id, jurisdiction FROM {0} WHERE person = %s").format(self.table), (person,))
            rows = cursor.fetchall()
        return [str(r["key_id"]) for r in rows], (rows[0]["jurisdiction"] if rows else None)

    def destroy(self, key_ids: Iterable[str]) -> int:
        """Delete these keys for good: the table is vacuumed, so the deleted rows do not linger in its pages."""
        ids = [k for k in (_uuid(k) for k in key_ids) if k is not None]
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(SQL("DELETE FROM {0} WHERE key_id = ANY(%s)").format(self.table), (ids,))
            destroyed = cursor.rowcount
        with self.datastore.get_connection() as conn:
            autocommit = conn.autocommit
            conn.autocommit = True
            try:
                conn.execute(SQL("VACUUM {0}").format(self.table))
            finally:
                conn.autocommit = autocommit
        return destroyed


async def reveal_all(conn: asyncpg.Connection, schema: str, holder: str, values: list[Any]) -> list[Any]:
    """`PersonKeys.reveal` for the read side (asyncpg), for many values with one query."""
    sealed = [Sealed.of(v) for v in values]
    ids = {_uuid(s.key) for s in sealed if s is not None and s.holder == holder} - {None}
    rows = await conn.fetch(f'SELECT key_id, key FROM "{schema}".{TABLE} WHERE key_id = ANY($1::uuid[])', list(ids)) if ids else []
    keys = {str(r["key_id"]): bytes(r["key"]) for r in rows}
    return [
        value if s is None else withheld(s.holder) if s.holder != holder else _open(keys.get(s.key), s)
        for value, s in zip(values, sealed, strict=True)
    ]


class Erasure(Aggregate):
    """A person's personal data made unreadable for good (PIPL 第四十七条): whose, why, which keys were destroyed."""

    @event("Recorded")
    def __init__(self, *, person: str, jurisdiction: str, reason: str, keys: list[str], erased_at: datetime):
        self.person, self.jurisdiction, self.reason = person, jurisdiction, reason
        self.keys, self.erased_at = list(keys), erased_at

    @classmethod
    def record(
        cls, *, erasure_id: uuid.UUID, person: str, jurisdiction: str, reason: str, keys: list[str], now: datetime
    ) -> Erasure:
        return cls._create(
            cls.Recorded, id=erasure_id, person=person, jurisdiction=jurisdiction, reason=reason, keys=keys, erased_at=now
        )
