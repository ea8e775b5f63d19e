"""Commands on townships: name one, or rename it."""

from __future__ import annotations

from datetime import datetime

from dudao.events import Envelope
from dudao.store import ServiceApplication
from services.registry.domain.township import Township, township_id


class TownshipCommands(ServiceApplication):
    def name_township(
        self, *, code: str, name: str, now: datetime, expected_version: int | None, envelope: Envelope
    ) -> Township:
        """The first call names the township; later ones rename it (the same name again changes nothing)."""
        if not self.exists(township_id(code)):
            return self.save_new(Township.name_new(code=code, name=name, now=now), envelope)
        return self.change(township_id(code), Township, expected_version, envelope, lambda t: t.rename(name, now))
