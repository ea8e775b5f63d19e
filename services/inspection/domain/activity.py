"""Supervision activities (督导活动): from the plan through team, self-evaluation, site visit and findings to the report."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from dudao import jurisdiction as divisions
from dudao.clock import china_date
from dudao.errors import InvalidInput
from dudao.rules import Labelled, RuleViolation, check_transition, choice, happened, require_name
from services.inspection.domain import records
from services.inspection.domain.activity_terms import (
    ActivityKind,
    FindingArea,
    Severity,
    Source,
    SpecialTopic,
    Status,
    TargetKind,
    semester_of,
)

K, S, T = ActivityKind, Status, TargetKind

# A duty evaluation's grade (履职评价等次) from its score, by the bands of the place's policy profile.
GRADE_BANDS = (
    ("excellent", "duty_grade_excellent_min"),
    ("good", "duty_grade_good_min"),
    ("qualified", "duty_grade_qualified_min"),
)


class Grade(Labelled):
    """A duty evaluation's grade (履职评价等次)."""

    excellent = "excellent", "优秀"
    good = "good", "良好"
    qualified = "qualified", "合格"
    unqualified = "unqualified", "不合格"


def grade_for(score: float, profile_values: Mapping[str, float]) -> str:
    """The grade a score earns under the profile's bands; below the lowest band is unqualified."""
    if not all(key in profile_values for _, key in GRADE_BANDS):
        raise RuleViolation(
            "the policy profile sets no grade bands for duty evaluations (duty_grade_*_min)",
            field="score",
            rule="no_grade_bands",
        )
    for grade, key in GRADE_BANDS:
        if score >= profile_values[key]:
            return grade
    return "unqualified"


NEEDS_SELF_EVALUATION = frozenset(
    {
        K.duty_evaluation,
        K.comprehensive,
        K.balanced_development_assessment,
        K.preschool_assessment,
        K.principal_term_end,
    }
)
# Whom each kind may supervise: governments are evaluated and assessed, routine visits go to schools.
TARGETS: dict[ActivityKind, frozenset[TargetKind]] = {
    K.duty_evaluation: frozenset({T.government, T.department}),
    K.comprehensive: frozenset(TargetKind),
    K.special: frozenset(TargetKind),
    K.routine: frozenset({T.school}),
    K.principal_term_end: frozenset({T.school}),
    K.balanced_development_assessment: frozenset({T.government}),
    K.preschool_assessment: frozenset({T.government}),
}

# Which states each lifecycle command may start from. A walk of this table is in the tests.
TRANSITIONS: dict[str, frozenset[str]] = {
    "assign_team": frozenset({S.planned, S.team_assigned}),  # re-assignment until the unit is notified
    "notify": frozenset({S.team_assigned}),
    "submit_self_evaluation": frozenset({S.notified}),
    "start_on_site": frozenset({S.self_evaluation_submitted}),
    "record_findings": frozenset({S.on_site, S.findings_recorded}),  # more findings until the report is drafted
    "draft_report": frozenset({S.findings_recorded, S.report_drafted}),  # re-drafting
    "approve_report": frozenset({S.report_drafted}),
    "issue_report": frozenset({S.report_approved}),
    "publish": frozenset({S.report_issued}),
}
# Kinds outside NEEDS_SELF_EVALUATION go from notification straight to the site.
WITHOUT_SELF_EVALUATION: dict[str, frozenset[str]] = TRANSITIONS | {
    "submit_self_evaluation": frozenset(),
    "start_on_site": frozenset({S.notified}),
}

PERIOD = re.compile(r"\d{4}-(spring|fall)")
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def transitions_for(kind: ActivityKind) -> dict[str, frozenset[str]]:
    """The lifecycle table that applies to an activity of `kind`."""
    return TRANSITIONS if kind in NEEDS_SELF_EVALUATION else WITHOUT_SELF_EVALUATION


