"""What the registry does when inspection speaks: member units that joined an activity count toward their minimum."""

from __future__ import annotations

import logging

from dudao.consumer import InboundEvent, Reacting
from services.registry.domain import Committee, committee_id

log = logging.getLogger("dudao.registry.reactions")


def count_member_unit_participation(event: InboundEvent, ctx: Reacting) -> None:
    """An activity's participating member units are recorded on the committee of the activity's jurisdiction."""
    d = event.data
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
