"""What accountability does when inspection speaks: an issued report opens one rectification case (整改)."""

from __future__ import annotations

from contracts.inspection import ActivityReportIssued
from dudao.consumer import InboundEvent
from dudao.effects import Reacting
from services.accountability.domain.case import RectificationCase, case_id


def open_rectification_case(ctx: Reacting, event: InboundEvent) -> None:
    """One case per issued report, one item per finding that needs rectification; nothing to open without one."""
    report = ActivityReportIssued.decode(event)
    if not report.findings or ctx.app.exists(case_id(report.aggregate_id)):
        return
    case = RectificationCase.open(
        activity_id=report.aggregate_id,
        jurisdiction=report.jurisdiction,
        unit_kind=report.target_kind,
        unit_id=report.target_id,
        unit_name=report.target_name,
        activity_title=report.title,
        findings=report.findings,
        now=report.at,  # the upstream event's time: the same on every redelivery
        report_issued_on=report.issued_on,
    )
    ctx.save(case)
