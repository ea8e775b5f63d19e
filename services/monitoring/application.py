"""Monitoring application: frameworks and their versions, collection periods, submissions and their approval
up the levels, and the third-party agencies that collect or assess."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from dudao import jurisdiction as divisions
from dudao.callers import Principal, Role
from dudao.commands import Caller
from dudao.errors import Conflict, Forbidden, InvalidInput
from dudao.events import Envelope
from dudao.rules import RuleViolation
from dudao.scope import Target, authorize, check_scope
from dudao.store import ServiceApplication
from services.monitoring.commands import (
    AcceptLevel,
    ApproveLevel,
    ApproveSubmission,
    AssignAgency,
    EndAssignment,
    EnterValues,
    OpenPeriod,
    PublishFramework,
    ReturnForCorrection,
    Submit,
    UnacceptLevel,
    UnapproveLevel,
    UnapproveSubmission,
)
from services.monitoring.domain.collection import (
    AgencyAssignment,
    AgencyTask,
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
from services.monitoring.domain.framework import Framework, check_period, framework_id

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

    def publish_framework(self, command: PublishFramework, caller: Caller) -> Framework:
        """A new framework, or a new version of one: an event; earlier periods keep the version they opened with."""
        self._instance_office(caller)
        definition, note, now = command.definition, command.note, command.now
        code = Definition.parse(definition).code
        if not self.exists(framework_id(code)):
            return self.save_new(Framework.publish_first(definition, note, now), caller.envelope)
        return self.change(
            framework_id(code),
            Framework,
            caller.expected_version,
            caller.envelope,
            lambda f: f.publish(definition, note, now),
        )

    def framework(self, code: str) -> Framework:
        return self.get(framework_id(code), Framework)

    def open_period(self, command: OpenPeriod, caller: Caller) -> Framework:
        """Open a collection period (填报周期) under the framework's current version, which its results keep."""
        self._instance_office(caller)
        check_period(command.period)
        return self.change(
            framework_id(command.code),
            Framework,
            None,
            caller.envelope,
            lambda f: f.open_period(command.period, command.now),
        )

    def _instance_office(self, caller: Caller) -> None:
        """Frameworks belong to the instance: its own office (not a lower one) publishes them and opens periods."""
        home = self.settings.jurisdiction
        check_scope(caller.principal, home)  # an office outside the instance's place is out of scope before all else
        if caller.principal.jur != home:
            raise Forbidden(
                f"only the office of {home} publishes frameworks and opens periods here",
                field="jur",
                rule="instance_office_only",
            )

    # --- submissions --------------------------------------------------------------------------------------------

    def enter_values(self, command: EnterValues, caller: Caller) -> Submission:
        """Open the unit's submission if need be and record its values, checked against the period's framework version."""
        framework, period, unit, now = command.framework, command.period, command.unit, command.now
        by = self._collector(caller, framework, period, unit) | ({"via": command.via} if command.via else {})
        kept = self.framework(framework)
        definition_version = kept.version_for(period)
        clean = validate(kept.definition(definition_version), command.values, unit.get("stage"))
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
            return self.save_new(submission, caller.envelope)
        return self.change(
            sid,
            Submission,
            caller.expected_version,
            caller.envelope,
            lambda s: s.enter_values(values=clean, entered_by=by, now=now),
        )

    def submit(self, command: Submit, caller: Caller) -> Submission:
        by = self._collector(caller, command.framework, command.period, command.unit)
        return self.change(
            submission_id(command.framework, command.period, command.unit["id"]),
            Submission,
            caller.expected_version,
            caller.envelope,
            lambda s: s.submit(submitted_by=by, now=command.now),
        )

    def return_for_correction(self, command: ReturnForCorrection, caller: Caller) -> Submission:
        """Send submitted data back to the unit with the reason (退回)."""
        return self._on_submission(
            command.framework,
            command.period,
            command.unit_id,
            caller,
            lambda s: s.return_for_correction(reason=command.reason, by=caller.principal.sub, now=command.now),
        )

    def approve_submission(self, command: ApproveSubmission, caller: Caller) -> Submission:
        """The county approves a unit's submitted data, which locks them (审核通过)."""
        return self._on_submission(
            command.framework,
            command.period,
            command.unit_id,
            caller,
            lambda s: s.approve(by=caller.principal.sub, now=command.now),
        )

    def unapprove_submission(self, command: UnapproveSubmission, caller: Caller) -> Submission:
        """Re-open approved data: refused while its level stands approved; recorded on the level in the same transaction."""
        reason, by, now = command.reason, caller.principal.sub, command.now

        def apply(submission: Submission) -> list[LevelApproval]:
            submission.unapprove(reason=reason, by=by, now=now)
            level = self._level_or_new(submission.framework, submission.period, home_level(submission.jurisdiction))
            level.reopen_below(what=submission.unit_id, reason=reason, now=now)
            return [level]

        return self._on_submission(
            command.framework, command.period, command.unit_id, caller, apply, unconditional=True
        )

    def _on_submission(
        self,
        framework: str,
        period: str,
        unit_id: str,
        caller: Caller,
        apply: Callable[[Submission], Any],
        *,
        unconditional: bool = False,
    ) -> Submission:
        """The office of the unit's county acts on its data (returns, approves, re-opens)."""
        return self.change(
            submission_id(framework, period, unit_id),
            Submission,
            None if unconditional else caller.expected_version,
            caller.envelope,
            apply,
            lambda s: _approver(caller, s.jurisdiction),
        )

    def _collector(self, caller: Caller, framework: str, period: str, unit: dict[str, Any]) -> dict[str, str]:
        """Who enters a unit's data: the unit itself, an office above it, or an agency assigned there to collect."""
        target = self.unit_target(
            caller.principal, framework, period, unit["jurisdiction"], unit["id"], AgencyTask.collect
        )
        principal = caller.principal
        role = authorize(principal, target, (Role.admin, Role.unit, Role.agency), write=True, field="unit_id")
        if role == Role.admin:
            return {"kind": "office", "sub": principal.sub, "jurisdiction": principal.jur}
        if role == Role.unit:
            return {"kind": "unit", "sub": principal.sub}
        return {"kind": "agency", "sub": principal.sub, "agency_id": principal.unit}

    def unit_target(
        self, principal: Principal, framework: str, period: str, code: str, unit_id: str | None, task: str | None
    ) -> Target:
        """A unit's data (or a place's) as scope sees it: the agencies assigned there for `task` (None: any task)."""
        agencies: frozenset[str] = frozenset()
        if Role.agency in principal.roles and principal.unit:
            tasks = self.agency_tasks(framework, period, code, principal.unit)
            if tasks and (task is None or task in tasks):
                agencies = frozenset({principal.unit})
        return Target(code, unit=unit_id, agencies=agencies)

    # --- levels -------------------------------------------------------------------------------------------------

    def _level(self, framework: str, period: str, code: str) -> LevelApproval | None:
        lid = level_id(framework, period, code)
        return self.get(lid, LevelApproval) if self.exists(lid) else None

    def _level_or_new(self, framework: str, period: str, code: str) -> LevelApproval:
        return self._level(framework, period, code) or LevelApproval.open(
            framework=framework, period=period, jurisdiction=code
        )

    def approve_level(self, command: ApproveLevel, caller: Caller) -> LevelApproval:
        """Approve a level only when every unit in it is approved and every level below accepted (逐级审核).

        `levels_below` holds each level below with its status as this instance's read model last heard it: that is
        all there is for a level held by a lower instance; a level held here is asked itself."""
        framework, period, code = command.framework, command.period, command.code
        _level_office(caller, code)
        self.framework(framework).version_for(period)
        covered, waiting = {}, []
        for unit in command.units:
            sid = submission_id(framework, period, unit)
            submission = self.get(sid, Submission) if self.exists(sid) else None
            if submission is None or submission.status != SubmissionStatus.approved:
                waiting.append(f"{unit} ({submission.status.value if submission else 'nothing submitted'})")
            else:
                covered[unit] = submission.version
        for below, heard in command.levels_below.items():
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
        if not covered and not command.levels_below:
            raise Conflict(
                f"nothing has been collected under {code} for {framework} {period}",
                field="units",
                rule="nothing_to_approve",
            )
        level = self._level_or_new(framework, period, code)
        level.approve(covered=covered, levels_below=command.levels_below, by=caller.principal.sub, now=command.now)
        self.save_checked(level, envelope=caller.envelope)  # a re-opening below since we looked makes this a 409
        return level

    def unapprove_level(self, command: UnapproveLevel, caller: Caller) -> LevelApproval:
        _level_office(caller, command.code)
        return self.change(
            level_id(command.framework, command.period, command.code),
            LevelApproval,
            None,
            caller.envelope,
            lambda lv: lv.unapprove(reason=command.reason, by=caller.principal.sub, now=command.now),
        )

    def holds_level(self, framework: str, period: str, code: str) -> bool:
        """Whether the level lives in this instance (else in a lower one, and only its events came up)."""
        return self.exists(level_id(framework, period, code))

    def accept_level(self, command: AcceptLevel, caller: Caller) -> LevelApproval | UpperAcceptance:
        """The level above accepts an approved level (上级确认); the level below can no longer un-approve.

        A level held by a lower instance is accepted at the version whose approval reached this one; the acceptance
        goes down and is applied there, and this instance shows it accepted once that comes back up (decision 020)."""
        framework, period, code, by, now = (
            command.framework,
            command.period,
            command.code,
            caller.principal.sub,
            command.now,
        )
        _accepting_office(caller, code)
        if self.holds_level(framework, period, code):
            return self.change(
                level_id(framework, period, code),
                LevelApproval,
                None,
                caller.envelope,
                lambda lv: lv.accept(by=by, now=now),
            )
        heard = command.heard
        if heard is None or heard["status"] != "approved":
            state = (
                "is already accepted"
                if heard and heard["status"] == "accepted"
                else (
                    f"has not approved {framework} {period} ({heard['status'] if heard else 'nothing heard from it yet'});"
                    " its instance approves first, and its approval must reach this one"
                )
            )
            raise RuleViolation(f"{code} {state}", field="status", rule="level_approval_lifecycle")
        aid = acceptance_id(framework, period, code)
        if not self.exists(aid):
            accepted = UpperAcceptance.record(
                framework=framework, period=period, jurisdiction=code, level_version=heard["version"], by=by, now=now
            )
            return self.save_new(accepted, caller.envelope)
        return self.change(
            aid,
            UpperAcceptance,
            None,
            caller.envelope,
            lambda a: a.accept_again(level_version=heard["version"], by=by, now=now),
        )

    def unaccept_level(self, command: UnacceptLevel, caller: Caller) -> LevelApproval | UpperAcceptance:
        """Hand a level back to its own office: here, or through this instance's acceptance when a lower instance
        holds the level (decision 020). Refused while the accepting level itself stands approved."""
        framework, period, code, reason, now = (
            command.framework,
            command.period,
            command.code,
            command.reason,
            command.now,
        )
        _accepting_office(caller, code)
        if self.holds_level(framework, period, code):
            target, kind = level_id(framework, period, code), LevelApproval
        else:
            target, kind = acceptance_id(framework, period, code), UpperAcceptance

        def apply(decision: LevelApproval | UpperAcceptance) -> list[LevelApproval]:
            decision.unaccept(reason=reason, by=caller.principal.sub, now=now)
            above = self._level_or_new(framework, period, parent_level(code))
            above.reopen_below(what=f"level {code}", reason=reason, now=now)
            return [above]

        return self.change(target, kind, None, caller.envelope, apply)

    # --- agencies -----------------------------------------------------------------------------------------------

    def assign_agency(self, command: AssignAgency, caller: Caller) -> AgencyAssignment:
        """Engage a third-party agency to collect or assess a framework's data in the caller's subtree."""
        check_period(command.period)
        check_scope(caller.principal, command.jurisdiction)
        self.framework(command.framework).version_for(command.period)
        assignment = AgencyAssignment.make(
            framework=command.framework,
            period=command.period,
            jurisdiction=command.jurisdiction,
            agency_id=command.agency_id,
            agency_name=command.agency_name,
            task=command.task,
            contract=command.contract,
            made_by=caller.principal.sub,
            made_at=command.now,
        )
        return self.save_new(assignment, caller.envelope)

    def end_assignment(self, command: EndAssignment, caller: Caller) -> AgencyAssignment:
        return self.change(
            command.assignment_id,
            AgencyAssignment,
            None,
            caller.envelope,
            lambda a: a.end(reason=command.reason, by=caller.principal.sub, now=command.now),
            lambda a: check_scope(caller.principal, a.jurisdiction),
        )

    def agency_tasks(self, framework: str, period: str, unit_jurisdiction: str, agency_id: str) -> set[str]:
        """The tasks (collect, assess) of this agency's active assignments covering the place (at its level or above)."""
        tasks = set()
        for code in [unit_jurisdiction, *divisions.ancestors(unit_jurisdiction)]:
            aid = assignment_id(framework, period, code, agency_id)
            if self.exists(aid) and (assignment := self.get(aid, AgencyAssignment)).active:
                tasks.add(assignment.task.value)
        return tasks


