"""Tamper evidence (issue 9): every stored event is linked into a hash chain as it is stored, and
`dudao audit verify` names the first event altered or removed behind the service's back."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from dudao import chain
from tests.factories import school, verify

pytestmark = pytest.mark.integration


def owner(settings):
    """The database owner, who can do what the services' role cannot (decision 015)."""
    return psycopg.connect(settings.database_url, autocommit=True)


def test_each_event_is_linked_as_it_is_stored_and_verify_names_the_first_altered_one(registry, token, settings):
    with registry.client(token()) as client:
        for i in range(4):
            school(client, f"璧山区第{i}实验小学")
    with owner(settings) as conn:
        count = conn.execute("SELECT count(*) FROM registry.registry_events").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM registry.event_chain").fetchone()[0] == count  # one link per event
    intact = verify(settings, "registry")
    assert intact.returncode == 0 and f"registry: {count:,} events, chain intact" in intact.stdout, (
        intact.stdout + intact.stderr
    )

    with owner(settings) as conn:  # behind the service's back: one stored event is changed
        conn.execute("UPDATE registry.registry_events SET state = state || ' '::bytea WHERE notification_id = 3")
    broken = verify(settings, "registry")
    assert broken.returncode == 1
    assert (
        "registry: chain broken at notification 3" in broken.stdout and "2 events before it are intact" in broken.stdout
    )


def test_a_removed_event_is_named_too(registry, token, settings):
    with registry.client(token()) as client:
        for i in range(3):
            school(client, f"璧山区第{i}实验中学")
    with owner(settings) as conn:
        last = conn.execute("SELECT max(notification_id) FROM registry.registry_events").fetchone()[0]
        conn.execute("DELETE FROM registry.registry_events WHERE notification_id = %s", (last,))
    broken = verify(settings, "registry")
    assert broken.returncode == 1 and f"chain broken at notification {last} (a linked event is missing" in broken.stdout


def test_the_link_is_the_same_in_python_and_in_the_database():
    aggregate = uuid.uuid4()
    first = chain.next_link(chain.GENESIS, 1, aggregate, 1, "services.registry.domain:School.Registered", b'{"a":1}')
    assert first != chain.next_link(
        chain.GENESIS, 1, aggregate, 1, "services.registry.domain:School.Registered", b'{"a":2}'
    )
    rows = [(1, aggregate, 1, "t", b"x"), (2, aggregate, 2, "t", b"y")]
    links = {
        1: chain.next_link(chain.GENESIS, *rows[0]),
        2: chain.next_link(chain.next_link(chain.GENESIS, *rows[0]), *rows[1]),
    }
    assert chain.check(rows, dict(links), "s").intact
    assert chain.check([rows[0], (2, aggregate, 2, "t", b"z")], dict(links), "s").broken_at == 2
    assert chain.check(rows, {1: links[1]}, "s").reason.startswith("the event has no link")
