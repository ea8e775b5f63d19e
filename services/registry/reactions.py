"""What the registry does when other services speak: member units that joined an activity count toward their
minimum (inspection); sanctions decided on a private school change its enrolment, head or licence (accountability)."""

from __future__ import annotations

import logging
from uuid import UUID

from contracts.accountability import SanctionImposed
from contracts.inspection import ActivityMemberUnitsParticipated
from dudao import jurisdiction as divisions
from dudao.consumer import InboundEvent, Undeliverable
from dudao.effects import Reacting
from services.registry.domain import Committee, EnrolmentStatus, LicenceStatus, School, committee_id

log = logging.getLogger("dudao.registry.reactions")


def count_member_unit_participation(ctx: Reacting, event: InboundEvent) -> None:
    """An activity's participating member units are recorded on the committee of the activity's jurisdiction."""
    took_part = ActivityMemberUnitsParticipated.decode(event)
    place = took_part.jurisdiction
    if not divisions.contains(event.envelope.jurisdiction, place):
        raise Undeliverable(
            f"participation recorded by the office of {event.envelope.jurisdiction} for an activity of {place},"
            " outside it: not counted",
            reason="out_of_scope",
        )
    committee_key = committee_id(place)
    if not ctx.app.exists(committee_key):
        log.info("no committee in %s yet; participation of %s not counted", place, took_part.unit_names)
        return
    committee = ctx.app.get(committee_key, Committee)
    members = {u["name"] for u in committee.member_units}
    for name in took_part.unit_names:
        if name in members:
            committee.record_participation(unit_name=name, activity_id=took_part.aggregate_id, year=took_part.year)
        else:
            log.info("%s is not a member unit of the committee of %s; not counted", name, place)
    ctx.save(committee)


def apply_sanction(ctx: Reacting, event: InboundEvent) -> None:
    """An accountability decision's sanction (问责处理) on a private school, applied to the school once."""
    imposed = SanctionImposed.decode(event)
    school: School = ctx.app.get(UUID(imposed.school_id), School)
    office = event.envelope.jurisdiction
    if not divisions.contains(office, school.jurisdiction):  # re-checked where it lands, whatever the decision said
        raise Undeliverable(
            f"decision {imposed.aggregate_id} by the office of {office} names school {school.id} of"
            f" {school.jurisdiction}, outside {office}: sanction {imposed.sanction} not applied",
            reason="out_of_scope",
        )
    ref, now = imposed.sanction_ref, imposed.at  # the decision's time: the same on every redelivery
    match imposed.sanction:
        case "cut_enrolment_plan":
            school.change_enrolment_status(status=EnrolmentStatus.plan_reduced, sanction_ref=ref, now=now)
        case "stop_enrolment":
            school.change_enrolment_status(status=EnrolmentStatus.stopped, sanction_ref=ref, now=now)
        case "replace_head":
            school.order_head_replacement(sanction_ref=ref, now=now)
        case "revoke_licence" if school.licence is not LicenceStatus.revoked:
            school.revoke_licence(sanction_ref=ref, now=now)
    ctx.save(school)
