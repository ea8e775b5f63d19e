"""Who gives a command, and how: the caller every application method takes with its command object.

A route parses the request into a command object (a frozen dataclass named for the command, in the service's
`commands` module) and a `Caller`, calls the application method named for the command, and answers with what it
returns. The application method loads the aggregate once, checks the caller against it (role, jurisdiction
subtree, own unit, team), the `If-Match` version and the idempotency key, applies the command and saves. No web
framework here: the fast tier builds callers directly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from dudao.callers import Principal
from dudao.events import Envelope
from dudao.scope import check_scope


@dataclass(frozen=True)
class Caller:
    """The verified principal (the scope value every rule checks against), the envelope the command's events carry,
    the version the caller last saw (`If-Match`, None: unconditional) and, for a command that creates an aggregate,
    the id it makes (the same for a retry with the same `Idempotency-Key`)."""

    principal: Principal
    envelope: Envelope
    expected_version: int | None = None
    new_id: UUID | None = None

    @property
    def made_id(self) -> UUID:
        if self.new_id is None:
            raise ValueError("a creating command needs Caller.new_id")
        return self.new_id


def in_scope(caller: Caller) -> Callable[[Any], None]:
    """The check for a command on a record of a place: the record's jurisdiction lies inside the caller's."""
    return lambda record: check_scope(caller.principal, record.jurisdiction)
