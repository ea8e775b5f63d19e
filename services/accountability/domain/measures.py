"""The measures that make results bite beyond rectification (DOMAIN §6.5–6.8): each a small state machine.

- Interview (约谈): proposed → recorded → filed; immutable once filed.
- Circular (通报): proposed → issued → published; issuing flags the unit's leaders for a profile period.
- Accountability decision (问责): decided → published; sanctions on private schools go to the registry,
  illegal conduct is transferred, a superior department's joint liability is recorded.
- Commendation (表彰): awarded → published.

An escalation from a rectification case proposes the interview or circular with an id that follows
from the case and the step, so however often the sweeper runs there is one of each.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from dudao import jurisdiction as divisions
from dudao.errors import InvalidInput
from dudao.rules import Labelled, RuleViolation, check_transition, choice, happened, require_name, text
from services.accountability.domain.terms import (
    GRAVEST,
    AccountabilityTrigger,
    CircularTrigger,
    Conduct,
    InterviewTrigger,
    PersonAction,
    Sanction,
    TransferTo,
    UnitKind,
    bodies,
    named_people,
    organisers_for,
)


def escalation_id(case: UUID, step: str) -> UUID:
    """One interview and one circular per rectification case, whichever item or sweep escalates first."""
    return uuid5(NAMESPACE_URL, f"dudao:escalation:{case}:{step}")


class Unit:
    """The supervised unit a measure is about; shared by every measure."""

    jurisdiction: str
    unit_kind: str
    unit_id: str
    unit_name: str

    @staticmethod
    def checked(jurisdiction: str, unit_kind: Any, unit_id: str, unit_name: str) -> dict[str, str]:
        if not divisions.is_valid_code(jurisdiction):
            raise InvalidInput(f"{jurisdiction!r} is not a division code", field="jurisdiction", rule="division_code")
        return {
            "jurisdiction": jurisdiction,
            "unit_kind": choice(UnitKind, unit_kind, "unit_kind").value,
            "unit_id": require_name(unit_id, "unit_id"),
            "unit_name": require_name(unit_name, "unit_name"),
        }

    def _unit(self, d: dict[str, str]) -> None:
        self.jurisdiction, self.unit_kind, self.unit_id, self.unit_name = (
            d["jurisdiction"],
            d["unit_kind"],
            d["unit_id"],
            d["unit_name"],
        )


# --- interview (约谈) -------------------------------------------------------------------------------------


class InterviewStatus(Labelled):
    proposed = "proposed", "拟约谈"
    recorded = "recorded", "已约谈"
    filed = "filed", "已备案"


INTERVIEW_TRANSITIONS = {"record": frozenset({InterviewStatus.proposed}), "file": frozenset({InterviewStatus.recorded})}


class Interview(Unit, Aggregate):
    """An interview (约谈) of a unit's leaders, organised jointly, recorded in writing and filed."""

    @event("Proposed")
    def __init__(
        self,
        *,
        unit: dict[str, str],
        trigger: str,
        reason: str,
        organisers: list[str],
        related_departments: list[str],
        case_id: UUID | None,
        proposed_on: date,
    ):
        self._unit(unit)
        self.trigger, self.reason, self.case_id = trigger, reason, case_id
        self.organisers, self.related_departments = organisers, related_departments
        self.proposed_on = proposed_on
        self.status = InterviewStatus.proposed
        self.written_record: dict[str, Any] | None = None
        self.filing: dict[str, Any] | None = None

    @classmethod
    def propose(
        cls,
        *,
        id: UUID,
        jurisdiction: str,
        unit_kind: str,
        unit_id: str,
        unit_name: str,
        trigger: Any,
        reason: str,
        proposed_on: date,
        case_id: UUID | None = None,
        related_departments: list[str] | None = None,
    ) -> Interview:
        """Propose an interview for a trigger from the closed list; the organisers follow from the unit's kind."""
        unit = Unit.checked(jurisdiction, unit_kind, unit_id, unit_name)
        related = [text(d, f"related_departments.{i}") for i, d in enumerate(related_departments or [])]
        if related and unit["unit_kind"] == UnitKind.school:
            raise InvalidInput(
                "an interview of a school is organised with the education bureau only",
                field="related_departments",
                rule="school_organisers",
            )
        return cls._create(
            cls.Proposed,
            id=id,
            unit=unit,
            trigger=choice(InterviewTrigger, trigger, "trigger").value,
            reason=require_name(reason, "reason"),
            organisers=organisers_for(UnitKind(unit["unit_kind"])),
            related_departments=related,
            case_id=case_id,
            proposed_on=proposed_on,
        )

    def record(
        self,
        *,
        held_on: date,
        interviewees: Any,
        record: str,
        commitments: str,
        today: date,
        early_reason: str | None = None,
    ) -> None:
        """The written record (书面记录) of the interview: who was interviewed, what was said and promised. One held
        before it was formally proposed (it happens: the meeting came first, the record follows) needs `early_reason`."""
        check_transition("interview", INTERVIEW_TRANSITIONS, "record", self.status)
        early = (early_reason or "").strip() or None
        happened(
            held_on,
            "held_on",
            today=today,
            after=None if early else self.proposed_on,
            after_what="the interview was proposed; if it was held first, give early_reason",
        )
        self._recorded(
            held_on=held_on,
            interviewees=named_people(interviewees, "interviewees"),
            record=require_name(record, "record"),
            commitments=require_name(commitments, "commitments"),
            early_reason=early if held_on < self.proposed_on else None,
        )

    @event("Recorded")
    def _recorded(
        self, held_on: date, interviewees: list[dict], record: str, commitments: str, early_reason: str | None = None
    ) -> None:
        self.status = InterviewStatus.recorded
        self.written_record = {
            "held_on": held_on,
            "interviewees": interviewees,
            "record": record,
            "commitments": commitments,
            "early_reason": early_reason,
        }

    def file(self, *, filed_with: Any, filed_on: date, today: date) -> None:
        """File the record with the party committee, the government and the superiors; then nothing changes it."""
        check_transition("interview", INTERVIEW_TRANSITIONS, "file", self.status)
        assert self.written_record is not None
        happened(
            filed_on, "filed_on", today=today, after=self.written_record["held_on"], after_what="the interview was held"
        )
        self._filed(filed_with=bodies(filed_with, "filed_with"), filed_on=filed_on)

    @event("Filed")
    def _filed(self, filed_with: list[str], filed_on: date) -> None:
        self.status = InterviewStatus.filed
        self.filing = {"filed_with": filed_with, "filed_on": filed_on}


