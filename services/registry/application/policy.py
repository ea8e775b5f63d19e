"""Commands on policy profiles: install the shipped ones, change a jurisdiction's own values."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dudao.commands import Caller
from dudao.errors import Conflict, PreconditionFailed
from dudao.events import Envelope
from dudao.scope import check_scope
from dudao.store import ServiceApplication
from services.registry.commands import ChangeProfile
from services.registry.domain import PolicyProfile, profile_id
from services.registry.domain.policy import check_only_tightens, validate_values

SHIPPED = Path(__file__).resolve().parent.parent / "policy_profiles"
log = logging.getLogger("dudao.registry.policy")


def shipped_profiles() -> list[dict[str, Any]]:
    """The profiles for the places in the policy documents, as files in the repository."""
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(SHIPPED.glob("*.json"))]


class PolicyCommands(ServiceApplication):
    def change_profile(self, command: ChangeProfile, caller: Caller) -> PolicyProfile:
        """Override keys for a jurisdiction (creating its profile on first use); each change is a new version. A value
        may tighten what the levels above set, never loosen it (409 policy_loosened)."""
        check_scope(caller.principal, command.jurisdiction)
        if command.upper is not None:
            check_only_tightens(validate_values(command.set_values), command.upper)
        jurisdiction, set_values, reason, now = command.jurisdiction, command.set_values, command.reason, command.now
        if not self.exists(profile_id(jurisdiction)):
            profile = PolicyProfile.create(jurisdiction=jurisdiction, values=set_values, reason=reason, now=now)
            return self.save_new(profile, caller.envelope)
        return self.act(
            profile_id(jurisdiction),
            PolicyProfile,
            caller,
            lambda p: p.change(set_values=set_values, remove=command.remove, reason=reason, now=now),
        )

    def install_shipped_profiles(self) -> int:
        """Create the shipped profiles that do not exist yet, and add keys a later release ships.

        A place's own changes are never overwritten: a key the profile has, or once removed, is left alone.
        """
        installed = 0
        for shipped in shipped_profiles():
            code = shipped["jurisdiction"]
            if self.exists(profile_id(code)):
                self._add_shipped_keys(code, shipped)
                continue
            profile = PolicyProfile.create(
                jurisdiction=code, values=shipped["values"], reason=shipped["reason"], now=datetime.now(UTC)
            )
            try:
                self.save_new(profile, self._shipped_envelope(code, f"shipped-profile:{code}", shipped))
                installed += 1
            except Conflict:  # another replica installed a different release's file first: keep it
                log.info("policy profile %s was installed meanwhile", code)
        return installed

    def _add_shipped_keys(self, code: str, shipped: dict[str, Any]) -> None:
        profile = self.get(profile_id(code), PolicyProfile)
        removed = getattr(profile, "removed_keys", set())
        new = {k: v for k, v in shipped["values"].items() if k not in profile.values and k not in removed}
        if not new:
            return
        reason = f"keys added by a later release ({', '.join(sorted(new))}): {shipped['reason']}"
        envelope = self._shipped_envelope(code, f"shipped-profile:{code}:{','.join(sorted(new))}", new)
        try:
            self.change(
                profile_id(code),
                PolicyProfile,
                profile.version,
                envelope,
                lambda p: p.change(set_values=new, remove=[], reason=reason, now=datetime.now(UTC)),
            )
            log.info("policy profile %s: added %s from the shipped file", code, ", ".join(sorted(new)))
        except (Conflict, PreconditionFailed):  # another replica added them first
            log.info("policy profile %s changed meanwhile; shipped keys left for the next start", code)

    @staticmethod
    def _shipped_envelope(code: str, key: str, body: dict[str, Any]) -> Envelope:
        return Envelope.for_request(
            actor="dudao-shipped-profiles",
            jurisdiction=code,
            idempotency_key=key,
            request_hash=hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
        )
