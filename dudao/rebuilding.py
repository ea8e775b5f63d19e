"""The effect a rebuild (`dudao replay`, `dudao.replay`) applies each event through: the live consumer's, but with its
checkpoints kept in the rebuilding process until the switch hands them to the live tables (decision 051)."""

from __future__ import annotations

from typing import Any

import asyncpg

from dudao.consumer import InboundEvent
from dudao.effects import ProjectionEffect


class Rebuilding(ProjectionEffect):
    """A projection's effect as a rebuild applies it (decision 051): as its live consumer would, but the checkpoints
    that consumer writes with each batch (a tracking row per event, the version each aggregate reached) are kept here
    rather than in the scratch database, and handed to the live consumer once, at the switch. A rebuild is one task
    writing tables nobody else writes, from an empty start, so nothing but this process needs them before then; in
    PostgreSQL they were a fifth of a directory rebuild's work. What a transaction adds is kept only once it has
    committed: a batch that fails and goes one event at a time leaves none of its checkpoints behind."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # origin -> notification id -> stream sequence: about 110 MB a million events (a dict keyed by both, 220 MB)
        self.tracked: dict[str, dict[int, int]] = {}
        self.versions: dict[tuple[str, str], int] = {}  # (origin, aggregate id) -> the version applied
        self._tracking: dict[tuple[str, int], int] = {}  # the open transaction's
        self._moving: dict[tuple[str, str], int] = {}

    async def __call__(self, event: InboundEvent) -> None:
        await self._kept(super().__call__(event))

    async def apply_all(self, events: list[InboundEvent], traced: Any) -> None:
        await self._kept(super().apply_all(events, traced))

    async def _kept(self, applying: Any) -> None:
        try:
            await applying
            for (origin, notification_id), seq in self._tracking.items():
                self.tracked.setdefault(origin, {})[notification_id] = seq
            self.versions.update(self._moving)
        finally:
            self._tracking, self._moving = {}, {}

    async def _insert_tracking(self, conn: asyncpg.Connection, events: list[InboundEvent]) -> set[tuple[str, int]]:
        new = set()
        for e in events:
            key = (e.origin, e.notification_id)
            if key not in self._tracking and e.notification_id not in self.tracked.get(e.origin, ()):
                self._tracking[key] = e.stream_seq
                new.add(key)
        return new

    async def _read_versions(self, conn: asyncpg.Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return {k: v for k in keys if (v := self._moving.get(k, self.versions.get(k))) is not None}

    async def _write_versions(self, conn: asyncpg.Connection, moved: dict[tuple[str, str], int]) -> None:
        self._moving.update(moved)

    async def _apply(self, conn: asyncpg.Connection, event: InboundEvent) -> bool:
        """One event alone (a batch that failed goes one at a time), judged as in a batch of one."""
        if not await self._track_all(conn, [event]):
            return False
        if not self.ordered and not await self._next_versions(conn, [event]):
            return False
        await self.handler(conn, event)
        return True
