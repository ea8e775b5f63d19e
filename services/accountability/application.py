"""Accountability application: rectification cases opened from issued reports, and the commands on them."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from dudao.events import Envelope
from dudao.store import ServiceApplication
from services.accountability.domain.case import RectificationCase


class Accountability(ServiceApplication):
    """The accountability service's write side (event store in schema `accountability`)."""

    service = "accountability"

    def on_case(
        self, case: UUID, expected_version: int | None, envelope: Envelope, authorize: Callable[[RectificationCase], None],
        command: Callable[[RectificationCase], None],
    ) -> RectificationCase:  # fmt: skip
        """Feedback, deadlines, unit reports, acceptance or rejection, notices, re-checks, the public statement."""
        return self.change(case, RectificationCase, expected_version, envelope, command, authorize)
