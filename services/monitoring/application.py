"""Monitoring application: frameworks and their versions, collection periods, submissions and their approval
up the levels, and the third-party agencies that collect or assess."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from dudao import jurisdiction as divisions
from dudao.errors import Conflict
from dudao.events import Envelope
from dudao.rules import RuleViolation
from dudao.store import ServiceApplication
from services.monitoring.domain.collection import (
    AgencyAssignment,
    LevelApproval,
    LevelStatus,
    Submission,
    SubmissionStatus,
    UpperAcceptance,
    acceptance_id,
    assignment_id,
    home_level,
    level_id,
    parent_level,
    submission_id,
)
from services.monitoring.domain.compute import validate
from services.monitoring.domain.definition import Definition
from services.monitoring.domain.framework import Framework, framework_id

SHIPPED = Path(__file__).parent / "frameworks"
INSTALLER = "dudao-framework-installer"


class Monitoring(ServiceApplication):
    """The monitoring service's write side (event store in schema `monitoring`)."""

    service = "monitoring"

    # --- frameworks ---------------------------------------------------------------------------------------------

    def install_shipped_frameworks(self, now: datetime) -> None:
        """Publish each framework file in the repo unless that exact definition was published before."""
        for path in sorted(SHIPPED.glob("*.json")):
            definition = json.loads(path.read_text(encoding="utf-8"))
            code = Definition.parse(definition).code
            envelope = Envelope.for_request(actor=INSTALLER, jurisdiction=self.settings.jurisdiction)
            if not self.exists(framework_id(code)):
                self.save_new(Framework.publish_first(definition, f"shipped: {path.name}", now), envelope)
                continue
            framework = self.get(framework_id(code), Framework)
            if definition not in framework.versions.values():
                self.change(
                    framework.id,
                    Framework,
                    None,
                    envelope,
                    lambda f, d=definition, n=path.name: f.publish(d, f"shipped: {n}", now),
                )

    def publish_framework(
        self, definition: dict[str, Any], note: str, envelope: Envelope, expected_version: int | None, now: datetime
    ) -> Framework:
        """A new framework, or a new version of one: an event; earlier periods keep the version they opened with."""
        code = Definition.parse(definition).code
        if not self.exists(framework_id(code)):
            return self.save_new(Framework.publish_first(definition, note, now), envelope)
        return self.change(
            framework_id(code), Framework, expected_version, envelope, lambda f: f.publish(definition, note, now)
        )

    def framework(self, code: str) -> Framework:
        return self.get(framework_id(code), Framework)

    def open_period(self, code: str, period: str, envelope: Envelope, now: datetime) -> Framework:
        return self.change(framework_id(code), Framework, None, envelope, lambda f: f.open_period(period, now))

    # --- submissions --------------------------------------------------------------------------------------------

    def enter_values(
        self,
        framework: str,
        period: str,
        unit: dict[str, Any],
        values: Any,
        by: dict[str, str],
        envelope: Envelope,
        expected_version: int | None,
        now: datetime,
    ) -> Submission:
        """Open the unit's submission if need be and record its values, checked against the period's framework version."""
        kept = self.framework(framework)
        definition_version = kept.version_for(period)
        clean = validate(kept.definition(definition_version), values, unit.get("stage"))
        level = self._level(framework, period, home_level(unit["jurisdiction"]))
        if level is not None and level.status != LevelStatus.open:
            raise RuleViolation(
                f"{level.jurisdiction} has approved {framework} {period}; its data are locked until it un-approves",
                field="status",
                rule="locked_by_level_approval",
                level=level.jurisdiction,
            )
        sid = submission_id(framework, period, unit["id"])
        if not self.exists(sid):
            submission = Submission.open(
                framework=framework,
                framework_version=definition_version,
                period=period,
                unit_kind=unit["kind"],
                unit_id=unit["id"],
                unit_name=unit["name"],
                jurisdiction=unit["jurisdiction"],
                unit_stage=unit.get("stage"),
                locality=unit.get("locality"),
                opened_by=by,
                opened_at=now,
            )
            submission.enter_values(values=clean, entered_by=by, now=now)
            return self.save_new(submission, envelope)
        return self.change(
            sid, Submission, expected_version, envelope, lambda s: s.enter_values(values=clean, entered_by=by, now=now)
        )

    def on_submission(
        self,
        sid: UUID,
        expected_version: int | None,
        envelope: Envelope,
        authorize: Callable[[Submission], None],
        command: Callable[[Submission], Any],
    ) -> Submission:
        """Submit, return for correction, approve."""
        return self.change(sid, Submission, expected_version, envelope, command, authorize)

    def unapprove(
        self,
        sid: UUID,
        reason: str,
        by: str,
        envelope: Envelope,
        authorize: Callable[[Submission], None],
        now: datetime,
    ) -> Submission:
        """Re-open approved data: refused while its level stands approved; recorded on the level in the same transaction."""

        def command(submission: Submission) -> list[LevelApproval]:
            submission.unapprove(reason=reason, by=by, now=now)
            level = self._level_or_new(submission.framework, submission.period, home_level(submission.jurisdiction))
            level.reopen_below(what=submission.unit_id, reason=reason, now=now)
            return [level]

        return self.change(sid, Submission, None, envelope, command, authorize)

    # --- levels -------------------------------------------------------------------------------------------------

    def _level(self, framework: str, period: str, code: str) -> LevelApproval | None:
        lid = level_id(framework, period, code)
        return self.get(lid, LevelApproval) if self.exists(lid) else None

    def _level_or_new(self, framework: str, period: str, code: str) -> LevelApproval:
        return self._level(framework, period, code) or LevelApproval.open(
            framework=framework, period=period, jurisdiction=code
        )

    def approve_level(
        self,
        framework: str,
        period: str,
        code: str,
        units: list[str],
        levels_below: dict[str, str],
        by: str,
        envelope: Envelope,
        now: datetime,
    ) -> LevelApproval:
        """Approve a level only when every unit in it is approved and every level below accepted (逐级审核).

        `levels_below` maps each level below to its status as this instance's read model last heard it: that is all
        there is for a level held by a lower instance; a level held here is asked itself."""
        self.framework(framework).version_for(period)
        covered, waiting = {}, []
        for unit in units:
            sid = submission_id(framework, period, unit)
            submission = self.get(sid, Submission) if self.exists(sid) else None
            if submission is None or submission.status != SubmissionStatus.approved:
                waiting.append(f"{unit} ({submission.status.value if submission else 'nothing submitted'})")
            else:
                covered[unit] = submission.version
        for below, heard in levels_below.items():
            level = self._level(framework, period, below)
            status = level.status.value if level else heard
            if status != LevelStatus.accepted:
                waiting.append(f"level {below} ({status}, not accepted)")
        if waiting:
            raise RuleViolation(
                f"{code} can approve only after everything below it: {len(waiting)} still waiting: {', '.join(waiting[:20])}",
                field="units",
                rule="units_below_not_approved",
                waiting=waiting,
            )
        if not covered and not levels_below:
            raise Conflict(
                f"nothing has been collected under {code} for {framework} {period}",
                field="units",
                rule="nothing_to_approve",
            )
        level = self._level_or_new(framework, period, code)
        level.approve(covered=covered, levels_below=levels_below, by=by, now=now)
        self.save_checked(level, envelope=envelope)  # a re-opening below since we looked makes this a 409
        return level

    def unapprove_level(
        self, framework: str, period: str, code: str, reason: str, by: str, envelope: Envelope, now: datetime
    ) -> LevelApproval:
        return self.change(
            level_id(framework, period, code),
            LevelApproval,
            None,
            envelope,
            lambda lv: lv.unapprove(reason=reason, by=by, now=now),
        )

    def accept_level(
        self, framework: str, period: str, code: str, by: str, envelope: Envelope, now: datetime
    ) -> LevelApproval:
        return self.change(
            level_id(framework, period, code), LevelApproval, None, envelope, lambda lv: lv.accept(by=by, now=now)
        )

    def holds_level(self, framework: str, period: str, code: str) -> bool:
        """Whether the level lives in this instance (else in a lower one, and only its events came up)."""
        return self.exists(level_id(framework, period, code))

    def accept_lower_level(
        self, framework: str, period: str, code: str, level_version: int, by: str, envelope: Envelope, now: datetime
    ) -> UpperAcceptance:
        """Accept a level held by a lower instance, at the version whose approval came up; it is applied there."""
        aid = acceptance_id(framework, period, code)
        if not self.exists(aid):
            accepted = UpperAcceptance.record(
                framework=framework, period=period, jurisdiction=code, level_version=level_version, by=by, now=now
            )
            return self.save_new(accepted, envelope)
        return self.change(
            aid, UpperAcceptance, None, envelope, lambda a: a.accept_again(level_version=level_version, by=by, now=now)
        )

    def unaccept_level(
        self, framework: str, period: str, code: str, reason: str, by: str, envelope: Envelope, now: datetime
    ) -> LevelApproval | UpperAcceptance:
        """Hand a level back to its own office: here, or through this instance's acceptance when a lower instance
        holds the level (decision 020). Refused while the accepting level itself stands approved."""
        if self.holds_level(framework, period, code):
            target, kind = level_id(framework, period, code), LevelApproval
        else:
            target, kind = acceptance_id(framework, period, code), UpperAcceptance

        def command(decision: LevelApproval | UpperAcceptance) -> list[LevelApproval]:
            decision.unaccept(reason=reason, by=by, now=now)
            above = self._level_or_new(framework, period, parent_level(code))
            above.reopen_below(what=f"level {code}", reason=reason, now=now)
            return [above]

        return self.change(target, kind, None, envelope, command)

    # --- agencies -----------------------------------------------------------------------------------------------

    def assign_agency(self, assignment: AgencyAssignment, envelope: Envelope) -> AgencyAssignment:
        self.framework(assignment.framework).version_for(assignment.period)
        return self.save_new(assignment, envelope)

    def end_assignment(
        self,
        aid: UUID,
        reason: str,
        by: str,
        envelope: Envelope,
        authorize: Callable[[AgencyAssignment], None],
        now: datetime,
    ) -> AgencyAssignment:
        return self.change(
            aid, AgencyAssignment, None, envelope, lambda a: a.end(reason=reason, by=by, now=now), authorize
        )

    def agency_tasks(self, framework: str, period: str, unit_jurisdiction: str, agency_id: str) -> set[str]:
        """The tasks (collect, assess) of this agency's active assignments covering the place (at its level or above)."""
        tasks = set()
        for code in [unit_jurisdiction, *divisions.ancestors(unit_jurisdiction)]:
            aid = assignment_id(framework, period, code, agency_id)
            if self.exists(aid) and (assignment := self.get(aid, AgencyAssignment)).active:
                tasks.add(assignment.task.value)
        return tasks
