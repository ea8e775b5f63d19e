"""Tamper evidence: a hash chain over each service's notification log (issue 9).

Every stored event gets a link, `sha256(previous link ‖ notification id ‖ aggregate id ‖ version ‖ topic ‖ state)`,
written by a trigger in the same transaction as the event, so no event is ever without its link. The links live in
`<service>.event_chain`, written by the owner's trigger; the service's role has no right on it (decision 015).
`dudao audit verify` recomputes the chain from the events and names the first event whose link does not match: an
event altered, removed or slipped in behind the service's back breaks the chain there and after.

The relay sends each event's link with it (`Dudao-Chain`), so an upper instance holds, in its view stream, the
head of each lower instance's chain as it was when the events crossed: `dudao audit heads` prints them there, and
`dudao audit verify SERVICE --expect N=LINK` at the lower instance checks its chain still passes through them. A
history rewritten with its links recomputed is consistent in itself, but no longer meets the heads held above.
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

from dudao import bus

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
        "schema": Identifier(service),
        "chain": Identifier(TABLE),
        "events": Identifier(events_table),
        "function": Identifier(f"{events_table}_link"),
        "trigger": Identifier(f"{events_table}_link"),
    }
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute(SQL("LOCK TABLE {schema}.{events} IN EXCLUSIVE MODE").format(**names))  # no event while we link
        conn.execute(SQL(_INSTALL.replace("{genesis}", GENESIS.hex())).format(**names))
        last = conn.execute(
            SQL("SELECT coalesce(max(notification_id), 0) FROM {schema}.{chain}").format(**names)
        ).fetchone()[0]
        previous = conn.execute(
            SQL("SELECT link FROM {schema}.{chain} ORDER BY notification_id DESC LIMIT 1").format(**names)
        ).fetchone()
        link = previous[0] if previous else GENESIS
        rows = conn.execute(
            SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{events}"
                " WHERE notification_id > %s ORDER BY notification_id"
            ).format(**names),
            (last,),
        ).fetchall()
        for row in rows:
            link = next_link(link, *row)
            conn.execute(
                SQL("INSERT INTO {schema}.{chain} (notification_id, link) VALUES (%s, %s)").format(**names),
                (row[0], link),
            )


def next_link(
    previous: bytes, notification_id: int, aggregate_id: UUID, version: int, topic: str, state: bytes | None
) -> bytes:
    """The link after `previous` for one stored event: the same bytes the trigger hashes."""
    topic_bytes = topic.encode("utf-8")
    return hashlib.sha256(
        previous
        + struct.pack(">q", notification_id)
        + aggregate_id.bytes
        + struct.pack(">q", version)
        + struct.pack(">i", len(topic_bytes))
        + topic_bytes
        + bytes(state or b"")
    ).digest()


@dataclass
class Verdict:
    service: str
    checked: int
    broken_at: int | None  # the first notification id whose link does not match
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def check(
    rows: Iterable[tuple], links: dict[int, bytes], service: str, expect: dict[int, bytes] | None = None
) -> Verdict:
    """Walk the events in notification order against the stored links (and the expected ones); the first mismatch."""
    link, checked, expect = GENESIS, 0, dict(expect or {})
    for notification_id, aggregate_id, version, topic, state in rows:
        link = next_link(link, notification_id, aggregate_id, version, topic, state)
        if notification_id in expect and expect.pop(notification_id) != link:
            return Verdict(service, checked, notification_id, "the chain no longer passes through the head held above")
        stored = links.pop(notification_id, None)
        if stored is None:
            return Verdict(service, checked, notification_id, "the event has no link: it was slipped in")
        if bytes(stored) != link:
            return Verdict(service, checked, notification_id, "the event or one before it differs from what was linked")
        checked += 1
    if links or expect:
        missing = min([*links, *expect])
        return Verdict(service, checked, missing, "a linked event is missing: it was removed")
    return Verdict(service, checked, None)


async def heads(js, service: str, own: str) -> list[tuple[str, int, str]]:
    """(origin, notification id, link) of the last event each other instance's `service` sent here, read from this
    instance's view stream."""
    stream = bus.view_stream(service)
    info = await js.stream_info(stream, subjects_filter=bus.service_subjects(service))
    codes = sorted({subject.split(".")[1] for subject in (info.state.subjects or {})} - {own})
    found = []
    for code in codes:
        last = await js.get_last_msg(stream, bus.service_subjects(service, code))
        headers = last.headers or {}
        if bus.HEADER_CHAIN in headers:
            found.append(
                (bus.origin(code, service), int(headers[bus.HEADER_NOTIFICATION_ID]), headers[bus.HEADER_CHAIN])
            )
    return found


def verify(
    database_url: str, service: str, events_table: str, out: TextIO = sys.stdout, expect: dict[int, bytes] | None = None
) -> Verdict:
    """Recompute the chain of `service` and compare it with the stored links, and with the links `expect`ed at some
    notifications (heads an upper instance holds)."""
    names = {"schema": Identifier(service), "chain": Identifier(TABLE), "events": Identifier(events_table)}
    with psycopg.connect(database_url) as conn:
        links = dict(conn.execute(SQL("SELECT notification_id, link FROM {schema}.{chain}").format(**names)).fetchall())
        with conn.cursor(name="events") as cursor:  # server-side: a large log is not read into memory at once
            cursor.execute(
                SQL(
                    "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{events}"
                    " ORDER BY notification_id"
                ).format(**names)
            )
            verdict = check(cursor, links, service, expect or {})
    if verdict.intact:
        print(f"{service}: {verdict.checked:,} events, chain intact", file=out)
    else:
        print(
            f"{service}: chain broken at notification {verdict.broken_at} ({verdict.reason});"
            f" {verdict.checked:,} events before it are intact",
            file=out,
        )
    return verdict