# --- circular (通报) ---------------------------------------------------------------------------------------


class CircularStatus(Labelled):
    proposed = "proposed", "拟通报"
    issued = "issued", "已通报"
    published = "published", "已公开"


CIRCULAR_TRANSITIONS = {
    "issue": frozenset({CircularStatus.proposed}),
    "publish": frozenset(
        {CircularStatus.issued, CircularStatus.published}
    ),  # again: a correction, a new public version
}


class Circular(Unit, Aggregate):
    """A circular (通报) of a unit's results and rectification; its leaders are then restricted for a period."""

    @event("Proposed")
    def __init__(self, *, unit: dict[str, str], trigger: str, reason: str, case_id: UUID | None, proposed_on: date):
        self._unit(unit)
        self.trigger, self.reason, self.case_id, self.proposed_on = trigger, reason, case_id, proposed_on
        self.status = CircularStatus.proposed
        self.public_versions = 0  # published, then corrected: each publication a new public version
        self.recipients: list[str] = []
        self.leaders: list[dict[str, str]] = []
        self.restricted_until: date | None = None

    @classmethod
    def propose(
        cls,
        *,
        id: UUID,
        jurisdiction: str,
        unit_kind: str,
        unit_id: str,
        unit_name: str,
        trigger: Any,
        reason: str,
        proposed_on: date,
        case_id: UUID | None = None,
    ) -> Circular:
        return cls._create(
            cls.Proposed,
            id=id,
            unit=Unit.checked(jurisdiction, unit_kind, unit_id, unit_name),
            trigger=choice(CircularTrigger, trigger, "trigger").value,
            reason=require_name(reason, "reason"),
            case_id=case_id,
            proposed_on=proposed_on,
        )

    def issue(
        self, *, recipients: Any, leaders: Any, content: str, issued_on: date, restriction_days: int, basis: str
    ) -> None:
        """Circulate to the party committee, government and superiors; the named leaders may not be commended,
        promoted or moved to key posts until the end of the profile's period (`basis` names its version)."""
        check_transition("circular", CIRCULAR_TRANSITIONS, "issue", self.status)
        if issued_on < self.proposed_on:
            raise InvalidInput(
                f"issued_on is before the circular was proposed ({self.proposed_on})",
                field="issued_on",
                rule="date_order",
            )
        self._issued(
            recipients=bodies(recipients, "recipients"),
            leaders=named_people(leaders, "leaders"),
            content=require_name(content, "content"),
            issued_on=issued_on,
            restricted_until=issued_on + timedelta(days=restriction_days),
            basis=require_name(basis, "basis"),
        )

    @event("Issued")
    def _issued(
        self,
        recipients: list[str],
        leaders: list[dict],
        content: str,
        issued_on: date,
        restricted_until: date,
        basis: str,
    ) -> None:
        self.status = CircularStatus.issued
        self.recipients, self.leaders, self.restricted_until = recipients, leaders, restricted_until
        self.content, self.issued_on = content, issued_on

    def publish(self, *, public_text: str, published_on: date) -> None:
        check_transition("circular", CIRCULAR_TRANSITIONS, "publish", self.status)
        self._published(
            public_text=require_name(public_text, "public_text"),
            published_on=published_on,
            public_version=self.public_versions + 1,
        )

    @event("Published")
    def _published(self, public_text: str, published_on: date, public_version: int = 1) -> None:
        self.status, self.public_versions = CircularStatus.published, public_version


