"""Inspection application: plan activities and move them through their lifecycle, announce and perform draws."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from dudao.errors import Conflict
from dudao.events import Envelope
from dudao.store import ServiceApplication
from services.inspection.domain.activity import Activity, ActivityKind, TargetKind
from services.inspection.domain.draw import Draw, DrawInputs
from services.inspection.domain.evidence_log import EvidenceLog, evidence_log_id
from services.inspection.domain.plan import WorkPlan, plan_id
from services.inspection.domain.semester_count import SemesterCount, semester_count_id
from services.inspection.domain.visit import RoutineVisit

CONCURRENT_TRIES = 20  # plannings for one school that may win the count ahead of this one


class Inspection(ServiceApplication):
    """The inspection service's write side (event store in schema `inspection`)."""

    service = "inspection"

    def plan_activity(
        self,
        *,
        activity_id: UUID,
        envelope: Envelope,
        limit: int | None = None,
        profile_version: str = "",
        earlier: int = 0,
        **details,
    ) -> Activity:
        """Put a supervision activity on the calendar (details as `Activity.plan` takes them).

        A school's activity is counted in its semester's `SemesterCount` in the same transaction; a supervision
        past `limit` needs `frequency_override`. A planning that loses a race for the count is checked again.
        `earlier` is the read model's count, used only when this semester's count is first opened.
        """
        for _ in range(CONCURRENT_TRIES):
            activity = Activity.plan(activity_id=activity_id, **details)
            if activity.target_kind is not TargetKind.school or self.exists(activity_id):
                return self.save_new(activity, envelope)  # a retry of the same request answers as the first time
            count = self.semester_count(activity.target_id, activity.period, earlier)
            count.admit(
                activity_id=activity_id,
                school_name=activity.target_name,
                override=activity.frequency_override,
                limit=None if activity.kind is ActivityKind.routine else limit,
                profile_version=profile_version,
            )
            try:
                self.save(activity, count, envelope=envelope)
                return activity
            except RecordConflictError:
                continue  # another planning took the count (or this key) first: look again
        raise Conflict(
            "too many plannings for this school at once; retry in a moment", field="target_id", rule="concurrent_update"
        )

    def log_evidence_opened(
        self, activity: Activity, *, sha256: str, name: str, by: str, now: datetime, envelope: Envelope
    ) -> None:
        """Record that `by` opened one of the activity's evidence files (in the audit, not on the activity)."""
        for _ in range(CONCURRENT_TRIES):
            try:
                log = self.repository.get(evidence_log_id(activity.id))
            except AggregateNotFoundError:
                log = EvidenceLog.start(activity_id=activity.id, jurisdiction=activity.jurisdiction)
            log.opened(sha256=sha256, name=name, by=by, at=now)
            try:
                self.save(log, envelope=envelope)
                return
            except RecordConflictError:
                continue  # another opening was recorded first: record this one after it
        raise Conflict(
            "too many openings of this activity's evidence at once; retry in a moment", rule="concurrent_update"
        )

    def semester_count(self, school_id: str, period: str, earlier: int = 0) -> SemesterCount:
        try:
            return self.repository.get(semester_count_id(school_id, period))
        except AggregateNotFoundError:
            return SemesterCount.open(school_id=school_id, period=period, earlier=earlier)

    def on_activity(
        self,
        activity_id: UUID,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Callable[[Activity], None],
        command: Callable[[Activity], None],
    ) -> Activity:
        """Apply one lifecycle command (team, notice, self-evaluation, site visit, findings, report) to an activity."""
        return self.change(activity_id, Activity, expected_version, envelope, command, authorize)

    def announce_draw(
        self,
        *,
        draw_id: UUID,
        jurisdiction: str,
        purpose: str,
        criteria: dict,
        inputs: DrawInputs,
        seed: str,
        now: datetime,
        envelope: Envelope,
    ) -> Draw:
        """Record the candidates and publish the seed's hash (the seed itself is revealed by `perform_draw`)."""
        draw = Draw.announce(
            draw_id=draw_id,
            jurisdiction=jurisdiction,
            purpose=purpose,
            criteria=criteria,
            inputs=inputs,
            seed=seed,
            now=now,
        )
        return self.save_new(draw, envelope)

    def perform_draw(
        self,
        draw_id: UUID,
        *,
        now: datetime,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Callable[[Draw], None],
    ) -> Draw:
        return self.change(draw_id, Draw, expected_version, envelope, lambda d: d.perform(now=now), authorize)

    def record_visit(self, *, visit_id: UUID, envelope: Envelope, **details) -> RoutineVisit:
        """A responsible inspector's routine visit (details as `RoutineVisit.record` takes them)."""
        return self.save_new(RoutineVisit.record(visit_id=visit_id, **details), envelope)

    def draft_plan(self, *, jurisdiction: str, year: int, title: str, now: datetime, envelope: Envelope) -> WorkPlan:
        """Start the annual work plan (年度督导工作计划); one per jurisdiction and year."""
        return self.save_new(WorkPlan.draft(jurisdiction=jurisdiction, year=year, title=title, now=now), envelope)

    def on_plan(
        self,
        jurisdiction: str,
        year: int,
        expected_version: int | None,
        envelope: Envelope,
        command: Callable[[WorkPlan], None],
    ) -> WorkPlan:
        """Add or remove items, approve (which reports the plan upward), revise."""
        return self.change(plan_id(jurisdiction, year), WorkPlan, expected_version, envelope, command)
