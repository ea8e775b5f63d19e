"""Collection (数据填报) and its approval up the levels (逐级审核), as DHIS2 does it.

A unit's `Submission` for one framework and period goes draft → submitted → returned (with a reason)
| approved by its county; approval locks it, un-approval (with a reason) re-opens it. Each level
(county, city, …) then has a `LevelApproval`: the level approves only when every unit and every
level below it is approved, the level above accepts it, and nothing below can be re-opened while
it stands. Third-party agencies (第三方评估机构) are assigned to collect or assess and go through the same steps.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from dudao import jurisdiction as divisions
from dudao.rules import Labelled, RuleViolation, check_transition, require_name

COLLECTION_NAMESPACE = uuid.UUID("a2f1d7c4-5b6e-4e0f-8c39-1d2e3f4a5b6c")


def home_level(code: str) -> str:
    """The level that approves a unit's data first: its county (a township's school is approved by the county)."""
    return code if len(code) == 6 else divisions.ancestors(code)[0]


def parent_level(code: str) -> str:
    return divisions.ancestors(code)[0]


def submission_id(framework: str, period: str, unit_id: str) -> uuid.UUID:
    return uuid.uuid5(COLLECTION_NAMESPACE, f"submission:{framework}:{period}:{unit_id}")


def level_id(framework: str, period: str, jurisdiction: str) -> uuid.UUID:
    return uuid.uuid5(COLLECTION_NAMESPACE, f"level:{framework}:{period}:{jurisdiction}")


def assignment_id(framework: str, period: str, jurisdiction: str, agency_id: str) -> uuid.UUID:
    return uuid.uuid5(COLLECTION_NAMESPACE, f"assignment:{framework}:{period}:{jurisdiction}:{agency_id}")


class SubmissionStatus(Labelled):
    draft = "draft", "草稿"
    submitted = "submitted", "已上报"
    returned = "returned", "已退回"
    approved = "approved", "已审核"


S = SubmissionStatus
SUBMISSION_TRANSITIONS = {
    "enter_values": frozenset({S.draft, S.returned}),
    "submit": frozenset({S.draft, S.returned}),
    "return_for_correction": frozenset({S.submitted}),
    "approve": frozenset({S.submitted}),
    "unapprove": frozenset({S.approved}),
}


class Submission(Aggregate):
    """One unit's inputs for one framework and period (填报数据), under the framework version of that period."""

    @event("Opened")
    def __init__(
        self,
        *,
        framework: str,
        framework_version: int,
        period: str,
        unit_kind: str,
        unit_id: str,
        unit_name: str,
        jurisdiction: str,
        unit_stage: str | None,
        locality: str | None,
        opened_by: dict[str, str],
        opened_at: datetime,
    ):
        self.framework, self.framework_version, self.period = framework, framework_version, period
        self.unit_kind, self.unit_id, self.unit_name, self.jurisdiction = unit_kind, unit_id, unit_name, jurisdiction
        self.unit_stage, self.locality = unit_stage, locality
        self.status = SubmissionStatus.draft
        self.values: dict[str, Any] | None = None

    @classmethod
    def open(cls, *, framework: str, period: str, unit_id: str, **details: Any) -> Submission:
        return cls._create(
            cls.Opened,
            id=submission_id(framework, period, unit_id),
            framework=framework,
            period=period,
            unit_id=unit_id,
            **details,
        )

    def _check(self, command: str) -> None:
        check_transition("submission", SUBMISSION_TRANSITIONS, command, self.status.value)

    def enter_values(self, *, values: dict[str, Any], entered_by: dict[str, str], now: datetime) -> None:
        """Values already checked against the framework (`compute.validate`); approved data is locked."""
        self._check("enter_values")
        if values != self.values:
            self._values_entered(values=values, entered_by=entered_by, entered_at=now)

    @event("ValuesEntered")
    def _values_entered(self, values: dict[str, Any], entered_by: dict[str, str], entered_at: datetime) -> None:
        self.values = values

    def submit(self, *, submitted_by: dict[str, str], now: datetime) -> None:
        self._check("submit")
        if self.values is None:
            raise RuleViolation("enter the values before submitting", field="values", rule="nothing_to_submit")
        self._submitted(submitted_by=submitted_by, submitted_at=now)

    @event("Submitted")
    def _submitted(self, submitted_by: dict[str, str], submitted_at: datetime) -> None:
        self.status = SubmissionStatus.submitted

    def return_for_correction(self, *, reason: str, by: str, now: datetime) -> None:
        self._check("return_for_correction")
        self._returned(reason=require_name(reason, "reason"), returned_by=by, returned_at=now)

    @event("Returned")
    def _returned(self, reason: str, returned_by: str, returned_at: datetime) -> None:
        self.status = SubmissionStatus.returned

    def approve(self, *, by: str, now: datetime) -> None:
        self._check("approve")
        self._approved(approved_by=by, approved_at=now)

    @event("Approved")
    def _approved(self, approved_by: str, approved_at: datetime) -> None:
        self.status = SubmissionStatus.approved

    def unapprove(self, *, reason: str, by: str, now: datetime) -> None:
        """Re-open approved data for correction; the level above must not stand approved (checked by the caller)."""
        self._check("unapprove")
        self._unapproved(reason=require_name(reason, "reason"), unapproved_by=by, unapproved_at=now)

    @event("Unapproved")
    def _unapproved(self, reason: str, unapproved_by: str, unapproved_at: datetime) -> None:
        self.status = SubmissionStatus.returned


