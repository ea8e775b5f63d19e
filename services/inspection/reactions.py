"""What inspection does when the registry speaks: a principal's term ended → plan a term-end supervision (S3)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from dudao.consumer import InboundEvent, Reacting
from services.inspection.domain.activity import Activity, ActivityKind, Source, TargetKind
from services.inspection.domain.activity_terms import semester_of
from services.inspection.domain.plan import WorkPlan, plan_id


def term_end_activity_id(school_id: str, term_start: str) -> UUID:
    """One term-end supervision per principal's term, whatever happens to the message."""
    return uuid5(NAMESPACE_URL, f"dudao:principal-term-end:{school_id}:{term_start}")


def plan_principal_term_end(event: InboundEvent, ctx: Reacting) -> None:
    """Every principal gets one comprehensive supervision at the end of each term of office (S3)."""
    d = event.data
    activity_id = term_end_activity_id(event.aggregate_id, d["term_start"])
    if ctx.app.exists(activity_id):
        return
    ended = date.fromisoformat(d["ended_on"])
    month = date(ended.year + (ended.month == 12), ended.month % 12 + 1, 1)  # the month after the term ends
    activity = Activity.plan(
        activity_id=activity_id,
        jurisdiction=d["jurisdiction"],
        kind=ActivityKind.principal_term_end,
        title=f"{d['school_name']}校长{d['principal_name']}任期结束综合督导",
        target_kind=TargetKind.school,
        target_id=event.aggregate_id,
        target_name=d["school_name"],
        period=semester_of(month),
        planned_month=month.strftime("%Y-%m"),
        source=Source.principal_term_end,
        now=datetime.fromisoformat(d["timestamp"]),  # the upstream event's time: the same on every redelivery
    )
    count = ctx.app.semester_count(event.aggregate_id, activity.period)  # counted, never refused: the rule plans it
    count.admit(activity_id=activity_id, school_name=d["school_name"], limit=None, override=None)
    changed = [activity, count]
    year_plan = plan_id(d["jurisdiction"], month.year)
    if ctx.app.exists(year_plan):  # the supervision also joins that year's work plan, approved or not
        plan = ctx.app.get(year_plan, WorkPlan)
        plan.add_automatic_item(
            item_id=str(activity_id),
            kind=ActivityKind.principal_term_end,
            month=month.month,
            title=activity.title,
            target={
                "target_kind": TargetKind.school.value,
                "target_id": event.aggregate_id,
                "target_name": d["school_name"],
            },
            source=Source.principal_term_end.value,
        )
        changed.append(plan)
    ctx.save(*changed)
