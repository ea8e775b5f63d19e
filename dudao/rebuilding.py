"""The effect a rebuild (`dudao replay`, `dudao.replay`) applies each event through: the live consumer's, but with its
checkpoints and its claims of ids kept in the rebuilding process, and the instance's own event store asked in the live
database (decisions 051 and 053)."""

from __future__ import annotations

from typing import Any

import asyncpg

from dudao.consumer import InboundEvent
from dudao.effects import ProjectionEffect
from dudao.origins import KeptApart


class Rebuilding(ProjectionEffect):
    """A projection's effect as a rebuild applies it (decision 051): as its live consumer would, but the checkpoints
    that consumer writes with each batch (a tracking row per event, the version each aggregate reached) are kept here
    rather than in the scratch database, and handed to the live consumer once, at the switch (those that decide there:
    decision 057). A rebuild is one task writing tables nobody else writes, from an empty start, so nothing but this
    process needs them before then; in PostgreSQL they were a fifth of a directory rebuild's work. So are the ids its
    handler claims by origin (decision 053): in the scratch database, `aggregate_origins` is read and written by the
    rebuild alone, and claiming each batch's ids there was a round trip that PostgreSQL and the rebuild each waited
    on in turn. What a transaction adds is kept only once it has committed: a batch that fails and goes one event at a
    time leaves none of its checkpoints or claims behind.

    `claims` (id -> the origin holding it) may be shared by the projections one rebuild applies in turn, as they
    shared the scratch database's `aggregate_origins`, and the live consumers share the live one. `own_store` is the
    live database, where the instance's event store is: which ids from another instance of the service it holds too
    (decision 027) is asked there."""

    def __init__(
        self,
        *args: Any,
        claims: dict[str, str] | None = None,
        own_store: asyncpg.Pool | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        # origin -> notification id -> stream sequence: about 110 MB a million events (a dict keyed by both, 220 MB)
        self.tracked: dict[str, dict[int, int]] = {}
        self.versions: dict[tuple[str, str], int] = {}  # (origin, aggregate id) -> the version applied
        self.claims: dict[str, str] = {} if claims is None else claims
        self._tracking: dict[tuple[str, int], int] = {}  # the open transaction's
        self._moving: dict[tuple[str, str], int] = {}
        self._claiming: dict[str, str] = {}
        if isinstance(self.handler, KeptApart):
            if own_store is None:  # the scratch database would answer that the store holds none of them
                raise TypeError("a rebuild of a handler kept apart by origin asks own_store, the live database")
            self.handler = _ClaimingHere(self.handler, self, own_store)

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
            self.claims.update(self._claiming)
        finally:
            self._tracking, self._moving, self._claiming = {}, {}, {}

    def claim(self, first: dict[str, str]) -> dict[str, str]:
        """`KeptApart`'s claim, here: each id of `first` for the origin it names, unless an origin holds it already
        (before this transaction, or earlier in it); who holds each."""
        held = {}
        for aggregate_id, origin in first.items():
            holder = self.claims.get(aggregate_id)
            held[aggregate_id] = holder if holder is not None else self._claiming.setdefault(aggregate_id, origin)
        return held

    async def _changed(self, conn: asyncpg.Connection) -> None:
        """Nothing after each transaction: the rebuild settles once, at its end (`replay._settle_rebuilt`), and the
        switch renews the live read model's mark (decision 044); a mark in the scratch database is read by nobody."""

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


class _ClaimingHere(KeptApart):
    """A handler kept apart by origin whose claims are the rebuild's (`Rebuilding.claim`), not the scratch database's,
    and which asks the instance's own event store, in the live database, which ids it holds: the scratch database has
    no event store, and a rebuilt read model is to show what the live one shows."""

    def __init__(self, kept: KeptApart, rebuilding: Rebuilding, own_store: asyncpg.Pool):
        super().__init__(kept.handler, kept.schema, kept.jurisdiction)
        self._rebuilding, self._own_store = rebuilding, own_store

    async def _claim(self, conn: asyncpg.Connection, first: dict[str, str]) -> dict[str, str]:
        return self._rebuilding.claim(first)

    async def _own_store_holding(self, conn: asyncpg.Connection, aggregate_ids: set[str]) -> set[str]:
        if not aggregate_ids:
            return set()
        async with self._own_store.acquire() as live:
            return await super()._own_store_holding(live, aggregate_ids)
