"""Commands on townships: name one, or rename it."""

from __future__ import annotations

from dudao.commands import Caller
from dudao.scope import check_scope
from dudao.store import ServiceApplication
from services.registry.commands import NameTownship
from services.registry.domain.township import Township, township_id


class TownshipCommands(ServiceApplication):
    def name_township(self, command: NameTownship, caller: Caller) -> Township:
        """The first call names the township; later ones rename it (the same name again changes nothing)."""
        check_scope(caller.principal, command.code)
        code, name, now = command.code, command.name, command.now
        if not self.exists(township_id(code)):
            return self.save_new(Township.name_new(code=code, name=name, now=now), caller.envelope)
        return self.act(township_id(code), Township, caller, lambda t: t.rename(name, now))