class Activity(Aggregate):
    """A supervision activity (督导活动) of one government, department or school."""

    @event("Planned")
    def __init__(
        self,
        *,
        jurisdiction: str,
        kind: ActivityKind,
        title: str,
        target_kind: TargetKind,
        target_id: str,
        target_name: str,
        period: str,
        planned_month: str,
        topic: SpecialTopic | None,
        plan_id: str | None,
        source: Source,
        planned_at: datetime,
        frequency_override: str | None = None,
        draw_id: str | None = None,
        drawn_team: list[str] | None = None,
    ):
        self.jurisdiction = jurisdiction
        self.kind = ActivityKind(kind)
        self.title = title
        self.target_kind = TargetKind(target_kind)
        self.target_id = target_id
        self.target_name = target_name
        self.period = period
        self.planned_month = planned_month
        self.topic = SpecialTopic(topic) if topic else None
        self.plan_id = plan_id
        self.source = Source(source)
        self.planned_at = planned_at
        self.frequency_override = frequency_override
        self.draw_id = draw_id  # the double-random draw (双随机) that picked this target, and the team it drew for it
        self.drawn_team = list(drawn_team) if drawn_team else None
        self.deviation_reason: str | None = None
        self.member_units: list[str] = []
        self.status = Status.planned
        self.leader_id: str | None = None
        self.member_ids: list[str] = []
        self.drawn_by: str | None = None
        self.notified_on: date | None = None
        self.self_evaluation: dict[str, Any] | None = None
        self.on_site_from: date | None = None
        self._findings: list[dict[str, Any]] = []
        self.report_summary: str | None = None
        self.grade: str | None = None
        self.approved_by: str | None = None
        self.issued_on: date | None = None
        self.public_summary: str | None = None

    @classmethod
    def plan(
        cls,
        *,
        activity_id: UUID,
        jurisdiction: str,
        kind: ActivityKind,
        title: str,
        target_kind: TargetKind,
        target_id: str,
        target_name: str,
        period: str,
        planned_month: str,
        topic: SpecialTopic | None = None,
        plan_id: str | None = None,
        source: Source = Source.plan,
        now: datetime,
        frequency_override: str | None = None,
        draw_id: str | None = None,
        drawn_team: list[str] | None = None,
    ) -> Activity:
        """Put an activity on the calendar for a term (`2026-fall`) and a month (`2026-10`); one planned from a draw
        names it (`draw_id`) and the team it drew for this target, which then binds the team (`assign_team`)."""
        if not divisions.is_valid_code(jurisdiction):
            raise InvalidInput(f"{jurisdiction!r} is not a division code", field="jurisdiction", rule="division_code")
        kind, target_kind = choice(ActivityKind, kind, "kind"), choice(TargetKind, target_kind, "target_kind")
        topic = None if topic is None else choice(SpecialTopic, topic, "topic")
        if kind is K.special and topic is None:
            raise RuleViolation("a special supervision needs a topic", field="topic", rule="topic_required_for_special")
        if kind is not K.special and topic is not None:
            raise RuleViolation(
                f"only a special supervision has a topic, not {kind.value}",
                field="topic",
                rule="topic_only_for_special",
            )
        if target_kind not in TARGETS[kind]:
            raise RuleViolation(
                f"{kind.value} supervises {' or '.join(sorted(TARGETS[kind]))}, not {target_kind.value}",
                field="target_kind",
                rule="target_kind_for_activity",
            )
        if not (isinstance(period, str) and PERIOD.fullmatch(period)):
            raise InvalidInput(
                f"period must look like 2026-spring or 2026-fall, not {period!r}", field="period", rule="period_format"
            )
        if not (isinstance(planned_month, str) and MONTH.fullmatch(planned_month)):
            raise InvalidInput(
                f"planned_month must look like 2026-10, not {planned_month!r}",
                field="planned_month",
                rule="month_format",
            )
        month = date.fromisoformat(f"{planned_month}-01")
        if period != semester_of(month):  # else frequency control counts it in a semester it is not in
            raise InvalidInput(
                f"planned_month {planned_month} falls in {semester_of(month)}, not in period {period}",
                field="period",
                rule="period_month_mismatch",
            )
        return cls._create(
            cls.Planned,
            id=activity_id,
            jurisdiction=jurisdiction,
            kind=kind,
            title=require_name(title, "title"),
            target_kind=target_kind,
            target_id=require_name(target_id, "target_id"),
            target_name=require_name(target_name, "target_name"),
            period=period,
            planned_month=planned_month,
            topic=topic,
            plan_id=(plan_id or "").strip() or None,
            source=choice(Source, source, "source"),
            planned_at=now,
            frequency_override=(frequency_override or "").strip()
            or None,  # an admin's recorded reason to exceed the visit limit
            draw_id=str(draw_id) if draw_id else None,
            drawn_team=[str(m) for m in drawn_team] if draw_id and drawn_team else None,
        )

    # --- read helpers -------------------------------------------------------------------------------------

    @property
    def needs_self_evaluation(self) -> bool:
        return self.kind in NEEDS_SELF_EVALUATION

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [dict(f) for f in self._findings]

    @property
    def team(self) -> dict[str, Any] | None:
        """The leader (组长) and all members, the leader included; None before a team is assigned."""
        if self.leader_id is None:
            return None
        return {"leader_id": self.leader_id, "member_ids": list(self.member_ids), "drawn_by": self.drawn_by}

    def _check(self, command: str) -> None:
        check_transition("activity", transitions_for(self.kind), command, self.status)

    # --- team and notification ----------------------------------------------------------------------------

    def assign_team(
        self,
        *,
        leader_id: str,
        member_ids: list[str],
        ties: Mapping[str, Collection[str]],
        inspectors: Mapping[str, Mapping[str, Any]],
        deviation_reason: str | None = None,
    ) -> None:
        """Form the team (督导组), drawn at random (双随机) or named; nobody tied to the target may serve (回避).

        `ties` maps inspector ids to the unit ids each has declared a tie to, and `inspectors` maps them to what the
        registry says of them (`jurisdiction`, `status`, `filed_with`): each must be there, active, and of this
        activity's place (their jurisdiction contains it, or they are filed with its office). An activity planned
        from a draw takes the drawn team; anyone else needs an admin's `deviation_reason`, which the draw then shows.
        """
        self._check("assign_team")
        leader_id = require_name(leader_id, "leader_id")
        members = [require_name(m, "member_ids") for m in member_ids]
        if len(set(members)) != len(members):
            raise InvalidInput("an inspector is listed twice in the team", field="member_ids", rule="unique")
        for field, inspector_id in [("leader_id", leader_id), *((f"member_ids.{i}", m) for i, m in enumerate(members))]:
            self._check_serves(field, inspector_id, inspectors.get(inspector_id))
        if leader_id not in members:
            members.insert(0, leader_id)
        for inspector_id in members:
            if self.target_id in ties.get(inspector_id, ()):
                raise RuleViolation(
                    f"inspector {inspector_id} has a declared tie to {self.target_name} and must recuse (回避)",
                    field="member_ids",
                    rule="recusal",
                    inspector_id=inspector_id,
                )
        self._team_assigned(
            leader_id=leader_id, member_ids=members, **self._against_the_draw(members, deviation_reason)
        )

    def _against_the_draw(self, members: list[str], reason: str | None) -> dict[str, str | None]:
        """`drawn_by` when the team is the drawn one; else, for an activity from a draw, the admin's reason to deviate."""
        if self.draw_id is None:
            return {"drawn_by": None, "deviation_reason": None}
        if set(members) == set(self.drawn_team or ()):
            return {"drawn_by": self.draw_id, "deviation_reason": None}
        if not (reason or "").strip():
            raise RuleViolation(
                f"the draw {self.draw_id} picked {', '.join(self.drawn_team or ())} for {self.target_name}; another team"
                " needs deviation_reason, an admin's reason that the draw's public verification shows",
                field="deviation_reason",
                rule="drawn_team_binds",
                drawn_team=self.drawn_team,
            )
        return {"drawn_by": None, "deviation_reason": require_name(reason or "", "deviation_reason")}

    def _check_serves(self, field: str, inspector_id: str, inspector: Mapping[str, Any] | None) -> None:
        if inspector is None:
            raise InvalidInput(
                f"no inspector {inspector_id} is in the registry (one registered a moment ago arrives within seconds)",
                field=field,
                rule="unknown_inspector",
            )
        if inspector["status"] != "active":
            raise RuleViolation(
                f"inspector {inspector['name']} is {inspector['status']}; only an active inspector (聘任、备案、激活) serves on a team",
                field=field,
                rule="inspector_not_active",
                inspector_id=inspector_id,
            )
        if not (
            divisions.contains(inspector["jurisdiction"], self.jurisdiction)
            or inspector.get("filed_with") == self.jurisdiction
        ):
            raise RuleViolation(
                f"inspector {inspector['name']} serves {inspector['jurisdiction']}, which does not contain {self.jurisdiction},"
                f" and is not filed with its office",
                field=field,
                rule="inspector_out_of_jurisdiction",
                inspector_id=inspector_id,
                inspector_jurisdiction=inspector["jurisdiction"],
                activity_jurisdiction=self.jurisdiction,
            )

    @event("TeamAssigned")
    def _team_assigned(
        self, leader_id: str, member_ids: list[str], drawn_by: str | None, deviation_reason: str | None = None
    ) -> None:
        self.status = Status.team_assigned
        self.leader_id, self.member_ids, self.drawn_by = leader_id, list(member_ids), drawn_by
        self.deviation_reason = deviation_reason

    def notify(self, *, notified_on: date, today: date) -> None:
        """Send the supervision notice (督导通知) to the unit."""
        self._check("notify")
        self._notified(notified_on=happened(notified_on, "notified_on", today=today))

    @event("Notified")
    def _notified(self, notified_on: date) -> None:
        self.status, self.notified_on = Status.notified, notified_on

    # --- self-evaluation and site visit ---------------------------------------------------------------------

    def submit_self_evaluation(
        self, *, items: list[dict], evidence: list[dict], submitted_by: str, now: datetime
    ) -> None:
        """The unit's self-evaluation (自查自评): a score per item, and the evidence files it rests on."""
        if not self.needs_self_evaluation:
            raise RuleViolation(
                f"a {self.kind.value} activity has no self-evaluation", field="kind", rule="no_self_evaluation_for_kind"
            )
        self._check("submit_self_evaluation")
        if not items:
            raise InvalidInput("a self-evaluation needs at least one item", field="items", rule="non_empty")
        self._self_evaluation_submitted(
            items=[records.scored_item(item, i) for i, item in enumerate(items)],
            evidence=[records.evidence_record(file, i) for i, file in enumerate(evidence)],
            submitted_by=require_name(submitted_by, "submitted_by"),
            submitted_at=now,
        )

    @event("SelfEvaluationSubmitted")
    def _self_evaluation_submitted(
        self, items: list[dict], evidence: list[dict], submitted_by: str, submitted_at: datetime
    ) -> None:
        self.status = Status.self_evaluation_submitted
        self.self_evaluation = {
            "items": items,
            "evidence": evidence,
            "submitted_by": submitted_by,
            "submitted_at": submitted_at,
        }

    def start_on_site(self, *, on: date, today: date) -> None:
        """The team arrives for the site visit (实地督导), after the notice."""
        self._check("start_on_site")
        self._on_site_started(on=happened(on, "on", today=today, after=self.notified_on, after_what="the notice"))

    @event("OnSiteStarted")
    def _on_site_started(self, on: date) -> None:
        self.status, self.on_site_from = Status.on_site, on

    def record_findings(self, *, findings: list[dict], now: datetime) -> None:
        """Problems found (发现问题), each with its area, severity and whether it must be rectified.

        An empty list records a visit that found nothing.
        """
        self._check("record_findings")
        checked = [records.finding(raw, i) for i, raw in enumerate(findings)]
        seen = {f["finding_id"] for f in self._findings}
        for i, finding in enumerate(checked):
            if finding["finding_id"] in seen:
                raise RuleViolation(
                    f"finding {finding['finding_id']} is already recorded",
                    field=f"findings.{i}.finding_id",
                    rule="finding_exists",
                    finding_id=finding["finding_id"],
                )
            seen.add(finding["finding_id"])
        self._findings_recorded(findings=checked, recorded_at=now)

    @event("FindingsRecorded")
    def _findings_recorded(self, findings: list[dict], recorded_at: datetime) -> None:
        self.status = Status.findings_recorded
        self._findings.extend(
            {**f, "area": FindingArea(f["area"]), "severity": Severity(f["severity"])} for f in findings
        )

    # --- report -------------------------------------------------------------------------------------------

    def draft_report(
        self,
        *,
        summary: str,
        grade: str | None = None,
        now: datetime,
        score: float | None = None,
        grade_basis: str | None = None,
    ) -> None:
        """Draft the supervision report (督导报告); a duty evaluation also gives the unit its score and grade.

        `grade_basis` names the policy profile version whose bands turned the score into the grade.
        """
        self._check("draft_report")
        grade = (grade or "").strip() or None
        if self.kind is K.duty_evaluation and grade is None:
            raise RuleViolation(
                "a duty evaluation report must grade the unit", field="grade", rule="grade_required_for_duty_evaluation"
            )
        if self.kind is not K.duty_evaluation and grade is not None:
            raise RuleViolation(
                f"only a duty evaluation is graded, not {self.kind.value}",
                field="grade",
                rule="grade_only_for_duty_evaluation",
            )
        self._report_drafted(
            summary=require_name(summary, "summary"),
            grade=choice(Grade, grade, "grade").value if grade else None,
            drafted_at=now,
            score=score,
            grade_basis=grade_basis,
        )

    @event("ReportDrafted")
    def _report_drafted(
        self,
        summary: str,
        grade: str | None,
        drafted_at: datetime,
        score: float | None = None,
        grade_basis: str | None = None,
    ) -> None:
        self.status, self.report_summary, self.grade = Status.report_drafted, summary, grade

    def approve_report(self, *, approved_by: str, now: datetime) -> None:
        """Approval (审定) of the drafted report."""
        self._check("approve_report")
        self._report_approved(approved_by=require_name(approved_by, "approved_by"), approved_at=now)

    @event("ReportApproved")
    def _report_approved(self, approved_by: str, approved_at: datetime) -> None:
        self.status, self.approved_by = Status.report_approved, approved_by

    def issue_report(self, *, issued_on: date, now: datetime) -> None:
        """Issue (印发) the report to the unit; this opens rectification (整改) of every finding that needs it."""
        self._check("issue_report")
        happened(issued_on, "issued_on", today=china_date(now), after=self.on_site_from, after_what="the site visit")
        self._report_issued(
            jurisdiction=self.jurisdiction,
            kind=self.kind.value,
            topic=self.topic.value if self.topic else None,
            title=self.title,
            period=self.period,
            target_kind=self.target_kind.value,
            target_id=self.target_id,
            target_name=self.target_name,
            grade=self.grade,
            findings=[records.plain(f) for f in self._findings if f["needs_rectification"]],
            issued_on=issued_on,
            issued_at=now,
        )

    @event("ReportIssued")
    def _report_issued(
        self,
        jurisdiction: str,
        kind: str,
        topic: str | None,
        title: str,
        period: str,
        target_kind: str,
        target_id: str,
        target_name: str,
        grade: str | None,
        findings: list[dict],
        issued_on: date,
        issued_at: datetime,
    ) -> None:
        self.status, self.issued_on = Status.report_issued, issued_on

    def record_member_units(self, *, unit_names: list[str], year: int) -> None:
        """Committee member units (成员单位) that took part; the registry counts each unit's activities per year."""
        names = sorted({require_name(n, "unit_names") for n in unit_names} - set(self.member_units))
        if not 2000 <= year <= 2100:
            raise InvalidInput("year must be between 2000 and 2100", field="year", rule="year_range")
        if names:
            self._member_units_participated(jurisdiction=self.jurisdiction, unit_names=names, year=year)

    @event("MemberUnitsParticipated")
    def _member_units_participated(self, jurisdiction: str, unit_names: list[str], year: int) -> None:
        self.member_units = [*self.member_units, *unit_names]

    def publish(self, *, public_summary: str, now: datetime) -> None:
        """Publish the report to the public (公开, DOMAIN §6.1)."""
        self._check("publish")
        self._published(public_summary=require_name(public_summary, "public_summary"), published_at=now)

    @event("Published")
    def _published(self, public_summary: str, published_at: datetime) -> None:
        self.status, self.public_summary = Status.published, public_summary
