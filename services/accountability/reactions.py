"""What accountability does when inspection speaks: an issued report opens one rectification case (整改)."""

from __future__ import annotations

from datetime import date, datetime

from dudao.consumer import InboundEvent, Reacting
from services.accountability.domain.case import RectificationCase, case_id


def open_rectification_case(event: InboundEvent, ctx: Reacting) -> None:
    """One case per issued report, one item per finding that needs rectification; nothing to open without one."""
    d = event.data
    if not d["findings"] or ctx.app.exists(case_id(event.aggregate_id)):
        return
    case = RectificationCase.open(
        activity_id=event.aggregate_id,
        jurisdiction=d["jurisdiction"],
        unit_kind=d["target_kind"],
        unit_id=d["target_id"],
        unit_name=d["target_name"],
        activity_title=d["title"],
        findings=d["findings"],
        now=datetime.fromisoformat(d["timestamp"]),  # the upstream event's time: the same on every redelivery
        report_issued_on=date.fromisoformat(d["issued_on"]),
    )
    ctx.save(case)
