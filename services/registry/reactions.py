"""What the registry does when other services speak: member units that joined an activity count toward their
minimum (inspection); sanctions decided on a private school change its enrolment, head or licence (accountability)."""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from dudao import jurisdiction as divisions
from dudao.consumer import InboundEvent, Reacting, Undeliverable
from services.registry.domain import Committee, EnrolmentStatus, LicenceStatus, School, committee_id

log = logging.getLogger("dudao.registry.reactions")


def count_member_unit_participation(event: InboundEvent, ctx: Reacting) -> None:
    """An activity's participating member units are recorded on the committee of the activity's jurisdiction."""
    d = event.data
    if not divisions.contains(event.envelope.jurisdiction, d["jurisdiction"]):
        raise Undeliverable(
            f"participation recorded by the office of {event.envelope.jurisdiction} for an activity of {d['jurisdiction']},"
            " outside it: not counted",
            reason="out_of_scope",
        )
    committee_key = committee_id(d["jurisdiction"])
    if not ctx.app.exists(committee_key):
        log.info("no committee in %s yet; participation of %s not counted", d["jurisdiction"], d["unit_names"])
        return
    committee = ctx.app.get(committee_key, Committee)
    members = {u["name"] for u in committee.member_units}
    for name in d["unit_names"]:
        if name in members:
            committee.record_participation(unit_name=name, activity_id=event.aggregate_id, year=d["year"])
        else:
            log.info("%s is not a member unit of the committee of %s; not counted", name, d["jurisdiction"])
    ctx.save(committee)


def apply_sanction(event: InboundEvent, ctx: Reacting) -> None:
    """An accountability decision's sanction (问责处理) on a private school, applied to the school once."""
    d = event.data
    school: School = ctx.app.get(UUID(d["school_id"]), School)
    office = event.envelope.jurisdiction
    if not divisions.contains(office, school.jurisdiction):  # re-checked where it lands, whatever the decision said
        raise Undeliverable(
            f"decision {event.aggregate_id} by the office of {office} names school {school.id} of {school.jurisdiction},"
            f" outside {office}: sanction {d['sanction']} not applied",
            reason="out_of_scope",
        )
    now = datetime.fromisoformat(d["timestamp"])  # the decision's time: the same on every redelivery
    match d["sanction"]:
        case "cut_enrolment_plan":
            school.change_enrolment_status(status=EnrolmentStatus.plan_reduced, sanction_ref=d["sanction_ref"], now=now)
        case "stop_enrolment":
            school.change_enrolment_status(status=EnrolmentStatus.stopped, sanction_ref=d["sanction_ref"], now=now)
        case "replace_head":
            school.order_head_replacement(sanction_ref=d["sanction_ref"], now=now)
        case "revoke_licence" if school.licence is not LicenceStatus.revoked:
            school.revoke_licence(sanction_ref=d["sanction_ref"], now=now)
    ctx.save(school)