# --- accountability (问责) ---------------------------------------------------------------------------------


class DecisionStatus(Labelled):
    decided = "decided", "已作出"
    published = "published", "已公开"


DECISION_TRANSITIONS = {
    "transfer": frozenset({DecisionStatus.decided}),
    "record_joint_liability": frozenset({DecisionStatus.decided}),
    "publish": frozenset({DecisionStatus.decided, DecisionStatus.published}),  # again: a correction
}


def sanction_ref(decision: UUID) -> str:
    """How the registry cites the decision behind a sanction on a school."""
    return f"accountability-decision:{decision}"


class AccountabilityDecision(Unit, Aggregate):
    """Holding a unit and named people to account (问责), with sanctions on private schools."""

    @event("Decided")
    def __init__(
        self,
        *,
        unit: dict[str, str],
        trigger: str,
        reason: str,
        people: list[dict],
        unit_actions: list[str],
        sanctions: list[str],
        circular_id: UUID | None,
        case_id: UUID | None,
        decided_on: date,
    ):
        self._unit(unit)
        self.trigger, self.reason, self.people, self.unit_actions = trigger, reason, people, unit_actions
        self.sanctions, self.circular_id, self.case_id, self.decided_on = sanctions, circular_id, case_id, decided_on
        self.status = DecisionStatus.decided
        self.public_versions = 0  # published, then corrected: each publication a new public version
        self.transfers: list[dict[str, Any]] = []
        self.joint_liability: list[dict[str, Any]] = []

    @classmethod
    def decide(
        cls,
        *,
        id: UUID,
        jurisdiction: str,
        unit_kind: str,
        unit_id: str,
        unit_name: str,
        private_school: bool,
        trigger: Any,
        reason: str,
        people: Any,
        unit_actions: Any,
        sanctions: Any,
        decided_on: date,
        circular_id: UUID | None = None,
        case_id: UUID | None = None,
    ) -> AccountabilityDecision:
        """Decide; each sanction on a private school also becomes a `SanctionImposed` event for the registry."""
        unit = Unit.checked(jurisdiction, unit_kind, unit_id, unit_name)
        trigger = choice(AccountabilityTrigger, trigger, "trigger")
        named = [
            {**person, "action": choice(PersonAction, raw.get("action"), f"people.{i}.action").value}
            for i, (person, raw) in enumerate(zip(named_people(people, "people", required=False), people, strict=True))
        ]
        if not isinstance(unit_actions, list) or not isinstance(sanctions, list):
            raise InvalidInput("unit_actions and sanctions must be lists", field="sanctions", rule="list")
        actions = [text(a, f"unit_actions.{i}") for i, a in enumerate(unit_actions)]
        chosen = [choice(Sanction, s, f"sanctions.{i}") for i, s in enumerate(sanctions)]
        if len(set(chosen)) != len(chosen):
            raise InvalidInput("a sanction is listed twice", field="sanctions", rule="unique")
        if chosen and not (unit["unit_kind"] == UnitKind.school and private_school):
            raise RuleViolation(
                "enrolment, head and licence sanctions apply to private schools (民办学校) only",
                field="sanctions",
                rule="sanction_private_only",
            )
        if Sanction.revoke_licence in chosen and trigger not in GRAVEST:
            raise RuleViolation(
                f"a licence is revoked only for {', '.join(sorted(GRAVEST))}, not {trigger.value}",
                field="sanctions",
                rule="revocation_needs_gravest_trigger",
            )
        if not (named or actions or chosen or trigger is AccountabilityTrigger.illegal_conduct_found):
            raise InvalidInput(
                "a decision names people, actions on the unit or sanctions", field="people", rule="nothing_decided"
            )
        decision = cls._create(
            cls.Decided,
            id=id,
            unit=unit,
            trigger=trigger.value,
            reason=require_name(reason, "reason"),
            people=named,
            unit_actions=actions,
            sanctions=[s.value for s in chosen],
            circular_id=circular_id,
            case_id=case_id,
            decided_on=decided_on,
        )
        for sanction in chosen:
            decision._sanction_imposed(
                school_id=unit["unit_id"], sanction=sanction.value, sanction_ref=sanction_ref(id)
            )
        return decision

    @event("SanctionImposed")
    def _sanction_imposed(self, school_id: str, sanction: str, sanction_ref: str) -> None:
        pass

    def transfer(
        self, *, to: Any, conduct: Any, receiving_body: str, case_reference: str, transferred_on: date
    ) -> None:
        """Transfer illegal conduct to law enforcement (移交执法部门), or a suspected crime to the judiciary."""
        check_transition("decision", DECISION_TRANSITIONS, "transfer", self.status)
        to, conduct = choice(TransferTo, to, "to"), choice(Conduct, conduct, "conduct")
        if (to is TransferTo.judiciary) != (conduct is Conduct.suspected_crime):
            raise RuleViolation(
                "a suspected crime goes to the judiciary; other illegal conduct to law enforcement",
                field="to",
                rule="transfer_body",
            )
        self._transferred(
            to=to.value,
            conduct=conduct.value,
            receiving_body=require_name(receiving_body, "receiving_body"),
            case_reference=require_name(case_reference, "case_reference"),
            transferred_on=transferred_on,
        )

    @event("Transferred")
    def _transferred(
        self, to: str, conduct: str, receiving_body: str, case_reference: str, transferred_on: date
    ) -> None:
        self.transfers.append(
            {
                "to": to,
                "conduct": conduct,
                "receiving_body": receiving_body,
                "case_reference": case_reference,
                "transferred_on": transferred_on,
            }
        )

    def record_joint_liability(
        self, *, superior_department: str, reason: str, case_failed: bool, recorded_on: date
    ) -> None:
        """The department over the unit shares liability when the unit's rectification failed (连带责任, 000 §9)."""
        check_transition("decision", DECISION_TRANSITIONS, "record_joint_liability", self.status)
        if self.case_id is None or not case_failed:
            raise RuleViolation(
                "joint liability follows a failed rectification: the decision must cite a case with a missed deadline or a rebound",
                field="case_id",
                rule="rectification_not_failed",
            )
        self._joint_liability_recorded(
            superior_department=require_name(superior_department, "superior_department"),
            reason=require_name(reason, "reason"),
            recorded_on=recorded_on,
        )

    @event("JointLiabilityRecorded")
    def _joint_liability_recorded(self, superior_department: str, reason: str, recorded_on: date) -> None:
        self.joint_liability.append(
            {"superior_department": superior_department, "reason": reason, "recorded_on": recorded_on}
        )

    def publish(self, *, public_text: str, published_on: date) -> None:
        """Publish the outcome (问责和处理结果向社会公布); afterwards the decision is closed; publishing again corrects
        the public text (a new public version; every earlier one stays in the audit)."""
        check_transition("decision", DECISION_TRANSITIONS, "publish", self.status)
        self._published(
            public_text=require_name(public_text, "public_text"),
            published_on=published_on,
            public_version=self.public_versions + 1,
        )

    @event("Published")
    def _published(self, public_text: str, published_on: date, public_version: int = 1) -> None:
        self.status, self.public_versions = DecisionStatus.published, public_version


