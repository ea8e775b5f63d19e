"""Inspection application: plan activities and move them through their lifecycle, announce and perform draws."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from dudao.events import Envelope
from dudao.store import ServiceApplication
from services.inspection.domain.activity import Activity
from services.inspection.domain.draw import Draw, DrawInputs
from services.inspection.domain.plan import WorkPlan, plan_id
from services.inspection.domain.visit import RoutineVisit


class Inspection(ServiceApplication):
    """The inspection service's write side (event store in schema `inspection`)."""

    service = "inspection"

    def plan_activity(self, *, activity_id: UUID, envelope: Envelope, **details) -> Activity:
        """Put a supervision activity on the calendar (details as `Activity.plan` takes them)."""
        return self.save_new(Activity.plan(activity_id=activity_id, **details), envelope)

    def on_activity(
        self, activity_id: UUID, expected_version: int | None, envelope: Envelope, authorize: Callable[[Activity], None],
        command: Callable[[Activity], None],
    ) -> Activity:  # fmt: skip
        """Apply one lifecycle command (team, notice, self-evaluation, site visit, findings, report) to an activity."""
        return self.change(activity_id, Activity, expected_version, envelope, command, authorize)

    def announce_draw(
        self, *, draw_id: UUID, jurisdiction: str, purpose: str, criteria: dict, inputs: DrawInputs, seed: str,
        now: datetime, envelope: Envelope,
    ) -> Draw:  # fmt: skip
        """Record the candidates and publish the seed's hash (the seed itself is revealed by `perform_draw`)."""
        draw = Draw.announce(
            draw_id=draw_id, jurisdiction=jurisdiction, purpose=purpose, criteria=criteria, inputs=inputs, seed=seed, now=now
        )
        return self.save_new(draw, envelope)

    def perform_draw(
        self, draw_id: UUID, *, now: datetime, expected_version: int | None, envelope: Envelope,
        authorize: Callable[[Draw], None],
    ) -> Draw:  # fmt: skip
        return self.change(draw_id, Draw, expected_version, envelope, lambda d: d.perform(now=now), authorize)

    def record_visit(self, *, visit_id: UUID, envelope: Envelope, **details) -> RoutineVisit:
        """A responsible inspector's routine visit (details as `RoutineVisit.record` takes them)."""
        return self.save_new(RoutineVisit.record(visit_id=visit_id, **details), envelope)

    def draft_plan(self, *, jurisdiction: str, year: int, title: str, now: datetime, envelope: Envelope) -> WorkPlan:
        """Start the annual work plan (年度督导工作计划); one per jurisdiction and year."""
        return self.save_new(WorkPlan.draft(jurisdiction=jurisdiction, year=year, title=title, now=now), envelope)

    def on_plan(
        self, jurisdiction: str, year: int, expected_version: int | None, envelope: Envelope,
        command: Callable[[WorkPlan], None],
    ) -> WorkPlan:  # fmt: skip
        """Add or remove items, approve (which reports the plan upward), revise."""
        return self.change(plan_id(jurisdiction, year), WorkPlan, expected_version, envelope, command)