# --- which office decides ---------------------------------------------------------------------------------------


def _approver(caller: Caller, jurisdiction: str) -> None:
    """A unit's data are approved (or returned) by the office of its county, not by anyone above or below."""
    check_scope(caller.principal, jurisdiction)  # first who may act here at all; then which office of those
    county = home_level(jurisdiction)
    if caller.principal.jur != county:
        raise Forbidden(f"the office of {county} approves this unit's data", field="jur", rule="approver_level")


def _division(code: str) -> str:
    if not divisions.is_valid_code(code) or len(code) != 6:
        raise InvalidInput(f"{code!r} is not a 6-digit division code of a level", field="code", rule="code_format")
    return code


def _level_office(caller: Caller, code: str) -> None:
    """A level is approved (and un-approved) by its own office."""
    check_scope(caller.principal, _division(code))
    if caller.principal.jur != code:
        raise Forbidden(f"the office of {code} approves its own level", field="jur", rule="approver_level")


def _accepting_office(caller: Caller, code: str) -> None:
    """A level is accepted (and handed back) by the office of the level above it."""
    check_scope(caller.principal, _division(code))
    above = parent_level(code)
    if caller.principal.jur != above:
        raise Forbidden(
            f"the office of {above}, the level above {code}, accepts it", field="jur", rule="acceptor_level"
        )
