"""Accountability application: rectification cases, their deadlines and escalations, and the measures
(interviews, circulars, accountability decisions, commendations) that make results bite."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from dudao.clock import end_of_china_day
from dudao.errors import Conflict, NotFound
from dudao.events import Envelope, to_jsonable
from dudao.profiles import Effective
from dudao.store import ServiceApplication, event_name
from services.accountability.domain.case import RectificationCase
from services.accountability.domain.measures import Circular, Interview, escalation_id
from services.accountability.domain.terms import CircularTrigger, InterviewTrigger

M = TypeVar("M", bound=Aggregate)
SWEEPER = "dudao-deadline-sweeper"
# Which measure each rung of the profile's escalation ladder proposes, and on which trigger of its closed list.
LADDER = (("interview", "interview_at_lapse"), ("circular", "circular_at_lapse"))


class Accountability(ServiceApplication):
    """The accountability service's write side (event store in schema `accountability`)."""

    service = "accountability"

    def on_case(
        self,
        case: UUID,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Callable[[RectificationCase], None],
        command: Callable[[RectificationCase], Any],
    ) -> RectificationCase:
        """Feedback, deadlines, unit reports, acceptance or rejection, notices, re-checks, the public statement."""
        return self.change(case, RectificationCase, expected_version, envelope, command, authorize)

    def on_measure(
        self,
        measure: UUID,
        kind: type[M],
        expected_version: int | None,
        envelope: Envelope,
        authorize: Callable[[M], None],
        command: Callable[[M], Any],
    ) -> M:
        """Record, file, issue, transfer, publish: the later steps of an interview, circular, decision or commendation."""
        return self.change(measure, kind, expected_version, envelope, command, authorize)

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
