"""What inspection does when the registry speaks: a principal's term ended → plan a term-end supervision (S3)."""

from __future__ import annotations

from datetime import date
from uuid import NAMESPACE_URL, UUID, uuid5

from contracts.registry import SchoolPrincipalTermEnded
from dudao.consumer import InboundEvent
from dudao.effects import Reacting
from services.inspection.domain.activity import Activity, ActivityKind, Source, TargetKind
from services.inspection.domain.activity_terms import semester_of
from services.inspection.domain.plan import WorkPlan, plan_id


def term_end_activity_id(school_id: str, term_start: date) -> UUID:
    """One term-end supervision per principal's term, whatever happens to the message."""
    return uuid5(NAMESPACE_URL, f"dudao:principal-term-end:{school_id}:{term_start.isoformat()}")


def plan_principal_term_end(ctx: Reacting, event: InboundEvent) -> None:
    """Every principal gets one comprehensive supervision at the end of each term of office (S3)."""
    ended_term = SchoolPrincipalTermEnded.decode(event)
    school_id, school_name = ended_term.aggregate_id, ended_term.school_name
    activity_id = term_end_activity_id(school_id, ended_term.term_start)
    if ctx.app.exists(activity_id):
        return
    ended = ended_term.ended_on
    month = date(ended.year + (ended.month == 12), ended.month % 12 + 1, 1)  # the month after the term ends
    activity = Activity.plan(
        activity_id=activity_id,
        jurisdiction=ended_term.jurisdiction,
        kind=ActivityKind.principal_term_end,
        title=f"{school_name}校长{ended_term.principal_name}任期结束综合督导",
        target_kind=TargetKind.school,
        target_id=school_id,
        target_name=school_name,
        period=semester_of(month),
        planned_month=month.strftime("%Y-%m"),
        source=Source.principal_term_end,
        now=ended_term.at,  # the upstream event's time: the same on every redelivery
    )
    count = ctx.app.semester_count(school_id, activity.period)  # counted, never refused: the rule plans it
    count.admit(activity_id=activity_id, school_name=school_name, limit=None, override=None)
    changed = [activity, count]
    year_plan = plan_id(ended_term.jurisdiction, month.year)
    if ctx.app.exists(year_plan):  # the supervision also joins that year's work plan, approved or not
        plan = ctx.app.get(year_plan, WorkPlan)
        plan.add_automatic_item(
            item_id=str(activity_id),
            kind=ActivityKind.principal_term_end,
            month=month.month,
            title=activity.title,
            target={
                "target_kind": TargetKind.school.value,
                "target_id": school_id,
                "target_name": school_name,
            },
            source=Source.principal_term_end.value,
        )
        changed.append(plan)
    ctx.save(*changed)
