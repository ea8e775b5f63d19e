"""Monitoring's rules through its application: who enters a unit's data, the county that approves it, the level
that approves everything under it only once all of it is approved, and the level above whose acceptance locks it."""

from __future__ import annotations

from services.monitoring.application import Monitoring
from services.monitoring.commands import (
    AcceptLevel,
    ApproveLevel,
    ApproveSubmission,
    EnterValues,
    OpenPeriod,
    Submit,
    UnapproveLevel,
    UnapproveSubmission,
)
from services.monitoring.domain.collection import Submission, parent_level
from tests.application.conftest import NOW, refused
from tests.factories import COUNTY as VALUES
from tests.factories import caller

FRAMEWORK, PERIOD, COUNTY = "balanced_development", "2025-2026", "500120"
ABOVE = parent_level(COUNTY)


def school(name: str) -> dict:
    return {
        "kind": "school",
        "id": name,
        "name": f"{name}校",
        "jurisdiction": COUNTY,
        "stage": "primary",
        "locality": "urban",
    }


def opened(app: Monitoring) -> Monitoring:
    app.open_period(OpenPeriod(code=FRAMEWORK, period=PERIOD, now=NOW), caller(COUNTY))
    return app


def submitted(app: Monitoring, name: str) -> Submission:
    unit = caller(COUNTY, roles=("unit",), unit=name)
    app.enter_values(EnterValues(FRAMEWORK, PERIOD, school(name), VALUES[name][1], NOW), unit)
    return app.submit(Submit(FRAMEWORK, PERIOD, school(name), NOW), unit)


def approved(app: Monitoring, name: str) -> Submission:
    submitted(app, name)
    return app.approve_submission(ApproveSubmission(FRAMEWORK, PERIOD, name, NOW), caller(COUNTY))


def test_a_unit_enters_and_submits_its_own_data_only(monitoring):
    opened(monitoring)

    refused(
        lambda: monitoring.enter_values(
            EnterValues(FRAMEWORK, PERIOD, school("A"), VALUES["A"][1], NOW), caller(roles=("unit",), unit="B")
        ),
        403,
        "own_unit_only",
    )
    assert str(submitted(monitoring, "A").status) == "submitted"


def test_the_county_office_approves_a_units_data_and_the_office_above_does_not(monitoring):
    opened(monitoring)
    submitted(monitoring, "A")

    refused(
        lambda: monitoring.approve_submission(ApproveSubmission(FRAMEWORK, PERIOD, "A", NOW), caller(ABOVE)),
        403,
        "approver_level",
    )
    assert (
        str(monitoring.approve_submission(ApproveSubmission(FRAMEWORK, PERIOD, "A", NOW), caller(COUNTY)).status)
        == "approved"
    )


def test_a_level_approves_only_once_every_unit_under_it_is_approved(monitoring):
    opened(monitoring)
    approved(monitoring, "A")
    submitted(monitoring, "B")
    level = ApproveLevel(FRAMEWORK, PERIOD, COUNTY, units=["A", "B"], levels_below={}, now=NOW)

    problem = refused(lambda: monitoring.approve_level(level, caller(COUNTY)), 409, "units_below_not_approved")
    assert problem.extra["waiting"] == ["B (submitted)"]

    monitoring.approve_submission(ApproveSubmission(FRAMEWORK, PERIOD, "B", NOW), caller(COUNTY))
    assert str(monitoring.approve_level(level, caller(COUNTY)).status) == "approved"


def test_an_approved_level_locks_its_units_data_until_it_unapproves(monitoring):
    opened(monitoring)
    approved(monitoring, "A")
    monitoring.approve_level(ApproveLevel(FRAMEWORK, PERIOD, COUNTY, ["A"], {}, NOW), caller(COUNTY))

    refused(
        lambda: monitoring.enter_values(
            EnterValues(FRAMEWORK, PERIOD, school("A"), VALUES["A"][1], NOW), caller(COUNTY)
        ),
        409,
        "locked_by_level_approval",
    )
    refused(
        lambda: monitoring.unapprove_submission(
            UnapproveSubmission(FRAMEWORK, PERIOD, "A", "核对", NOW), caller(COUNTY)
        ),
        409,
        "locked_by_level_approval",
    )
    monitoring.unapprove_level(UnapproveLevel(FRAMEWORK, PERIOD, COUNTY, "A校数据需核实", NOW), caller(COUNTY))
    reopened = monitoring.unapprove_submission(UnapproveSubmission(FRAMEWORK, PERIOD, "A", "核对", NOW), caller(COUNTY))
    assert str(reopened.status) == "returned"  # to the unit, to correct and submit again


def test_the_level_above_accepts_and_then_the_county_can_no_longer_unapprove(monitoring):
    opened(monitoring)
    approved(monitoring, "A")
    monitoring.approve_level(ApproveLevel(FRAMEWORK, PERIOD, COUNTY, ["A"], {}, NOW), caller(COUNTY))

    refused(
        lambda: monitoring.accept_level(AcceptLevel(FRAMEWORK, PERIOD, COUNTY, None, NOW), caller(COUNTY)),
        403,
        "acceptor_level",
    )
    monitoring.accept_level(AcceptLevel(FRAMEWORK, PERIOD, COUNTY, None, NOW), caller(ABOVE))

    refused(
        lambda: monitoring.unapprove_level(UnapproveLevel(FRAMEWORK, PERIOD, COUNTY, "再核", NOW), caller(COUNTY)),
        409,
        "level_approval_lifecycle",
    )


def test_only_the_instances_own_office_opens_a_period(monitoring):
    refused(
        lambda: monitoring.open_period(OpenPeriod(FRAMEWORK, PERIOD, NOW), caller(ABOVE)),
        403,
        "instance_office_only",
    )
    refused(lambda: monitoring.open_period(OpenPeriod(FRAMEWORK, PERIOD, NOW), caller("500118")), 403, "out_of_scope")
