"""Rectification cases (整改): feedback, the unit's reports, acceptance, supervision notices and re-checks (DOMAIN §6.2–6.4)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from dudao import jurisdiction as divisions
from dudao.errors import InvalidInput, NotFound
from dudao.rules import Labelled, RuleViolation, check_transition, choice, happened, require_name
from services.accountability.domain.inputs import evidence_file, finding_item, not_before


def case_id(activity_id: str) -> UUID:
    """One case per issued report, however often the report's message is delivered."""
    return uuid5(NAMESPACE_URL, f"dudao:rectification-case:{activity_id}")


class ItemStatus(Labelled):
    """Where one problem to rectify (整改事项) stands."""

    open = "open", "待反馈"
    awaiting_report = "awaiting_report", "整改中"
    reported = "reported", "已报告整改"
    accepted = "accepted", "已验收"
    rejected = "rejected", "已退回"  # like awaiting_report: the unit must report again
    rebounded = "rebounded", "问题反弹"  # failed its re-check: like awaiting_report, with a new deadline


class FeedbackMode(Labelled):
    """How the findings were fed back to the unit (反馈)."""

    written = "written", "书面反馈"
    meeting = "meeting", "会议反馈"


class CaseStatus(Labelled):
    """Where the whole case stands; derived from feedback and the items."""

    opened = "opened", "待反馈"
    in_rectification = "in_rectification", "整改中"
    closed = "closed", "已办结"


S = ItemStatus
UNACCEPTED = frozenset({S.awaiting_report, S.reported, S.rejected, S.rebounded})

# Which item states each item command may start from. A walk of this table is in the tests.
ITEM_TRANSITIONS: dict[str, frozenset[str]] = {
    "change_deadline": UNACCEPTED,
    "report_item": frozenset({S.awaiting_report, S.rejected, S.rebounded}),
    "accept_item": frozenset({S.reported}),
    "reject_item": frozenset({S.reported}),
    "issue_notice": UNACCEPTED | {S.accepted},  # an accepted item is refused as not overdue, below
    "recheck_item": frozenset({S.accepted}),
    "escalate": UNACCEPTED,
}
# Feedback is given once, and opens rectification of every item.
CASE_TRANSITIONS: dict[str, frozenset[str]] = {"give_feedback": frozenset({CaseStatus.opened})}


