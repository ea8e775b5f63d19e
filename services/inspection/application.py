"""Inspection application: plan activities and move them through their lifecycle, announce and perform draws,
record routine visits, keep the annual work plans. One method per command, taking its command object and caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import RecordConflictError

from dudao import blobs
from dudao import jurisdiction as divisions
from dudao.callers import Role
from dudao.commands import Caller
from dudao.errors import Conflict, Forbidden, InvalidInput
from dudao.privacy import redact
from dudao.scope import Target, authorize, check_scope
from dudao.store import ServiceApplication
from services.inspection.commands import (
    AddPlanItem,
    AnnounceDraw,
    ApprovePlan,
    ApproveReport,
    AssignTeam,
    DraftPlan,
    DraftReport,
    IssueReport,
    LogEvidenceOpened,
    PerformDraw,
    PlanActivity,
    Publish,
    RecordFindings,
    RecordMemberUnits,
    RecordVisit,
    RemovePlanItem,
    RevisePlan,
    SendNotice,
    StartOnSite,
    SubmitSelfEvaluation,
)
from services.inspection.domain.activity import Activity, ActivityKind, TargetKind, grade_for
from services.inspection.domain.draw import Draw
from services.inspection.domain.evidence_log import EvidenceLog, evidence_log_id
from services.inspection.domain.plan import WorkPlan, plan_id
from services.inspection.domain.semester_count import SemesterCount, semester_count_id
from services.inspection.domain.visit import RoutineVisit

CONCURRENT_TRIES = 20  # plannings for one school that may win the count ahead of this one
TEAM_OR_ADMIN = (Role.admin, Role.inspector)


def activity_target(activity: Activity) -> Target:
    """An activity as scope sees it: its place, the unit it supervises, and its team (leader and members)."""
    team = activity.team or {}
    members = {str(m) for m in [team.get("leader_id"), *team.get("member_ids", [])] if m}
    return Target(activity.jurisdiction, unit=activity.target_id, team=frozenset(members))


class Inspection(ServiceApplication):
    """The inspection service's write side (event store in schema `inspection`)."""

    service = "inspection"

    # --- activities ---------------------------------------------------------------------------------------------

    def plan_activity(self, command: PlanActivity, caller: Caller) -> Activity:
        """Put a supervision activity on the calendar, in the caller's jurisdiction subtree.

        A school's activity is counted in its semester's `SemesterCount` in the same transaction; a supervision
        past the profile's visits per school per semester needs `frequency_override`. A planning that loses a race
        for the count is checked again. `earlier` is the read model's count, used only when the count is first opened.
        """
        check_scope(caller.principal, command.jurisdiction)
        details = {k: v for k, v in vars(command).items() if k not in ("earlier", "draw_id")}
        details |= self._from_draw(command)
        limit, profile_version = None, ""
        if command.target_kind is TargetKind.school:
            profile = self.profile_at(command.jurisdiction)
            limit, profile_version = profile.get("visits_per_school_per_semester_max"), profile.version
        activity_id, envelope, earlier = caller.made_id, caller.envelope, command.earlier
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

    def _from_draw(self, command: PlanActivity) -> dict[str, Any]:
        """An activity planned from a draw: the draw is performed, in this place, and drew this school; it binds the
        team it drew."""
        if command.draw_id is None:
            return {}
        draw = self.get(command.draw_id, Draw)
        result = draw.result
        if draw.jurisdiction != command.jurisdiction or result is None or command.target_id not in result.targets:
            why = (
                "is not performed yet"
                if result is None
                else f"did not draw {command.target_name}"
                if draw.jurisdiction == command.jurisdiction
                else f"is {draw.jurisdiction}'s, not {command.jurisdiction}'s"
            )
            raise InvalidInput(f"draw {command.draw_id} {why}", field="draw_id", rule="not_drawn")
        return {"draw_id": str(draw.id), "drawn_team": result.teams[command.target_id]}

    def assign_team(self, command: AssignTeam, caller: Caller) -> Activity:
        """Name the team (督导组) by hand; recusal (回避) holds as for a drawn team. Departing from a drawn team is
        recorded on the draw in the same transaction, or neither is saved."""

        def apply(activity: Activity) -> list[Draw]:
            activity.assign_team(
                leader_id=command.leader_id,
                member_ids=command.member_ids,
                ties=command.ties,
                inspectors=command.inspectors,
                deviation_reason=command.deviation_reason,
            )
            if activity.deviation_reason is None or activity.draw_id is None:
                return []
            draw = self.get(UUID(activity.draw_id), Draw)
            draw.record_deviation(
                activity_id=str(activity.id),
                target=activity.target_id,
                assigned=activity.member_ids,
                reason=redact(activity.deviation_reason),
                by=caller.principal.sub,
                at=command.now,
            )
            return [draw]

        return self._on_activity(command.activity_id, caller, apply)

    def send_notice(self, command: SendNotice, caller: Caller) -> Activity:
        return self._on_activity(
            command.activity_id, caller, lambda a: a.notify(notified_on=command.notified_on, today=command.today)
        )

    def submit_self_evaluation(self, command: SubmitSelfEvaluation, caller: Caller) -> Activity:
        """The supervised unit's self-evaluation; its evidence is stored once the unit is admitted and every file
        checked."""

        def apply(activity: Activity) -> None:
            stored = blobs.save_uploads(self.blobs, command.evidence, max_bytes=self.settings.blob_max_bytes)
            activity.submit_self_evaluation(
                items=command.items, evidence=stored, submitted_by=caller.principal.sub, now=command.now
            )

        return self._on_activity(command.activity_id, caller, apply, roles=(Role.unit, Role.admin), team=False)

    def record_member_units(self, command: RecordMemberUnits, caller: Caller) -> Activity:
        return self._on_activity(
            command.activity_id,
            caller,
            lambda a: a.record_member_units(unit_names=command.unit_names, year=command.year),
        )

    def start_on_site(self, command: StartOnSite, caller: Caller) -> Activity:
        return self._on_activity(
            command.activity_id,
            caller,
            lambda a: a.start_on_site(on=command.on, today=command.today),
            roles=TEAM_OR_ADMIN,
        )

    def record_findings(self, command: RecordFindings, caller: Caller) -> Activity:
        return self._on_activity(
            command.activity_id,
            caller,
            lambda a: a.record_findings(findings=command.findings, now=command.now),
            roles=TEAM_OR_ADMIN,
        )

    def draft_report(self, command: DraftReport, caller: Caller) -> Activity:
        def apply(activity: Activity) -> None:
            grade = basis = None
            if command.score is not None:
                profile = self.profile_at(activity.jurisdiction)
                grade, basis = grade_for(command.score, profile.values), profile.version
            activity.draft_report(
                summary=command.summary, grade=grade, score=command.score, grade_basis=basis, now=command.now
            )

        return self._on_activity(command.activity_id, caller, apply)

    def approve_report(self, command: ApproveReport, caller: Caller) -> Activity:
        return self._on_activity(
            command.activity_id,
            caller,
            lambda a: a.approve_report(approved_by=caller.principal.sub, now=command.now),
        )

    def issue_report(self, command: IssueReport, caller: Caller) -> Activity:
        """Issue the report to the supervised unit (印发督导报告): this starts rectification in accountability."""
        return self._on_activity(
            command.activity_id, caller, lambda a: a.issue_report(issued_on=command.issued_on, now=command.now)
        )

    def publish(self, command: Publish, caller: Caller) -> Activity:
        return self._on_activity(
            command.activity_id, caller, lambda a: a.publish(public_summary=command.public_summary, now=command.now)
        )

    def _on_activity(
        self,
        activity_id: UUID,
        caller: Caller,
        apply: Callable[[Activity], Any],
        *,
        roles: tuple[str, ...] = (Role.admin,),
        team: bool = True,
    ) -> Activity:
        """Offices over the activity's place act on it; an inspector only when on its team; a unit only its own."""

        def admit(activity: Activity) -> None:
            target = activity_target(activity) if team else Target(activity.jurisdiction, unit=activity.target_id)
            authorize(caller.principal, target, roles, write=True)

        return self.change(activity_id, Activity, caller.expected_version, caller.envelope, apply, admit)

    def log_evidence_opened(self, command: LogEvidenceOpened, caller: Caller) -> None:
        """Record that the caller opened one of the activity's evidence files (in the audit, not on the activity)."""
        for _ in range(CONCURRENT_TRIES):
            try:
                log = self.repository.get(evidence_log_id(command.activity_id))
            except AggregateNotFoundError:
                log = EvidenceLog.start(activity_id=command.activity_id, jurisdiction=command.jurisdiction)
            log.opened(sha256=command.sha256, name=command.name, by=caller.principal.sub, at=command.now)
            try:
                self.save(log, envelope=caller.envelope)
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

    # --- double-random draws -------------------------------------------------------------------------------------

    def announce_draw(self, command: AnnounceDraw, caller: Caller) -> Draw:
        """Record the candidates and publish the seed's hash (the seed itself is revealed by `perform_draw`)."""
        check_scope(caller.principal, command.jurisdiction)
        draw = Draw.announce(
            draw_id=caller.made_id,
            jurisdiction=command.jurisdiction,
            purpose=command.purpose,
            criteria=command.criteria,
            inputs=command.inputs,
            seed=command.seed,
            now=command.now,
        )
        return self.save_new(draw, caller.envelope)

    def perform_draw(self, command: PerformDraw, caller: Caller) -> Draw:
        return self.change(
            command.draw_id,
            Draw,
            caller.expected_version,
            caller.envelope,
            lambda draw: draw.perform(now=command.now),
            lambda draw: check_scope(caller.principal, draw.jurisdiction),
        )

    # --- routine visits --------------------------------------------------------------------------------------------

    def record_visit(self, command: RecordVisit, caller: Caller) -> RoutineVisit:
        """A routine visit (经常性督导): offices over the school's place, or the school's responsible inspector (责任督学)
        recording their own visit."""
        school = command.school
        responsible = frozenset({str(school["responsible_inspector_id"])} if school["responsible_inspector_id"] else ())
        role = authorize(
            caller.principal,
            Target(school["jurisdiction"], unit=str(school["id"]), team=responsible),
            (Role.admin, Role.inspector),
            write=True,
            field="school_id",
        )
        if role == Role.inspector and caller.principal.sub != command.inspector_id:
            raise Forbidden("an inspector records their own visits", field="inspector_id", rule="own_visits_only")
        visit = RoutineVisit.record(
            visit_id=caller.made_id,
            jurisdiction=school["jurisdiction"],
            school_id=str(school["id"]),
            school_name=school["name"],
            zone_id=str(school["zone_id"]) if school["zone_id"] else None,
            inspector_id=command.inspector_id,
            visited_on=command.visited_on,
            items_checked=command.items_checked,
            problems=command.problems,
            now=command.now,
        )
        return self.save_new(visit, caller.envelope)

    # --- annual work plans -----------------------------------------------------------------------------------------

    def draft_plan(self, command: DraftPlan, caller: Caller) -> WorkPlan:
        """Start the annual work plan (年度督导工作计划); one per jurisdiction and year."""
        check_scope(caller.principal, command.jurisdiction)
        plan = WorkPlan.draft(
            jurisdiction=command.jurisdiction, year=command.year, title=command.title, now=command.now
        )
        return self.save_new(plan, caller.envelope)

    def add_plan_item(self, command: AddPlanItem, caller: Caller) -> WorkPlan:
        return self._on_plan(command.jurisdiction, command.year, caller, lambda plan: plan.add_item(**command.item))

    def remove_plan_item(self, command: RemovePlanItem, caller: Caller) -> WorkPlan:
        return self._on_plan(
            command.jurisdiction,
            command.year,
            caller,
            lambda plan: plan.remove_item(item_id=command.item_id, reason=command.reason),
        )

    def approve_plan(self, command: ApprovePlan, caller: Caller) -> WorkPlan:
        """Approve the plan; the approval is the event that reports it to the body one level up (O2)."""
        check_scope(caller.principal, command.jurisdiction)
        above = divisions.ancestors(command.jurisdiction)
        if not above:
            raise InvalidInput(
                f"{command.jurisdiction} has no level above to report its plan to", field="code", rule="no_upper_level"
            )
        return self._on_plan(
            command.jurisdiction,
            command.year,
            caller,
            lambda plan: plan.approve(
                approved_by=caller.principal.sub, approved_on=command.approved_on, upper_jurisdiction=above[0]
            ),
        )

    def revise_plan(self, command: RevisePlan, caller: Caller) -> WorkPlan:
        return self._on_plan(
            command.jurisdiction, command.year, caller, lambda plan: plan.revise(reason=command.reason)
        )

    def _on_plan(self, jurisdiction: str, year: int, caller: Caller, apply: Callable[[WorkPlan], Any]) -> WorkPlan:
        """Offices over the plan's place change it."""
        check_scope(caller.principal, jurisdiction)
        return self.change(plan_id(jurisdiction, year), WorkPlan, caller.expected_version, caller.envelope, apply)
