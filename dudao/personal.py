"""Personal information (PIPL, 个人信息保护法): phone numbers, ID numbers and home addresses, sealed with a key per person.

A command seals a personal value before it goes into an event, so the event store, the streams, the read models, the
audit and every instance above only ever hold a `Sealed` value: the ciphertext, whose data it is, which key opens it
and which instance holds that key. The keys live in `<service>.person_keys`, the one table of a service that rows are
deleted from. Erasing a person (`POST /v1/personal-data/erasures`, dudao.erasure) deletes their keys: every copy of
their data, wherever it went, is then unreadable for good, and no event is rewritten. Reads reveal a sealed value at
the instance holding its key, and show `ERASED` once the key is gone (decision 019).

The cipher is AES-SIV, which is deterministic: the same value under the same key seals the same way, so a command
that repeats a person's phone number changes nothing, as with any other field.

A person's key never touches PostgreSQL in the clear: the table holds it wrapped under a key-encryption key (KEK) that
lives in files outside the database (`KeyRing`). An erasure deletes the person's keys, re-wraps the survivors under a
fresh KEK and deletes the old KEK's file, so the erased key's bytes left in data files, the WAL or a backup taken
afterwards open nothing (decision 026).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Transcoding
from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Identifier

log = logging.getLogger("dudao.personal")

ERASED = "[已删除]"  # what a read shows for data whose key was destroyed
TABLE = "person_keys"
CURRENT = "person_kek"  # which KEK wraps new keys (its id only; the KEK itself never enters the database)


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


class KeyRing:
    """One service's key-encryption keys: a file per KEK (`<id>.kek`, mode 0600) in a directory outside PostgreSQL.

    In production the directory is a mounted secret volume shared by the service's replicas and backed up with the
    KEKs' ids (decision 026); `make run` and the tests keep it under DUDAO_HOME.
    """

    def __init__(self, directory: Path):
        self.directory, self._keys, self._lock = Path(directory), {}, threading.Lock()

    def _file(self, kek_id: str) -> Path:
        return self.directory / f"{uuid.UUID(kek_id)}.kek"

    def key(self, kek_id: str) -> bytes | None:
        with self._lock:
            if kek_id not in self._keys:
                try:
                    self._keys[kek_id] = base64.b64decode(json.loads(self._file(kek_id).read_text())["key"])
                except (OSError, ValueError, KeyError):
                    return None
            return self._keys[kek_id]

    def create(self) -> str:
        """A fresh KEK, written (atomically, 0600) before anything is wrapped under it; its id."""
        kek_id, key = str(uuid.uuid4()), AESSIV.generate_key(512)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.directory / f".{kek_id}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps({"kek_id": kek_id, "key": base64.b64encode(key).decode()}))
            f.flush()
            os.fsync(f.fileno())
        temporary.rename(self._file(kek_id))
        with self._lock:
            self._keys[kek_id] = key
        return kek_id

    def destroy_all_but(self, keep: str) -> None:
        """Delete every other KEK: its file overwritten, then removed, and forgotten here."""
        for file in self.directory.glob("*.kek"):
            if file.stem != keep:
                with file.open("r+b") as f:
                    f.write(b"\0" * max(f.seek(0, os.SEEK_END), 1))
                    f.flush()
                    os.fsync(f.fileno())
                file.unlink()
        with self._lock:
            self._keys = {k: v for k, v in self._keys.items() if k == keep}

    def wrap(self, kek_id: str, key_id: str, raw: bytes) -> bytes:
        kek = self.key(kek_id)
        if kek is None:
            raise RuntimeError(
                f"the key-encryption key {kek_id} is not in {self.directory}; restore it from its backup (decision 026)"
            )
        return AESSIV(kek).encrypt(raw, [key_id.encode()])

    def unwrap(self, kek_id: str | None, key_id: str, wrapped: bytes) -> bytes | None:
        """The person key, or None when the KEK does not open it. A row's KEK is always the current one (an erasure
        re-wraps every surviving key), so a KEK file missing here is a deployment without its KEKs: an error."""
        if not kek_id:
            return None
        kek = self.key(str(kek_id))
        if kek is None:
            raise RuntimeError(
                f"the key-encryption key {kek_id} is not in {self.directory}; restore it from its backup (decision 026)"
            )
        try:
            return AESSIV(kek).decrypt(wrapped, [key_id.encode()])
        except InvalidTag:
            return None


RINGS: dict[str, KeyRing] = {}  # by schema, for the read side's `reveal_all` in the same process


class PersonKeys:
    """The keys of one service's persons, in its own schema (wrapped under the ring's KEK), reached through the event
    store's connection pool."""

    def __init__(self, datastore: PostgresDatastore, schema: str, holder: str, ring: KeyRing):
        self.datastore, self.schema, self.holder, self.ring = datastore, schema, holder, ring
        self.table = SQL("{0}.{1}").format(Identifier(schema), Identifier(TABLE))
        self.current = SQL("{0}.{1}").format(Identifier(schema), Identifier(CURRENT))
        self.lock_name = f"person-kek:{schema}"
        RINGS[schema] = ring

    def ensure(self) -> None:
        """The tables, a KEK, and every key still kept in the clear (made before KEKs) wrapped under it."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0} (key_id uuid PRIMARY KEY, person text NOT NULL,"
                    " jurisdiction text NOT NULL, key bytea NOT NULL, kek_id uuid, created_at timestamptz NOT NULL DEFAULT now())"
                ).format(self.table)
            )
            cursor.execute(SQL("ALTER TABLE {0} ADD COLUMN IF NOT EXISTS kek_id uuid").format(self.table))
            cursor.execute(SQL("CREATE INDEX IF NOT EXISTS person_keys_person ON {0} (person)").format(self.table))
            cursor.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {0} (one boolean PRIMARY KEY DEFAULT true CHECK (one), kek_id uuid NOT NULL)"
                ).format(self.current)
            )
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.lock_name,))
            kek_id = self._current(cursor)
            if kek_id is None:
                kek_id = self.ring.create()
                cursor.execute(SQL("INSERT INTO {0} (kek_id) VALUES (%s)").format(self.current), (kek_id,))
            elif self.ring.key(kek_id) is None:  # a tool that never reads personal data may run without the KEKs
                log.error(
                    "the key-encryption key %s of %s is not in %s: personal data cannot be read or sealed here until"
                    " the KEK file is restored from its backup (decision 026)",
                    kek_id,
                    self.schema,
                    self.ring.directory,
                )
                return
            cursor.execute(SQL("SELECT key_id, key FROM {0} WHERE kek_id IS NULL").format(self.table))
            for row in cursor.fetchall():
                wrapped = self.ring.wrap(kek_id, str(row["key_id"]), bytes(row["key"]))
                cursor.execute(
                    SQL("UPDATE {0} SET key = %s, kek_id = %s WHERE key_id = %s").format(self.table),
                    (wrapped, kek_id, row["key_id"]),
                )

    def _current(self, cursor) -> str | None:
        cursor.execute(SQL("SELECT kek_id FROM {0}").format(self.current))
        row = cursor.fetchone()
        return str(row["kek_id"]) if row else None

    def seal(self, person: str, jurisdiction: str, value: str | None) -> Sealed | None:
        """`value` sealed with the person's key (made on first use); None for no value."""
        if value is None or not value.strip():
            return None
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock_shared(hashtext(%s))", (self.lock_name,)
            )  # no re-wrap meanwhile
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"person-key:{person}",))
            cursor.execute(
                SQL("SELECT key_id, key, kek_id FROM {0} WHERE person = %s ORDER BY created_at, key_id LIMIT 1").format(
                    self.table
                ),
                (person,),
            )
            row = cursor.fetchone()
            if row is not None:
                key_id = str(row["key_id"])
                raw = self.ring.unwrap(row["kek_id"], key_id, bytes(row["key"]))
                if raw is None:
                    raise RuntimeError(
                        f"the key-encryption key of {self.schema} does not open person key {key_id} (decision 026)"
                    )
            else:
                key_id, raw, kek_id = str(uuid.uuid4()), AESSIV.generate_key(512), self._current(cursor)
                cursor.execute(
                    SQL(
                        "INSERT INTO {0} (key_id, person, jurisdiction, key, kek_id) VALUES (%s, %s, %s, %s, %s)"
                    ).format(self.table),
                    (key_id, person, jurisdiction, self.ring.wrap(kek_id, key_id, raw), kek_id),
                )
        return Sealed(sealed=_close(raw, key_id, value.strip()), person=person, key=key_id, holder=self.holder)

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
                cursor.execute(SQL("SELECT key, kek_id FROM {0} WHERE key_id = %s").format(self.table), (key_id,))
                row = cursor.fetchone()
        return _open(self.ring.unwrap(row["kek_id"], sealed.key, bytes(row["key"])) if row else None, sealed)

    def held(self, person: str) -> tuple[list[str], str | None]:
        """The ids of the keys held for `person` and the jurisdiction the person belongs to (None without keys)."""
        with self.datastore.transaction() as cursor:
            cursor.execute(SQL("SELECT key_id, jurisdiction FROM {0} WHERE person = %s").format(self.table), (person,))
            rows = cursor.fetchall()
        return [str(r["key_id"]) for r in rows], (rows[0]["jurisdiction"] if rows else None)

    def destroy(self, key_ids: Iterable[str]) -> int:
        """Delete these keys for good. The survivors are re-wrapped under a fresh KEK in the same transaction and the
        old KEK's file is destroyed after it commits, so the deleted keys' bytes, wherever PostgreSQL left them (dead
        rows, WAL, a later backup), are wrapped under a key that no longer exists. The table is vacuumed as well."""
        ids = [k for k in (_uuid(k) for k in key_ids) if k is not None]
        fresh = self.ring.create()  # on disk before any row names it
        try:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.lock_name,))
                cursor.execute(SQL("DELETE FROM {0} WHERE key_id = ANY(%s)").format(self.table), (ids,))
                destroyed = cursor.rowcount
                cursor.execute(SQL("SELECT key_id, key, kek_id FROM {0}").format(self.table))
                for row in cursor.fetchall():
                    key_id = str(row["key_id"])
                    raw = self.ring.unwrap(row["kek_id"], key_id, bytes(row["key"]))
                    if raw is None:
                        raise RuntimeError(
                            f"person key {key_id} of {self.schema} cannot be unwrapped; nothing was erased (decision 026)"
                        )
                    cursor.execute(
                        SQL("UPDATE {0} SET key = %s, kek_id = %s WHERE key_id = %s").format(self.table),
                        (self.ring.wrap(fresh, key_id, raw), fresh, row["key_id"]),
                    )
                cursor.execute(SQL("UPDATE {0} SET kek_id = %s").format(self.current), (fresh,))
        except BaseException:
            self.ring.destroy_all_but(self._committed_kek())
            raise
        self.ring.destroy_all_but(fresh)
        with self.datastore.get_connection() as conn:
            autocommit = conn.autocommit
            conn.autocommit = True
            try:
                conn.execute(SQL("VACUUM {0}").format(self.table))
            finally:
                conn.autocommit = autocommit
        return destroyed

    def _committed_kek(self) -> str:
        with self.datastore.transaction() as cursor:
            return self._current(cursor) or ""


