"""Accountability application: rectification cases, their deadlines and escalations, and the measures
(interviews, circulars, accountability decisions, commendations) that make results bite."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from dudao import blobs
from dudao.callers import Role
from dudao.clock import end_of_china_day
from dudao.commands import Caller
from dudao.errors import Conflict, NotFound
from dudao.events import Envelope, to_jsonable
from dudao.profiles import Effective
from dudao.scope import Target, authorize
from dudao.store import ServiceApplication, event_name
from services.accountability.commands import (
    AcceptItem,
    ChangeDeadline,
    Commend,
    Decide,
    FileInterview,
    GiveFeedback,
    IssueCircular,
    ProposeCircular,
    ProposeInterview,
    PublishOutcome,
    PublishStatement,
    RecheckItem,
    RecordInterview,
    RecordJointLiability,
    RejectItem,
    ReportItem,
    Transfer,
    Unit,
)
from services.accountability.domain.case import RectificationCase
from services.accountability.domain.measures import (
    AccountabilityDecision,
    Circular,
    Commendation,
    Interview,
    escalation_id,
)
from services.accountability.domain.terms import CircularTrigger, InterviewTrigger

M = TypeVar("M", bound=Aggregate)
SWEEPER = "dudao-deadline-sweeper"
# Which measure each rung of the profile's escalation ladder proposes, and on which trigger of its closed list.
LADDER = (("interview", "interview_at_lapse"), ("circular", "circular_at_lapse"))


def _target(subject: Any) -> Target:
    """Where a case or measure sits, for the scope rules: its place and the unit it concerns."""
    return Target(subject.jurisdiction, unit=subject.unit_id)


class Accountability(ServiceApplication):
    """The accountability service's write side (event store in schema `accountability`)."""

    service = "accountability"

    # --- rectification cases: the office's feedback, deadlines and verdicts, the unit's reports and statement -------

    def give_feedback(self, command: GiveFeedback, caller: Caller) -> RectificationCase:
        def apply(case: RectificationCase) -> None:
            profile = self.profile_at(case.jurisdiction, "rectification_days")
            case.give_feedback(
                mode=command.mode,
                decision=command.decision,
                requirements=command.requirements,
                deadlines=command.deadlines,
                default_deadline=command.given_on + timedelta(days=profile.get("rectification_days")),
                deadline_basis=profile.version,
                given_on=command.given_on,
                today=command.today,
            )

        return self._on_case(command.case_id, caller, apply)

    def change_deadline(self, command: ChangeDeadline, caller: Caller) -> RectificationCase:
        return self._on_case(
            command.case_id,
            caller,
            lambda case: case.change_deadline(
                item_id=command.item_id, deadline=command.deadline, reason=command.reason, today=command.today
            ),
        )

    def accept_item(self, command: AcceptItem, caller: Caller) -> RectificationCase:
        """Accept (验收) a reported item; its re-check falls due after the profile's interval."""

        def apply(case: RectificationCase) -> None:
            days = self.profile_at(case.jurisdiction, "recheck_after_days").get("recheck_after_days")
            case.accept_item(
                item_id=command.item_id, accepted_on=command.today, recheck_due=command.today + timedelta(days=days)
            )

        return self._on_case(command.case_id, caller, apply)

    def reject_item(self, command: RejectItem, caller: Caller) -> RectificationCase:
        return self._on_case(
            command.case_id,
            caller,
            lambda case: case.reject_item(item_id=command.item_id, reason=command.reason, rejected_on=command.today),
        )

    def recheck_item(self, command: RecheckItem, caller: Caller) -> RectificationCase:
        """A failed re-check reopens the item as a rebound (反弹), to fix within its own or the profile's period."""

        def apply(case: RectificationCase) -> None:
            days = command.rectify_within_days
            if not command.passed and days is None:
                days = self.profile_at(case.jurisdiction, "rectification_days").get("rectification_days")
            case.recheck_item(
                item_id=command.item_id,
                passed=command.passed,
                rechecked_on=command.today,
                note=command.note,
                new_deadline=None if command.passed else command.today + timedelta(days=days),
            )

        return self._on_case(command.case_id, caller, apply)

    def report_item(self, command: ReportItem, caller: Caller) -> RectificationCase:
        """The unit's report; its evidence is stored only once the caller is admitted and every file is checked."""

        def apply(case: RectificationCase) -> None:
            stored = blobs.save_uploads(self.blobs, command.evidence, max_bytes=self.settings.blob_max_bytes)
            case.report_item(
                item_id=command.item_id, statement=command.statement, evidence=stored, reported_on=command.today
            )

        return self._on_case(command.case_id, caller, apply, unit=True)

    def publish_statement(self, command: PublishStatement, caller: Caller) -> RectificationCase:
        return self._on_case(
            command.case_id,
            caller,
            lambda case: case.publish_statement(text=command.text, published_on=command.today),
            unit=True,
        )

    def _on_case(
        self, case_id: UUID, caller: Caller, apply: Callable[[RectificationCase], Any], *, unit: bool = False
    ) -> RectificationCase:
        """Offices over the case's place act on it; with `unit`, the unit it concerns too."""
        roles = (Role.unit, Role.admin) if unit else (Role.admin,)
        return self.change(
            case_id,
            RectificationCase,
            caller.expected_version,
            caller.envelope,
            apply,
            lambda case: authorize(caller.principal, _target(case), roles, write=True),
        )

    # --- measures: interviews, circulars, decisions, commendations --------------------------------------------------

    def propose_interview(self, command: ProposeInterview, caller: Caller) -> Interview:
        self._admit_to_unit(caller, command.unit)
        measure = Interview.propose(
            id=caller.made_id,
            **command.unit.as_dict(),
            trigger=command.trigger,
            reason=command.reason,
            proposed_on=command.today,
            case_id=command.case_id,
            related_departments=command.related_departments,
        )
        return self.save_new(measure, caller.envelope)

    def record_interview(self, command: RecordInterview, caller: Caller) -> Interview:
        return self._on_measure(
            command.measure_id,
            Interview,
            caller,
            lambda interview: interview.record(
                held_on=command.held_on,
                interviewees=command.interviewees,
                record=command.record,
                commitments=command.commitments,
                today=command.today,
                early_reason=command.early_reason,
            ),
        )

    def file_interview(self, command: FileInterview, caller: Caller) -> Interview:
        """File the record with the party committee, government and superiors; afterwards it cannot change."""
        return self._on_measure(
            command.measure_id,
            Interview,
            caller,
            lambda interview: interview.file(
                filed_with=command.filed_with, filed_on=command.filed_on, today=command.today
            ),
        )

    def propose_circular(self, command: ProposeCircular, caller: Caller) -> Circular:
        self._admit_to_unit(caller, command.unit)
        measure = Circular.propose(
            id=caller.made_id,
            **command.unit.as_dict(),
            trigger=command.trigger,
            reason=command.reason,
            proposed_on=command.today,
            case_id=command.case_id,
        )
        return self.save_new(measure, caller.envelope)

    def issue_circular(self, command: IssueCircular, caller: Caller) -> Circular:
        def apply(circular: Circular) -> None:
            profile = self.profile_at(circular.jurisdiction, "restriction_days")
            circular.issue(
                recipients=command.recipients,
                leaders=command.leaders,
                content=command.content,
                issued_on=command.today,
                restriction_days=profile.get("restriction_days"),
                basis=profile.version,
            )

        return self._on_measure(command.measure_id, Circular, caller, apply)

    def decide(self, command: Decide, caller: Caller) -> AccountabilityDecision:
        self._admit_to_unit(caller, command.unit)
        measure = AccountabilityDecision.decide(
            id=caller.made_id,
            **command.unit.as_dict(),
            private_school=command.private_school,
            trigger=command.trigger,
            reason=command.reason,
            people=command.people,
            unit_actions=command.unit_actions,
            sanctions=command.sanctions,
            decided_on=command.today,
            circular_id=command.circular_id,
            case_id=command.case_id,
        )
        return self.save_new(measure, caller.envelope)

    def transfer(self, command: Transfer, caller: Caller) -> AccountabilityDecision:
        return self._on_measure(
            command.measure_id,
            AccountabilityDecision,
            caller,
            lambda decision: decision.transfer(
                to=command.to,
                conduct=command.conduct,
                receiving_body=command.receiving_body,
                case_reference=command.case_reference,
                transferred_on=command.today,
            ),
        )

    def record_joint_liability(self, command: RecordJointLiability, caller: Caller) -> AccountabilityDecision:
        """Joint liability needs the cited case's rectification to have failed; the case must exist."""

        def apply(decision: AccountabilityDecision) -> None:
            failed = False
            if decision.case_id is not None:
                try:
                    failed = self.get(decision.case_id, RectificationCase).rectification_failed
                except NotFound:
                    raise Conflict(
                        f"the cited case {decision.case_id} does not exist", field="case_id", rule="case_not_found"
                    ) from None
            decision.record_joint_liability(
                superior_department=command.superior_department,
                reason=command.reason,
                case_failed=failed,
                recorded_on=command.today,
            )

        return self._on_measure(command.measure_id, AccountabilityDecision, caller, apply)

    def commend(self, command: Commend, caller: Caller) -> Commendation:
        """A leader a circular restricts today may not be commended (409 leader_restricted)."""
        self._admit_to_unit(caller, command.unit)
        measure = Commendation.award(
            id=caller.made_id,
            **command.unit.as_dict(),
            people=command.people,
            reason=command.reason,
            awarded_on=command.today,
            restricted=set(command.restricted),
            activity_id=command.activity_id,
        )
        return self.save_new(measure, caller.envelope)

    def publish_outcome(self, command: PublishOutcome, caller: Caller) -> Aggregate:
        """Publish what the public is told; publishing again corrects it (a new public version)."""
        return self._on_measure(
            command.measure_id,
            command.kind,
            caller,
            lambda measure: measure.publish(public_text=command.public_text, published_on=command.today),
        )

    @staticmethod
    def _admit_to_unit(caller: Caller, unit: Unit) -> None:
        """Offices over the unit's place propose or decide a measure about it: checked before the measure is made."""
        authorize(
            caller.principal, Target(unit.jurisdiction, unit=unit.unit_id), (Role.admin,), write=True, field="unit_id"
        )

    def _on_measure(self, measure_id: UUID, kind: type[M], caller: Caller, apply: Callable[[M], Any]) -> M:
        """Offices over the measure's place take its later steps."""
        return self.change(
            measure_id,
            kind,
            caller.expected_version,
            caller.envelope,
            apply,
            lambda measure: authorize(caller.principal, _target(measure), (Role.admin,), write=True),
        )

    # --- durable deadlines -------------------------------------------------------------------------------------

    def notice_overdue(
        self, case_id: UUID, item_id: str, lapse: int, today: date, profile: Effective
    ) -> RectificationCase:
        """Issue the supervision notice (督办单) for lapse `lapse` of an item, and climb the profile's ladder.

        Once per lapse, whoever calls: the idempotency key names the lapse, the aggregate refuses a
        lapse already noticed, and two sweepers racing lose one transaction to the event store's
        version check. The interview or circular an escalation proposes is saved in the same transaction.
        """
        key = f"notice:{case_id}:{item_id}:{lapse}"
        envelope = Envelope.for_request(
            actor=SWEEPER,
            jurisdiction=profile.jurisdiction,
            idempotency_key=key,
            request_hash=hashlib.sha256(key.encode()).hexdigest(),
        )

        days = profile.get("notice_days")
        if days is None:
            raise Conflict(
                f"the policy profile at {profile.jurisdiction} has no notice_days",
                field="notice_days",
                rule="policy_key_missing",
            )

        def command(case: RectificationCase) -> list[Aggregate]:
            case.issue_notice(
                item_id=item_id,
                today=today,
                new_deadline=today + timedelta(days=days),
                basis=profile.version,
                lapse=lapse,
            )
            proposed: list[Aggregate] = []
            for step, key in LADDER:
                if profile.get(key) != lapse:
                    continue
                measure_id = escalation_id(case.id, step)
                if not self.exists(measure_id):
                    proposed.append(self._propose(step, measure_id, case, item_id, lapse, today))
                case.escalate(item_id=item_id, lapse=lapse, step=step, measure_id=measure_id, basis=profile.version)
            return proposed

        return self.change(case_id, RectificationCase, None, envelope, command)

    @staticmethod
    def _propose(
        step: str, measure_id: UUID, case: RectificationCase, item_id: str, lapse: int, today: date
    ) -> Aggregate:
        unit = {
            "jurisdiction": case.jurisdiction,
            "unit_kind": case.unit_kind,
            "unit_id": case.unit_id,
            "unit_name": case.unit_name,
        }
        reason = f"整改事项 {item_id} 第{lapse}次逾期未整改到位（{case.activity_title}）"
        if step == "interview":
            return Interview.propose(
                id=measure_id,
                **unit,
                trigger=InterviewTrigger.duties_not_fulfilled,
                reason=reason,
                proposed_on=today,
                case_id=case.id,
            )
        return Circular.propose(
            id=measure_id,
            **unit,
            trigger=CircularTrigger.ineffective,
            reason=reason,
            proposed_on=today,
            case_id=case.id,
        )

    # --- history ------------------------------------------------------------------------------------------------

    def history(self, aggregate_id: UUID) -> list[dict[str, Any]]:
        """Every event of an aggregate: who, what, when, why, and under which profile version."""
        entries = []
        for event in self.events.get(aggregate_id):
            state = dict(vars(event))
            envelope = state.pop("envelope", {})
            for private in ("originator_id", "originator_version", "timestamp"):
                state.pop(private, None)
            entries.append(
                {
                    "version": event.originator_version,
                    "event": event_name(type(event).__qualname__)[1],
                    "at": event.timestamp,
                    "actor": envelope.get("actor"),
                    "why": state.get("reason") or state.get("note") or state.get("decision"),
                    "profile_version": state.get("basis") or state.get("deadline_basis"),
                    "correlation_id": envelope.get("correlation_id"),
                    "data": to_jsonable(state),
                }
            )
        if not entries:
            raise NotFound(f"no record with id {aggregate_id}", field="id")
        return entries

    def as_of(self, case_id: UUID, day: date) -> RectificationCase:
        """The case as it stood at the end of `day` in China."""
        cutoff = end_of_china_day(day)
        version = None
        for event in self.events.get(case_id):
            if event.timestamp > cutoff:
                break
            version = event.originator_version
        if version is None:
            self.get(case_id, RectificationCase)  # 404 when there is no such case at all
            raise NotFound(f"case {case_id} was not yet opened on {day}", field="as_of", rule="not_yet_opened")
        case = self.repository.get(case_id, version=version)
        assert isinstance(case, RectificationCase)
        return case
