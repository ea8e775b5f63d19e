"""Tamper evidence: a hash chain over each service's notification log (issue 9).

Every stored event gets a link, `sha256(previous link ‖ notification id ‖ aggregate id ‖ version ‖ topic ‖ state)`,
written by a trigger in the same transaction as the event, so no event is ever without its link. The links live in
`<service>.event_chain`, written by the owner's trigger; the service's role has no right on it (decision 015).
`dudao audit verify` recomputes the chain from the events and names the first event whose link does not match: an
event altered, removed or slipped in behind the service's back breaks the chain there and after.

Decision 017 says why a trigger, and what is still missing (sending the links upward).
"""

from __future__ import annotations

import hashlib
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO
from uuid import UUID

import psycopg
from psycopg.sql import SQL, Identifier

GENESIS = bytes(32)
TABLE = "event_chain"

_INSTALL = """
CREATE TABLE IF NOT EXISTS {schema}.{chain} (
    notification_id bigint PRIMARY KEY,
    link bytea NOT NULL
);
CREATE OR REPLACE FUNCTION {schema}.{function}() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog AS $$  -- the owner's: the service's role gets no right on the links
DECLARE
    previous bytea;
BEGIN
    SELECT link INTO previous FROM {schema}.{chain} ORDER BY notification_id DESC LIMIT 1;
    INSERT INTO {schema}.{chain} (notification_id, link) VALUES (
        NEW.notification_id,
        sha256(coalesce(previous, '\\x{genesis}'::bytea) || int8send(NEW.notification_id) || uuid_send(NEW.originator_id)
               || int8send(NEW.originator_version) || int4send(octet_length(convert_to(NEW.topic, 'UTF8')))
               || convert_to(NEW.topic, 'UTF8') || coalesce(NEW.state, ''::bytea))
    );
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS {trigger} ON {schema}.{events};
CREATE TRIGGER {trigger} AFTER INSERT ON {schema}.{events} FOR EACH ROW EXECUTE FUNCTION {schema}.{function}();
"""


def install(database_url: str, service: str, events_table: str) -> None:
    """As the owner, once the event table exists: the chain table and the trigger that links each new event
    (idempotent). Events stored before the trigger existed are linked first, in notification order."""
    names = {
        "schema": Identifier(service), "chain": Identifier(TABLE), "events": Identifier(events_table),
        "function": Identifier(f"{events_table}_link"), "trigger": Identifier(f"{events_table}_link"),
    }  # fmt: skip
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute(SQL("LOCK TABLE {schema}.{events} IN EXCLUSIVE MODE").format(**names))  # no event while we link
        conn.execute(SQL(_INSTALL.replace("{genesis}", GENESIS.hex())).format(**names))
        last = conn.execute(SQL("SELECT coalesce(max(notification_id), 0) FROM {schema}.{chain}").format(**names)).fetchone()[0]
        previous = conn.execute(SQL("SELECT link FROM {schema}.{chain} ORDER BY notification_id DESC LIMIT 1").format(**names)).fetchone()
        link = previous[0] if previous else GENESIS
        rows = conn.execute(
            SQL("SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{events}"
                " WHERE notification_id > %s ORDER BY notification_id").format(**names), (last,),
        ).fetchall()  # fmt: skip
        for row in rows:
            link = next_link(link, *row)
            conn.execute(SQL("INSERT INTO {schema}.{chain} (notification_id, link) VALUES (%s, %s)").format(**names), (row[0], link))


def next_link(previous: bytes, notification_id: int, aggregate_id: UUID, version: int, topic: str, state: bytes | None) -> bytes:
    """The link after `previous` for one stored event: the same bytes the trigger hashes."""
    topic_bytes = topic.encode("utf-8")
    return hashlib.sha256(
        previous + struct.pack(">q", notification_id) + aggregate_id.bytes + struct.pack(">q", version)
        + struct.pack(">i", len(topic_bytes)) + topic_bytes + bytes(state or b"")
    ).digest()  # fmt: skip


@dataclass
class Verdict:
    service: str
    checked: int
    broken_at: int | None  # the first notification id whose link does not match
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def check(rows: Iterable[tuple], links: dict[int, bytes], service: str) -> Verdict:
    """Walk the events in notification order against the stored links; the first mismatch, if any."""
    link, checked = GENESIS, 0
    for notification_id, aggregate_id, version, topic, state in rows:
        link = next_link(link, notification_id, aggregate_id, version, topic, state)
        stored = links.pop(notification_id, None)
        if stored is None:
            return Verdict(service, checked, notification_id, "the event has no link: it was slipped in")
        if bytes(stored) != link:
            return Verdict(service, checked, notification_id, "the event or one before it differs from what was linked")
        checked += 1
    if links:
        missing = min(links)
        return Verdict(service, checked, missing, "a linked event is missing: it was removed")
    return Verdict(service, checked, None)


def verify(database_url: str, service: str, events_table: str, out: TextIO = sys.stdout) -> Verdict:
    """Recompute the chain of `service` and compare it with the stored links."""
    names = {"schema": Identifier(service), "chain": Identifier(TABLE), "events": Identifier(events_table)}
    with psycopg.connect(database_url) as conn:
        links = dict(conn.execute(SQL("SELECT notification_id, link FROM {schema}.{chain}").format(**names)).fetchall())
        with conn.cursor(name="events") as cursor:  # server-side: a large log is not read into memory at once
            cursor.execute(
                SQL("SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{events}"
                    " ORDER BY notification_id").format(**names)
            )  # fmt: skip
            verdict = check(cursor, links, service)
    if verdict.intact:
        print(f"{service}: {verdict.checked:,} events, chain intact", file=out)
    else:
        print(f"{service}: chain broken at notification {verdict.broken_at} ({verdict.reason});"
              f" {verdict.checked:,} events before it are intact", file=out)  # fmt: skip
    return verdict