class LevelStatus(Labelled):
    open = "open", "未审核"
    approved = "approved", "已审核"
    accepted = "accepted", "上级已确认"


L = LevelStatus
LEVEL_TRANSITIONS = {
    "approve": frozenset({L.open}),
    "unapprove": frozenset({L.approved}),
    "accept": frozenset({L.approved}),
    "unaccept": frozenset({L.accepted}),
    "reopen_below": frozenset({L.open}),
}


class LevelApproval(Aggregate):
    """A level's approval of everything collected under it for one framework and period (逐级审核)."""

    @event("Opened")
    def __init__(self, *, framework: str, period: str, jurisdiction: str):
        self.framework, self.period, self.jurisdiction = framework, period, jurisdiction
        self.status = LevelStatus.open

    @classmethod
    def open(cls, *, framework: str, period: str, jurisdiction: str) -> LevelApproval:
        return cls._create(
            cls.Opened,
            id=level_id(framework, period, jurisdiction),
            framework=framework,
            period=period,
            jurisdiction=jurisdiction,
        )

    def _check(self, command: str) -> None:
        check_transition("level approval", LEVEL_TRANSITIONS, command, self.status.value)

    def approve(self, *, covered: dict[str, int], levels_below: list[str], by: str, now: datetime) -> None:
        """Approve with the units (and their submission versions) and the levels below it covers."""
        self._check("approve")
        self._approved(covered=covered, levels_below=levels_below, approved_by=by, approved_at=now)

    @event("Approved")
    def _approved(
        self, covered: dict[str, int], levels_below: list[str], approved_by: str, approved_at: datetime
    ) -> None:
        self.status = LevelStatus.approved

    def unapprove(self, *, reason: str, by: str, now: datetime) -> None:
        self._check("unapprove")
        self._unapproved(reason=require_name(reason, "reason"), unapproved_by=by, unapproved_at=now)

    @event("Unapproved")
    def _unapproved(self, reason: str, unapproved_by: str, unapproved_at: datetime) -> None:
        self.status = LevelStatus.open

    def accept(self, *, by: str, now: datetime) -> None:
        self._check("accept")
        self._accepted(accepted_by=by, accepted_at=now)

    @event("Accepted")
    def _accepted(self, accepted_by: str, accepted_at: datetime) -> None:
        self.status = LevelStatus.accepted

    def unaccept(self, *, reason: str, by: str, now: datetime) -> None:
        self._check("unaccept")
        self._unaccepted(reason=require_name(reason, "reason"), unaccepted_by=by, unaccepted_at=now)

    @event("Unaccepted")
    def _unaccepted(self, reason: str, unaccepted_by: str, unaccepted_at: datetime) -> None:
        self.status = LevelStatus.approved

    def reopen_below(self, *, what: str, reason: str, now: datetime) -> None:
        """Record that something below was re-opened. Saved with that change, so an approval of this level
        racing with it loses on the version check instead of approving data that is no longer approved."""
        if self.status != LevelStatus.open:
            raise RuleViolation(
                f"the {self.jurisdiction} level has approved {self.framework} {self.period}; it must un-approve first",
                field="status",
                rule="locked_by_level_approval",
                level=self.jurisdiction,
            )
        self._reopened_below(what=what, reason=reason, reopened_at=now)

    @event("ReopenedBelow")
    def _reopened_below(self, what: str, reason: str, reopened_at: datetime) -> None:
        pass

    def take_upper_acceptance(self, *, accepted_version: int, by: str, now: datetime) -> None:
        """The upper instance's acceptance (an `UpperAcceptance`) applied here, where the level lives. It holds only
        for the version the upper saw approved; if the level changed since, it lapses, and says so upward."""
        if self.status == LevelStatus.approved and self.version == accepted_version:
            self.accept(by=by, now=now)
        elif self.status != LevelStatus.accepted:
            self._acceptance_lapsed(
                accepted_version=accepted_version,
                accepted_by=by,
                reason=f"version {accepted_version} was accepted,"
                f" but the level is now version {self.version} ({self.status.value}): accept it again",
                lapsed_at=now,
            )

    @event("AcceptanceLapsed")
    def _acceptance_lapsed(self, accepted_version: int, accepted_by: str, reason: str, lapsed_at: datetime) -> None:
        pass


