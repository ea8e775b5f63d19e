"""Group commit (decision 042): saves that queue behind the one being written go in together, in one transaction;
each gets its own recordings, and a save that cannot be written fails alone while the rest of its group lands."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from dudao.events import Envelope
from services.registry.application import Registry
from services.registry.domain import Ownership, School, Stage

pytestmark = pytest.mark.integration

ENVELOPE = Envelope.for_request(actor="t", jurisdiction="500120")


def school(n: int, school_id: UUID | None = None) -> School:
    return School.register(
        school_id=school_id or uuid4(),
        name=f"组提交学校{n}",
        jurisdiction="500120",
        stage=Stage.primary,
        ownership=Ownership.public,
        enrolment=100 + n,
        now=datetime.now(UTC),
    )


class Held:
    """Counts the transactions that write events, and holds the first one open until `release()`, so the saves
    started meanwhile queue behind it (as 16 requests do behind a slow commit)."""

    def __init__(self, app: Registry):
        self.writes: list[int] = []  # events per transaction
        self.first_started, self.go = threading.Event(), threading.Event()
        self._insert = app.recorder.insert_events
        app.recorder.insert_events = self  # type: ignore[method-assign]

    def __call__(self, stored_events, **kwargs):
        if not self.writes:
            self.first_started.set()
            self.go.wait(10)
        self.writes.append(len(stored_events))
        return self._insert(stored_events, **kwargs)

    def release(self) -> None:
        self.go.set()


def saved_behind_a_held_save(app: Registry, schools: list[School]) -> list:
    """Save `schools[0]` and, while it is held, the others from threads of their own: each save's outcome."""
    held = Held(app)

    def save(s: School):
        try:
            return app.save(s, envelope=ENVELOPE)
        except Exception as e:  # noqa: BLE001 - the outcome is what the test reads
            return e

    with ThreadPoolExecutor(len(schools)) as pool:
        first = pool.submit(save, schools[0])
        assert held.first_started.wait(10)
        rest = [pool.submit(save, s) for s in schools[1:]]
        time.sleep(0.3)  # the rest queue behind the held save
        held.release()
        outcomes = [first.result(10)] + [f.result(10) for f in rest]
    return outcomes, held.writes


def test_saves_queued_behind_another_go_in_one_transaction_each_with_its_own_recordings(settings):
    app = Registry(settings)
    try:
        schools = [school(n) for n in range(9)]
        outcomes, writes = saved_behind_a_held_save(app, schools)
        assert writes == [1, 8]  # the held one, then the eight that queued behind it, together
        for s, recordings in zip(schools, outcomes, strict=True):
            assert [r.domain_event.originator_id for r in recordings] == [s.id]
            assert app.repository.get(s.id).name == s.name
        ids = [r.notification.id for recordings in outcomes for r in recordings]
        assert len(set(ids)) == 9
        assert app.recorder.max_notification_id() == max(ids)
    finally:
        app.close()


def test_a_save_that_conflicts_fails_alone_and_the_rest_of_its_group_is_written_once(settings):
    app = Registry(settings)
    try:
        taken = school(0)
        app.save(taken, envelope=ENVELOPE)
        schools = [school(1), school(2), school(3, school_id=taken.id), school(4)]  # the third's id is taken

        outcomes, writes = saved_behind_a_held_save(app, schools)

        assert isinstance(outcomes[2], IntegrityError)  # a RecordConflictError: the id is taken
        assert [type(o) for i, o in enumerate(outcomes) if i != 2] == [list, list, list]
        assert writes[:2] == [1, 3]  # the group of three failed whole and wrote nothing …
        assert sorted(writes[2:]) == [1, 1, 1]  # … then each was written alone, the conflicting one refused
        stored = [n.originator_id for n in app.recorder.select_notifications(start=1, limit=100)]
        assert sorted(stored) == sorted([taken.id, schools[0].id, schools[1].id, schools[3].id])  # each once
        assert app.repository.get(taken.id).name == taken.name  # the first registration stands
        for s in (schools[0], schools[1], schools[3]):
            assert app.repository.get(s.id).version == 1
    finally:
        app.close()