class RectificationCase(Aggregate):
    """The rectification (整改) of one issued report by the supervised unit, one item per finding."""

    @event("Opened")
    def __init__(
        self,
        *,
        activity_id: str,
        jurisdiction: str,
        unit_kind: str,
        unit_id: str,
        unit_name: str,
        activity_title: str,
        items: list[dict],
        opened_at: datetime,
        report_issued_on: date | None = None,
    ):
        self.activity_id = activity_id
        self.report_issued_on = (
            report_issued_on  # feedback follows the report (None in cases opened before it was kept)
        )
        self.jurisdiction = jurisdiction
        self.unit_kind = unit_kind
        self.unit_id = unit_id
        self.unit_name = unit_name
        self.activity_title = activity_title
        self.opened_at = opened_at
        self.items: dict[str, dict[str, Any]] = {
            item["item_id"]: {
                **item,
                "status": S.open.value,
                "deadline": None,
                "lapses": 0,
                "rebounds": 0,
                "reports": 0,
                "recheck_due": None,
                "last_rechecked_on": None,
                "escalations": {},
                "accepted_on_time": None,
            }
            for item in items
        }
        self.feedback: dict[str, Any] | None = None
        self.statement: dict[str, Any] | None = None

    @classmethod
    def open(
        cls,
        *,
        activity_id: str,
        jurisdiction: str,
        unit_kind: str,
        unit_id: str,
        unit_name: str,
        activity_title: str,
        findings: list[dict],
        now: datetime,
        report_issued_on: date | None = None,
    ) -> RectificationCase:
        """Open the case when a report is issued: one item, still open, per finding to rectify."""
        activity_id = require_name(activity_id, "activity_id")
        if not divisions.is_valid_code(jurisdiction):
            raise InvalidInput(f"{jurisdiction!r} is not a division code", field="jurisdiction", rule="division_code")
        if not findings:
            raise RuleViolation("the report has no finding to rectify", field="findings", rule="nothing_to_rectify")
        items = [finding_item(raw, i) for i, raw in enumerate(findings)]
        if len({item["item_id"] for item in items}) != len(items):
            raise InvalidInput("a finding is listed twice", field="findings", rule="unique")
        return cls._create(
            cls.Opened,
            id=case_id(activity_id),
            activity_id=activity_id,
            jurisdiction=jurisdiction,
            unit_kind=require_name(unit_kind, "unit_kind"),
            unit_id=require_name(unit_id, "unit_id"),
            unit_name=require_name(unit_name, "unit_name"),
            activity_title=require_name(activity_title, "activity_title"),
            items=items,
            opened_at=now,
            report_issued_on=report_issued_on,
        )

    # --- read helpers -------------------------------------------------------------------------------------

    @property
    def status(self) -> CaseStatus:
        if self.feedback is None:
            return CaseStatus.opened
        if all(item["status"] == S.accepted for item in self.items.values()):
            return CaseStatus.closed
        return CaseStatus.in_rectification

    def overdue_items(self, today: date) -> list[str]:
        """Items past their deadline and not accepted: each is due a supervision notice (督办单)."""
        return [
            item_id
            for item_id, item in self.items.items()
            if item["status"] in UNACCEPTED and item["deadline"] is not None and today > item["deadline"]
        ]

    def _item(self, item_id: str, command: str) -> dict[str, Any]:
        item = self.items.get(item_id)
        if item is None:
            raise NotFound(f"the case has no item {item_id!r}", field="item_id", rule="item_not_found", item_id=item_id)
        check_transition("item", ITEM_TRANSITIONS, command, item["status"])
        return item

    # --- feedback (反馈) ------------------------------------------------------------------------------------

    def give_feedback(
        self,
        *,
        mode: FeedbackMode,
        decision: str,
        requirements: str,
        deadlines: dict[str, date],
        default_deadline: date,
        deadline_basis: str,
        given_on: date,
        today: date,
    ) -> None:
        """Feed the problems back with a rectification decision; every item gets its deadline.

        `deadline_basis` names the policy profile version the default deadline came from. Feedback is given on or
        after the report was issued, and not after today.
        """
        check_transition("case", CASE_TRANSITIONS, "give_feedback", self.status)
        happened(given_on, "given_on", today=today, after=self.report_issued_on, after_what="the report was issued")
        mode = choice(FeedbackMode, mode, "mode")
        unknown = sorted(set(deadlines) - set(self.items))
        if unknown:
            raise InvalidInput(
                f"no item {unknown[0]!r} in this case", field=f"deadlines.{unknown[0]}", rule="unknown_item"
            )
        default_deadline = not_before(default_deadline, given_on, "default_deadline")
        resolved = {
            item_id: not_before(deadlines[item_id], given_on, f"deadlines.{item_id}")
            if item_id in deadlines
            else default_deadline
            for item_id in self.items
        }
        self._feedback_given(
            mode=mode.value,
            decision=require_name(decision, "decision"),
            requirements=require_name(requirements, "requirements"),
            deadlines=resolved,
            deadline_basis=require_name(deadline_basis, "deadline_basis"),
            given_on=given_on,
        )

    @event("FeedbackGiven")
    def _feedback_given(
        self,
        mode: str,
        decision: str,
        requirements: str,
        deadlines: dict[str, date],
        deadline_basis: str,
        given_on: date,
    ) -> None:
        self.feedback = {
            "mode": mode,
            "decision": decision,
            "requirements": requirements,
            "deadline_basis": deadline_basis,
            "given_on": given_on,
        }
        for item_id, deadline in deadlines.items():
            self.items[item_id].update(status=S.awaiting_report.value, deadline=deadline)

    def change_deadline(self, *, item_id: str, deadline: date, reason: str, today: date) -> None:
        """Move an unaccepted item's deadline, for a recorded reason; never into the past (a notice would follow)."""
        self._item(item_id, "change_deadline")
        if not isinstance(deadline, date):
            raise InvalidInput("deadline must be a date", field="deadline", rule="date")
        if deadline < today:
            raise InvalidInput(
                f"deadline {deadline} is before today ({today}): a deadline never moves into the past",
                field="deadline",
                rule="deadline_in_past",
                date=deadline.isoformat(),
                today=today.isoformat(),
            )
        self._deadline_changed(item_id=item_id, deadline=deadline, reason=require_name(reason, "reason"))

    @event("DeadlineChanged")
    def _deadline_changed(self, item_id: str, deadline: date, reason: str) -> None:
        self.items[item_id]["deadline"] = deadline

    # --- rectification (整改) -------------------------------------------------------------------------------

    def report_item(self, *, item_id: str, statement: str, evidence: list[dict], reported_on: date) -> None:
        """The unit reports what it did about one item, with the evidence files."""
        self._item(item_id, "report_item")
        self._item_reported(
            item_id=item_id,
            statement=require_name(statement, "statement"),
            evidence=[evidence_file(file, i) for i, file in enumerate(evidence)],
            reported_on=reported_on,
        )

    @event("ItemReported")
    def _item_reported(self, item_id: str, statement: str, evidence: list[dict], reported_on: date) -> None:
        item = self.items[item_id]
        item.update(status=S.reported.value, reports=item["reports"] + 1, reported_on=reported_on)

    def accept_item(self, *, item_id: str, accepted_on: date, recheck_due: date) -> None:
        """Accept (验收) a reported item, and say when it is to be checked again (回头看)."""
        self._item(item_id, "accept_item")
        if not isinstance(recheck_due, date) or recheck_due < accepted_on:
            raise InvalidInput(
                f"recheck_due must be a date on or after {accepted_on}",
                field="recheck_due",
                rule="recheck_before_acceptance",
            )
        self._item_accepted(item_id=item_id, accepted_on=accepted_on, recheck_due=recheck_due)

    @event("ItemAccepted")
    def _item_accepted(self, item_id: str, accepted_on: date, recheck_due: date) -> None:
        item = self.items[item_id]
        if item["accepted_on_time"] is None:  # on time: accepted the first time with no supervision notice
            item["accepted_on_time"] = item["lapses"] == 0
        item.update(status=S.accepted.value, accepted_on=accepted_on, recheck_due=recheck_due)

    def reject_item(self, *, item_id: str, reason: str, rejected_on: date) -> None:
        """Send a reported item back: the rectification is not good enough, the unit must report again."""
        self._item(item_id, "reject_item")
        self._item_rejected(item_id=item_id, reason=require_name(reason, "reason"), rejected_on=rejected_on)

    @event("ItemRejected")
    def _item_rejected(self, item_id: str, reason: str, rejected_on: date) -> None:
        self.items[item_id].update(status=S.rejected.value, rejected_on=rejected_on)

    # --- supervision notices (督办单) -----------------------------------------------------------------------

    def issue_notice(
        self, *, item_id: str, today: date, new_deadline: date, basis: str, lapse: int | None = None
    ) -> None:
        """Issue a supervision notice (督办单) for an item past its deadline, with a new deadline.

        Each missed deadline is one lapse and gets one notice. A caller that read the item earlier
        may pass the `lapse` it means to notice; if another notice got there first it is refused.
        """
        item = self._item(item_id, "issue_notice")
        next_lapse = item["lapses"] + 1
        if lapse is not None and lapse != next_lapse:
            raise RuleViolation(
                f"the notice for lapse {lapse} of item {item_id} is already issued; the next would be lapse {next_lapse}",
                field="lapse",
                rule="notice_already_issued",
                item_id=item_id,
                lapse_now=item["lapses"],
            )
        if item["status"] == S.accepted or today <= item["deadline"]:
            raise RuleViolation(
                f"item {item_id} is not overdue (deadline {item['deadline']}, {ItemStatus(item['status']).value})",
                field="item_id",
                rule="not_overdue",
                item_id=item_id,
            )
        if not isinstance(new_deadline, date) or new_deadline <= today:
            raise InvalidInput(f"new_deadline must be after {today}", field="new_deadline", rule="deadline_in_past")
        self._notice_issued(
            item_id=item_id,
            lapse=next_lapse,
            missed_deadline=item["deadline"],
            new_deadline=new_deadline,
            issued_on=today,
            basis=require_name(basis, "basis"),
        )

    @event("NoticeIssued")
    def _notice_issued(
        self, item_id: str, lapse: int, missed_deadline: date, new_deadline: date, issued_on: date, basis: str
    ) -> None:
        self.items[item_id].update(lapses=lapse, deadline=new_deadline)

    def escalate(self, *, item_id: str, lapse: int, step: str, measure_id: UUID, basis: str) -> None:
        """Record that this lapse took the item up the profile's ladder (interview, circular) to `measure_id`."""
        item = self._item(item_id, "escalate")
        if lapse != item["lapses"] or lapse < 1:
            raise RuleViolation(
                f"item {item_id} is at lapse {item['lapses']}, not {lapse}",
                field="lapse",
                rule="escalation_not_due",
                item_id=item_id,
            )
        if step in item["escalations"]:
            raise RuleViolation(
                f"item {item_id} is already escalated to {step}", field="step", rule="already_escalated"
            )
        self._escalated(
            item_id=item_id, lapse=lapse, step=require_name(step, "step"), measure_id=measure_id, basis=basis
        )

    @event("Escalated")
    def _escalated(self, item_id: str, lapse: int, step: str, measure_id: UUID, basis: str) -> None:
        self.items[item_id]["escalations"][step] = str(measure_id)

    @property
    def rectification_failed(self) -> bool:
        """Whether any item missed a deadline or came back at a re-check (grounds for joint liability)."""
        return any(item["lapses"] or item["rebounds"] for item in self.items.values())

    # --- re-check (复查, 回头看) -----------------------------------------------------------------------------

    def recheck_item(
        self, *, item_id: str, passed: bool, rechecked_on: date, note: str, new_deadline: date | None = None
    ) -> None:
        """Check an accepted item again; a problem that came back (反弹) reopens with a new deadline."""
        self._item(item_id, "recheck_item")
        if not isinstance(passed, bool):
            raise InvalidInput("passed must be true or false", field="passed", rule="boolean")
        if passed and new_deadline is not None:
            raise InvalidInput(
                "a passed re-check sets no new deadline", field="new_deadline", rule="no_deadline_when_passed"
            )
        if not passed:
            if new_deadline is None:
                raise InvalidInput(
                    "a failed re-check needs a new deadline", field="new_deadline", rule="new_deadline_required"
                )
            not_before(new_deadline, rechecked_on, "new_deadline")
        self._item_rechecked(
            item_id=item_id,
            passed=passed,
            rechecked_on=rechecked_on,
            note=require_name(note, "note"),
            new_deadline=new_deadline,
        )

    @event("ItemRechecked")
    def _item_rechecked(
        self, item_id: str, passed: bool, rechecked_on: date, note: str, new_deadline: date | None
    ) -> None:
        item = self.items[item_id]
        item["last_rechecked_on"] = rechecked_on
        if not passed:
            # A rebound counts against the unit.
            item.update(
                status=S.rebounded.value, deadline=new_deadline, rebounds=item["rebounds"] + 1, recheck_due=None
            )

    # --- public statement (整改情况公开) ----------------------------------------------------------------------

    def publish_statement(self, *, text: str, published_on: date) -> None:
        """The unit's public statement of its rectification, once every item is reported or accepted."""
        waiting = sorted(i for i, item in self.items.items() if item["status"] not in (S.reported, S.accepted))
        if waiting:
            raise RuleViolation(
                f"items {', '.join(waiting)} are not yet reported",
                field="items",
                rule="items_not_reported",
                item_ids=waiting,
            )
        version = (self.statement or {}).get(
            "public_version", 0
        ) + 1  # published again: a correction, a new public version
        self._statement_published(text=require_name(text, "text"), published_on=published_on, public_version=version)

    @event("StatementPublished")
    def _statement_published(self, text: str, published_on: date, public_version: int = 1) -> None:
        self.statement = {"text": text, "published_on": published_on, "public_version": public_version}
