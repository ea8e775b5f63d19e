"""What a service declares about itself: its read models (`Projection`), what it does when another service speaks
(`ReactionSpec`), and the pieces of its process (`ServiceParts`). Assembling a process from them is
`dudao.service`'s."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg

from dudao.clock import Clock
from dudao.config import Settings
from dudao.consumer import Handler, Settle
from dudao.effects import Reaction
from dudao.links import Crossings
from dudao.store import ServiceApplication


class Runner(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


@dataclass
class Projection:
    """A read model fed by a durable consumer: its name, the subjects it follows, how it applies events.

    Raise `version` whenever the tables or the handler change meaning: at the next start the
    tables are dropped and rebuilt by a fresh durable consumer that reads the stream from its start.
    """

    name: str
    stream: str
    filter_subject: str
    handler: Handler
    tables: tuple[str, ...] = ()
    version: int = 1
    ordered: bool = False  # events strictly in stream order, also after a retry, for readers that follow positions
    # Work that follows many events, done once in each transaction after the events it applies (an event or a batch
    # live), and once at the end of a rebuild: what a handler marked to be derived again (monitoring's results),
    # derived from the rows as they stand, whatever the events that marked it.
    settle: Settle | None = None
    # Each event writes only rows of its own aggregate (keyed by its id), or inserts that do not depend on order: a
    # batch's writes are then sent grouped by statement across aggregates, each aggregate's in order (decision 040).
    own_rows: bool = False
    # Reads over its tables may be remembered until they change (`dudao.remembered`, decision 044): every transaction
    # that changes them renews its mark.
    remembered: bool = False
    ddl: str = (
        ""  # CREATE ... IF NOT EXISTS for its tables, for the kernel's own read models (the service's: ensure_tables)
    )

    def consumer_name(self, service: str) -> str:
        return f"{service}-{self.name}-v{self.version}"


@dataclass
class ReactionSpec:
    """What this service does when an event it follows arrives (e.g. a term ended → plan a supervision)."""

    name: str
    stream: str
    filter_subject: str
    event_types: frozenset[str]
    react: Reaction


@dataclass
class ServiceParts:
    """The pieces one service contributes to its process."""

    name: str
    application: Callable[[Settings], ServiceApplication]
    ensure_tables: Callable[[asyncpg.Pool], object]
    projections: list[Projection] = field(default_factory=list)
    reactions: list[ReactionSpec] = field(default_factory=list)
    crossings: Crossings = field(default_factory=Crossings)  # what travels to the instances above and below
    on_start: Callable[[ServiceApplication], object] | None = None  # e.g. install shipped reference data
    # Other background loops (e.g. a deadline sweeper), run with the consumers.
    background: list[Callable[[Settings, ServiceApplication, asyncpg.Pool, Clock], Runner]] = field(
        default_factory=list
    )
