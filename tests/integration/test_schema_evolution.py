"""Schema evolution: an event stored in an old shape is read in the current one, by the aggregate and on the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import psycopg
import pytest

from dudao.events import Envelope
from dudao.wire import event_state
from services.registry.application import Registry
from services.registry.commands import RecordEnrolment, RegisterSchool
from services.registry.domain import Ownership, School, Stage
from tests.factories import caller

pytestmark = pytest.mark.integration

ENVELOPE = Envelope.for_request(actor="loader", jurisdiction="500120")
ENROLMENT_RECORDED = "services.registry.domain.school:School.EnrolmentRecorded"


def a_school(app: Registry) -> UUID:
    school_id = uuid4()
    app.register_school(
        RegisterSchool(
            name="璧山区示例中学",
            jurisdiction="500120",
            stage=Stage.nine_year,
            ownership=Ownership.public,
            enrolment=10,
            now=datetime.now(UTC),
        ),
        caller("500120", envelope=ENVELOPE, new_id=school_id),
    )
    return school_id


def store_v1_enrolment(app: Registry, settings, school_id: UUID, version: int, by_stage: dict[str, int]) -> None:
    """An EnrolmentRecorded as v1 stored it (no `total`, no class_version), written straight into the event table."""
    state = {
        "timestamp": datetime.now(UTC),
        "school_year": "2025-2026",
        "by_stage": by_stage,
        "recorded_at": datetime.now(UTC),
        "envelope": ENVELOPE.as_dict(),
    }
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "INSERT INTO registry.registry_events (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)",
            (school_id, version, ENROLMENT_RECORDED, app.mapper.transcoder.encode(state)),
        )


def test_the_enrolment_event_is_version_2():
    assert School.EnrolmentRecorded.class_version == 2


def test_a_v1_enrolment_is_read_with_its_total_by_the_aggregate(settings):
    app = Registry(settings)
    try:
        school_id = a_school(app)
        store_v1_enrolment(app, settings, school_id, 2, {"primary": 600, "junior_secondary": 250})
        school = app.get(school_id, School)
        assert school.enrolment == 850
        assert school.enrolment_by_year == {"2025-2026": {"primary": 600, "junior_secondary": 250}}
    finally:
        app.close()


def test_a_v1_enrolment_goes_out_on_the_wire_in_the_current_shape(settings):
    app = Registry(settings)
    try:
        school_id = a_school(app)
        store_v1_enrolment(app, settings, school_id, 2, {"primary": 600, "junior_secondary": 250})
        notification = app.recorder.select_notifications(0, 10)[-1]
        data, envelope = event_state(app, notification)
        assert data["total"] == 850
        assert data["by_stage"] == {"primary": 600, "junior_secondary": 250}
        assert "class_version" not in data
        assert envelope["actor"] == "loader"
    finally:
        app.close()


def test_a_new_enrolment_is_stored_as_version_2_and_left_alone_on_read(settings):
    app = Registry(settings)
    try:
        school_id = a_school(app)
        app.record_enrolment(
            RecordEnrolment(
                school_id=school_id,
                school_year="2026-2027",
                by_stage={Stage.primary: 700, Stage.junior_secondary: 300},
                now=datetime.now(UTC),
            ),
            caller(envelope=ENVELOPE),
        )
        with psycopg.connect(settings.database_url) as conn:
            stored = conn.execute(
                "SELECT state FROM registry.registry_events WHERE originator_id = %s AND originator_version = 2",
                (school_id,),
            ).fetchone()[0]
        raw = app.mapper.transcoder.decode(bytes(stored))
        assert (raw["class_version"], raw["total"]) == (2, 1000)
        assert app.get(school_id, School).enrolment == 1000
    finally:
        app.close()