def acceptance_id(framework: str, period: str, jurisdiction: str) -> uuid.UUID:
    return uuid.uuid5(COLLECTION_NAMESPACE, f"acceptance:{framework}:{period}:{jurisdiction}")


class UpperAcceptance(Aggregate):
    """The upper level's acceptance (上级确认) of a lower level whose `LevelApproval` lives in the lower instance.

    Recorded at the upper instance and sent down; the lower instance applies it to its level (a reaction), and the
    level's own `Accepted` comes back up. Until then the upper's read models show the level as approved, so the upper
    cannot approve its own level on an acceptance that has not taken (逐级审核 across instances, decision 020)."""

    @event("Accepted")
    def __init__(
        self,
        *,
        framework: str,
        period: str,
        jurisdiction: str,
        level_version: int,
        accepted_by: str,
        accepted_at: datetime,
    ):
        self.framework, self.period, self.jurisdiction = framework, period, jurisdiction
        self.level_version, self.accepted = level_version, True

    @classmethod
    def record(
        cls, *, framework: str, period: str, jurisdiction: str, level_version: int, by: str, now: datetime
    ) -> UpperAcceptance:
        return cls._create(
            cls.Accepted,
            id=acceptance_id(framework, period, jurisdiction),
            framework=framework,
            period=period,
            jurisdiction=jurisdiction,
            level_version=level_version,
            accepted_by=by,
            accepted_at=now,
        )

    def accept_again(self, *, level_version: int, by: str, now: datetime) -> None:
        if self.accepted and self.level_version == level_version:
            raise RuleViolation(
                f"{self.jurisdiction}'s level version {level_version} is already accepted; it is being applied there",
                field="status",
                rule="level_approval_lifecycle",
            )
        self._accepted_again(**self._level(), level_version=level_version, accepted_by=by, accepted_at=now)

    @event("AcceptedAgain")
    def _accepted_again(
        self,
        framework: str,
        period: str,
        jurisdiction: str,
        level_version: int,
        accepted_by: str,
        accepted_at: datetime,
    ) -> None:
        self.level_version, self.accepted = level_version, True

    def unaccept(self, *, reason: str, by: str, now: datetime) -> None:
        if not self.accepted:
            raise RuleViolation(
                f"{self.jurisdiction}'s level is not accepted", field="status", rule="level_approval_lifecycle"
            )
        self._unaccepted(**self._level(), reason=require_name(reason, "reason"), unaccepted_by=by, unaccepted_at=now)

    @event("Unaccepted")
    def _unaccepted(
        self, framework: str, period: str, jurisdiction: str, reason: str, unaccepted_by: str, unaccepted_at: datetime
    ) -> None:
        self.accepted = False

    def _level(self) -> dict[str, str]:
        """Which level each event is about: the lower instance applies it without this aggregate."""
        return {"framework": self.framework, "period": self.period, "jurisdiction": self.jurisdiction}


class AgencyTask(Labelled):
    collect = "collect", "数据采集"
    assess = "assess", "评估"


class AgencyAssignment(Aggregate):
    """A third-party agency (第三方评估机构) engaged by an office to collect or assess one framework and period
    within a jurisdiction; its submissions go through the same approval as the units' own."""

    @event("Made")
    def __init__(
        self,
        *,
        framework: str,
        period: str,
        jurisdiction: str,
        agency_id: str,
        agency_name: str,
        task: AgencyTask,
        contract: str,
        made_by: str,
        made_at: datetime,
    ):
        self.framework, self.period, self.jurisdiction = framework, period, jurisdiction
        self.agency_id, self.agency_name, self.task = agency_id, agency_name, AgencyTask(task)
        self.active = True

    @classmethod
    def make(
        cls, *, framework: str, period: str, jurisdiction: str, agency_id: str, **details: Any
    ) -> AgencyAssignment:
        return cls._create(
            cls.Made,
            id=assignment_id(framework, period, jurisdiction, agency_id),
            framework=framework,
            period=period,
            jurisdiction=jurisdiction,
            agency_id=require_name(agency_id, "agency_id"),
            **details,
        )

    def end(self, *, reason: str, by: str, now: datetime) -> None:
        if not self.active:
            raise RuleViolation("this assignment has already ended", field="status", rule="assignment_ended")
        self._ended(reason=require_name(reason, "reason"), ended_by=by, ended_at=now)

    @event("Ended")
    def _ended(self, reason: str, ended_by: str, ended_at: datetime) -> None:
        self.active = False
