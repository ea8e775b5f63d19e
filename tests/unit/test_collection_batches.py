"""Monitoring's collection read model takes a fetched batch of submissions as a few grouped writes (decisions 034 and
040): its handler reads nothing back per event, so a backlog of forms costs round trips per batch, not per event."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from dudao.consumer import InboundEvent
from dudao.deferring import Deferring
from dudao.events import Envelope
from services.monitoring.projections.collection import project_collection

pytestmark = pytest.mark.unit

AT = "2026-11-20T02:00:00+00:00"


class Sent:
    """A connection that keeps what reaches it: one entry per round trip, reads included."""

    def __init__(self) -> None:
        self.trips: list[tuple[str, list[tuple[Any, ...]]]] = []

    async def executemany(self, query: str, rows: list[tuple[Any, ...]]) -> None:
        self.trips.append((query, list(rows)))

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any]:
        self.trips.append((query, [args]))
        return {"framework": "balanced_development", "period": "2026", "level": "510104"}

    async def prepare(self, query: str) -> Any:
        """Its statements' parameter types are not known here, so each run goes row by row (decision 054): which rows
        go together, and in what order, is what this test reads."""
        return SimpleNamespace(get_parameters=lambda: [SimpleNamespace(kind="unknown", name="unknown", schema="")])


def arrived(kind: str, submission: str, version: int, **data: Any) -> InboundEvent:
    return InboundEvent(
        type=f"Submission.{kind}",
        aggregate="Submission",
        aggregate_id=submission,
        version=version,
        origin="510104:monitoring",
        notification_id=version,
        envelope_fields=Envelope.for_request(actor="t", jurisdiction="510104").as_dict(),
        data=data,
    )


def a_school_s_form(submission: str) -> list[InboundEvent]:
    """Opened, values entered, submitted and approved: what every school's form is in a generated province."""
    return [
        arrived(
            "Opened",
            submission,
            1,
            framework="balanced_development",
            period="2026",
            framework_version=1,
            unit_kind="school",
            unit_id=submission,
            unit_name="学校",
            jurisdiction="510104",
            unit_stage="primary",
            locality=None,
            opened_by={"kind": "office"},
            opened_at=AT,
        ),
        arrived("ValuesEntered", submission, 2, values={"pupils": 800}, entered_by={"kind": "unit"}, entered_at=AT),
        arrived("Submitted", submission, 3, submitted_by={"kind": "unit"}, submitted_at=AT),
        arrived("Approved", submission, 4, by="office", approved_at=AT),
    ]


def test_a_batch_of_forms_is_a_few_grouped_writes_and_no_read_per_event():
    sent = Sent()
    writing = Deferring(sent, own_rows=True)  # as the collection projection declares
    forms = [str(uuid.UUID(int=n)) for n in range(50)]

    async def batch() -> None:
        for submission in forms:
            for event in a_school_s_form(submission):
                writing.aggregate = (event.origin, event.aggregate_id)
                await project_collection(writing, event)
        await writing.flush()

    asyncio.run(batch())

    assert not [query for query, _ in sent.trips if "RETURNING" in query or query.lstrip().startswith("SELECT")]
    assert len(sent.trips) <= 8  # per kind of write, whatever the batch's size (it was one trip per event and more)
    for submission in forms:  # each form's writes in its own order: inserted, filled in, then its status twice
        written = [query for query, rows in sent.trips for row in rows if row[0] == submission]
        assert written[0].startswith("INSERT INTO monitoring.submissions")
        assert "values = " in written[1]
        statuses = [
            row[3] for query, rows in sent.trips for row in rows if row[0] == submission and "status =" in query
        ]
        assert statuses == ["submitted", "approved"]
        assert sum("results_due" in query for query in written) == 3
