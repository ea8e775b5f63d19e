"""Commands on supervision committees: constitute, change composition, record meetings and participation."""

from __future__ import annotations

from typing import Any

from dudao.commands import Caller
from dudao.scope import check_scope
from dudao.store import ServiceApplication
from services.registry.commands import ConstituteOrChangeCommittee, RecordMeeting, RecordParticipation
from services.registry.domain import Committee, committee_id
from services.registry.domain.committee import MEMBER_FIELDS


class CommitteeCommands(ServiceApplication):
    def constitute_or_change_committee(self, command: ConstituteOrChangeCommittee, caller: Caller) -> Committee:
        """One committee per jurisdiction: the first call constitutes it, later ones change its make-up.

        Each member unit's contact phone is sealed with a key of its own (decision 019), so that the contact's number
        can be erased; the person is named `committee:<code>:<unit>`. The sealed phones are folded into the request
        hash, which the route made without them.
        """
        jurisdiction, now = command.jurisdiction, command.now
        check_scope(caller.principal, jurisdiction)
        members = {
            **command.members,
            "member_units": [
                {
                    **u,
                    "contact_phone": self.keys.seal(
                        f"committee:{jurisdiction}:{u['name']}", jurisdiction, u["contact_phone"]
                    ),
                }
                for u in command.members.get("member_units", [])
            ],
        }
        envelope = caller.envelope.also_hashing([u["contact_phone"] for u in members["member_units"]])
        if not self.exists(committee_id(jurisdiction)):
            return self.save_new(Committee.constitute(jurisdiction=jurisdiction, members=members, now=now), envelope)
        return self.change(
            committee_id(jurisdiction),
            Committee,
            caller.expected_version,
            envelope,
            lambda c: c.change_composition(members=members, now=now),
        )

    def revealed_members(self, committee: Committee) -> dict[str, Any]:
        """The committee's make-up with the contact phones in plain, as far as their keys still exist (else ERASED)."""
        members = {k: getattr(committee, k) for k in MEMBER_FIELDS}
        members["member_units"] = [
            {**u, "contact_phone": self.keys.reveal(u["contact_phone"])} for u in committee.member_units
        ]
        return members

    def record_meeting(self, command: RecordMeeting, caller: Caller) -> Committee:
        """A committee meeting; those on education count toward the yearly minimum (O1)."""
        check_scope(caller.principal, command.jurisdiction)
        return self.act(
            committee_id(command.jurisdiction),
            Committee,
            caller,
            lambda c: c.record_meeting(
                held_on=command.held_on,
                topic=command.topic,
                on_education=command.on_education,
                minutes_ref=command.minutes_ref,
                today=command.today,
            ),
        )

    def record_participation(self, command: RecordParticipation, caller: Caller) -> Committee:
        """A member unit took part in a supervision activity."""
        check_scope(caller.principal, command.jurisdiction)
        return self.act(
            committee_id(command.jurisdiction),
            Committee,
            caller,
            lambda c: c.record_participation(
                unit_name=command.unit_name, activity_id=command.activity_id, year=command.year
            ),
        )