async def reveal_all(conn: asyncpg.Connection, schema: str, holder: str, values: list[Any]) -> list[Any]:
    """`PersonKeys.reveal` for the read side (asyncpg), for many values with one query."""
    sealed = [Sealed.of(v) for v in values]
    ids = {_uuid(s.key) for s in sealed if s is not None and s.holder == holder} - {None}
    rows = (
        await conn.fetch(
            f'SELECT key_id, key, kek_id FROM "{schema}".{TABLE} WHERE key_id = ANY($1::uuid[])', list(ids)
        )
        if ids
        else []
    )
    ring = RINGS[schema]
    keys = {
        str(r["key_id"]): ring.unwrap(r["kek_id"] and str(r["kek_id"]), str(r["key_id"]), bytes(r["key"])) for r in rows
    }
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
            cls.Recorded,
            id=erasure_id,
            person=person,
            jurisdiction=jurisdiction,
            reason=reason,
            keys=keys,
            erased_at=now,
        )


class MemoryKeys:
    """Person keys kept in a dict, for an application on eventsourcing's in-memory recorders (the fast tier): the same
    sealing, revealing and erasing as `PersonKeys`, without PostgreSQL and without key-encryption keys on disk."""

    def __init__(self, holder: str):
        self.holder = holder
        self._keys: dict[str, tuple[str, str, bytes]] = {}  # key id -> (person, jurisdiction, raw key)
        self._lock = threading.Lock()

    def ensure(self) -> None:
        """Nothing to create: the dict is there."""

    def seal(self, person: str, jurisdiction: str, value: str | None) -> Sealed | None:
        if value is None or not value.strip():
            return None
        with self._lock:
            key_id = next((k for k, (p, _, _) in self._keys.items() if p == person), None)
            if key_id is None:
                key_id = str(uuid.uuid4())
                self._keys[key_id] = (person, jurisdiction, AESSIV.generate_key(512))
            raw = self._keys[key_id][2]
        return Sealed(sealed=_close(raw, key_id, value.strip()), person=person, key=key_id, holder=self.holder)

    def reveal(self, value: Any) -> Any:
        sealed = Sealed.of(value)
        if sealed is None:
            return value
        if sealed.holder != self.holder:
            return withheld(sealed.holder)
        held = self._keys.get(sealed.key)
        return _open(held[2] if held else None, sealed)

    def held(self, person: str) -> tuple[list[str], str | None]:
        keys = [(k, j) for k, (p, j, _) in self._keys.items() if p == person]
        return [k for k, _ in keys], (keys[0][1] if keys else None)

    def destroy(self, key_ids: Iterable[str]) -> int:
        with self._lock:
            gone = [k for k in key_ids if self._keys.pop(str(k), None) is not None]
        return len(gone)
