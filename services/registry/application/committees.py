"""Commands on supervision committees: constitute, change composition, record meetings and participation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dudao.events import Envelope
from dudao.store import ServiceApplication
from services.registry.domain import Committee, committee_id


class CommitteeCommands(ServiceApplication):
    def constitute_or_change_committee(
        self, *, jurisdiction: str, members: dict[str, Any], now: datetime, expected_version: int | None,
        envelope: Envelope,
    ) -> Committee:  # fmt: skip
        """One committee per jurisdiction: the first call constitutes it, later ones change its make-up."""
        if not self.exists(committee_id(jurisdiction)):
            return self.save_new(Committee.constitute(jurisdiction=jurisdiction, members=members, now=now), envelope)
        return self.change(
            committee_id(jurisdiction), Committee, expected_version, envelope,
            lambda c: c.change_composition(members=members, now=now),
        )  # fmt: skip

    def on_committee(
        self, jurisdiction: str, expected_version: int | None, envelope: Envelope, command: Callable[[Committee], None]
    ) -> Committee:
        """Record a meeting or a member unit's participation."""
        return self.change(committee_id(jurisdiction), Committee, expected_version, envelope, command)