# --- commendation (表彰) -----------------------------------------------------------------------------------


class CommendationStatus(Labelled):
    awarded = "awarded", "已表彰"
    published = "published", "已公开"


COMMENDATION_TRANSITIONS = {
    "publish": frozenset({CommendationStatus.awarded, CommendationStatus.published})
}  # again: a correction


class Commendation(Unit, Aggregate):
    """A commendation (表彰) of a unit and its people for excellent supervision results."""

    @event("Awarded")
    def __init__(
        self, *, unit: dict[str, str], people: list[dict], reason: str, activity_id: str | None, awarded_on: date
    ):
        self._unit(unit)
        self.people, self.reason, self.activity_id, self.awarded_on = people, reason, activity_id, awarded_on
        self.status = CommendationStatus.awarded
        self.public_versions = 0  # published, then corrected: each publication a new public version

    @classmethod
    def award(
        cls,
        *,
        id: UUID,
        jurisdiction: str,
        unit_kind: str,
        unit_id: str,
        unit_name: str,
        people: Any,
        reason: str,
        awarded_on: date,
        restricted: set[str],
        activity_id: str | None = None,
    ) -> Commendation:
        """Commend; a leader under a circular's restriction (`restricted` names them) may not be commended."""
        named = named_people(people, "people", required=False)
        barred = sorted(p["name"] for p in named if p["name"] in restricted)
        if barred:
            raise RuleViolation(
                f"{', '.join(barred)} may not be commended: restricted after a circular",
                field="people",
                rule="leader_restricted",
                names=barred,
            )
        return cls._create(
            cls.Awarded,
            id=id,
            unit=Unit.checked(jurisdiction, unit_kind, unit_id, unit_name),
            people=named,
            reason=require_name(reason, "reason"),
            activity_id=activity_id,
            awarded_on=awarded_on,
        )

    def publish(self, *, public_text: str, published_on: date) -> None:
        check_transition("commendation", COMMENDATION_TRANSITIONS, "publish", self.status)
        self._published(
            public_text=require_name(public_text, "public_text"),
            published_on=published_on,
            public_version=self.public_versions + 1,
        )

    @event("Published")
    def _published(self, public_text: str, published_on: date, public_version: int = 1) -> None:
        self.status, self.public_versions = CommendationStatus.published, public_version
