"""Commands on supervision committees: constitute, change composition, record meetings and participation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dudao.events import Envelope
from dudao.store import ServiceApplication
from services.registry.domain import Committee, committee_id
from services.registry.domain.committee import MEMBER_FIELDS


class CommitteeCommands(ServiceApplication):
    def constitute_or_change_committee(
        self,
        *,
        jurisdiction: str,
        members: dict[str, Any],
        now: datetime,
        expected_version: int | None,
        envelope: Envelope,
    ) -> Committee:
        """One committee per jurisdiction: the first call constitutes it, later ones change its make-up.

        Each member unit's contact phone is sealed with a key of its own (decision 019), so that the contact's number
        can be erased; the person is named `committee:<code>:<unit>`. The sealed phones are folded into the request
        hash, which the route made without them.
        """
        members = {
            **members,
            "member_units": [
                {
                    **u,
                    "contact_phone": self.keys.seal(
                        f"committee:{jurisdiction}:{u['name']}", jurisdiction, u["contact_phone"]
                    ),
                }
                for u in members.get("member_units", [])
            ],
        }
        envelope = envelope.also_hashing([u["contact_phone"] for u in members["member_units"]])
        if not self.exists(committee_id(jurisdiction)):
            return self.save_new(Committee.constitute(jurisdiction=jurisdiction, members=members, now=now), envelope)
        return self.change(
            committee_id(jurisdiction),
            Committee,
            expected_version,
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

    def on_committee(
        self, jurisdiction: str, expected_version: int | None, envelope: Envelope, command: Callable[[Committee], None]
    ) -> Committee:
        """Record a meeting or a member unit's participation."""
        return self.change(committee_id(jurisdiction), Committee, expected_version, envelope, command)
