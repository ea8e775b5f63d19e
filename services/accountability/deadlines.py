"""Durable deadlines: a sweeper that issues a supervision notice (督办单) for every lapsed deadline, once.

Nothing here remembers anything: each sweep reads which items are past their deadline (a date in
China) from the read model and asks the case to notice the next lapse. The case itself refuses a
lapse already noticed, so a sweep after a restart, a second instance sweeping at the same moment,
or a read model that lags behind can only repeat a no-op (decision 006).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date

import asyncpg

from dudao import bus
from dudao.clock import Clock
from dudao.config import Settings
from dudao.errors import Conflict
from dudao.profiles import effective_from_copy
from services.accountability.application import Accountability
from services.accountability.projections import overdue_items

log = logging.getLogger("dudao.accountability.deadlines")


@dataclass
class Sweep:
    """What one sweep found and did."""

    today: date
    jurisdiction: str
    overdue: int = 0
    noticed: int = 0
    skipped: int = 0


class DeadlineSweeper:
    def __init__(self, settings: Settings, app: Accountability, pool: asyncpg.Pool, clock: Clock):
        self.settings, self.app, self.pool, self.clock = settings, app, pool, clock

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("deadline sweep failed; retrying in %ss", self.settings.sweep_seconds)
            await bus.wait_or_stop(stop, self.settings.sweep_seconds)

    async def sweep(self, within: str | None = None) -> Sweep:
        """Notice every item in `within` (default: this instance's whole subtree) whose deadline passed today in China."""
        result = Sweep(today=self.clock.today(), jurisdiction=within or self.settings.jurisdiction)
        async with self.pool.acquire() as conn:
            rows = await overdue_items(conn, result.today, result.jurisdiction)
            profiles = {
                code: await effective_from_copy(conn, "accountability", code)
                for code in {r["jurisdiction"] for r in rows}
            }
        result.overdue = len(rows)
        for row in rows:
            try:
                await asyncio.to_thread(
                    self.app.notice_overdue,
                    row["case_id"],
                    row["item_id"],
                    row["lapses"] + 1,
                    result.today,
                    profiles[row["jurisdiction"]],
                )
                result.noticed += 1
            except Conflict as refused:  # noticed meanwhile by another sweeper, or accepted: nothing to do
                log.info("item %s of case %s not noticed: %s", row["item_id"], row["case_id"], refused.rule)
                result.skipped += 1
        if rows:
            log.info(
                "deadline sweep on %s: %d overdue, %d noticed, %d skipped",
                result.today,
                result.overdue,
                result.noticed,
                result.skipped,
            )
        return result
