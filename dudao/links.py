"""Streams between linked instances: what travels up to the upper instance and down to the lower ones.

For each service, an instance keeps (decision 011):

- `DUDAO_<SERVICE>`: the events it records itself, published by its relay and read by its reactions. Each subject
  ends in two tokens that say whether the event travels up and down (`….School.Registered.up.local`).
- `DUDAO_VIEW_<SERVICE>`: what its read models project: its own stream, plus what crosses to it from the
  instances above and below.
- `DUDAO_UP_<SERVICE>_J<code>`: its own events that travel up, plus, when it has an upper instance, the upward
  streams of the instances below, so it passes up its whole subtree and nothing that came from above (decision
  050); and `DUDAO_DOWN_<SERVICE>_J<code>`: its own events that travel down, plus the downward stream of the
  instance above, so it passes down its ancestors' and nothing that came from below. No event ever travels back,
  and each origin's events stay in their order.

The upper instance sources each lower instance's upward streams (`dudao link`); the lower instance sources the
upper's downward streams (`dudao up --upstream`). Nothing crosses by a call from code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any

import nats
from fastapi import APIRouter, Depends, Request
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, ExternalStream, StorageType, StreamConfig, StreamSource
from nats.js.errors import NotFoundError

from dudao import bus, leadership, metrics
from dudao.auth import Principal, Role, require
from dudao.config import Settings
from dudao.errors import Unavailable
from dudao.scope import check_scope
from dudao.stream_changes import changing
from dudao.telemetry import why

log = logging.getLogger("dudao.links")

UP, DOWN = "UP", "DOWN"


@dataclass(frozen=True)
class Crossings:
    """The aggregates of a service whose events cross to other instances, e.g. `upward=("School", "Inspector")`."""

    upward: tuple[str, ...] = ()
    downward: tuple[str, ...] = ()

    def travels(self, aggregate: str) -> tuple[bool, bool]:
        """Whether an aggregate's events go up, and whether they go down."""
        return aggregate in self.upward, aggregate in self.downward


def crossing_stream(direction: str, service: str, jurisdiction: str) -> str:
    """`DUDAO_UP_REGISTRY_J530113`: named per instance, since a stream may not source one of its own name."""
    return f"DUDAO_{direction}_{service.upper()}_J{jurisdiction}"


def crossing_subjects(direction: str, service: str, jurisdiction: str) -> str:
    """This instance's events of `service` that travel in `direction` (see `bus.subject`)."""
    return f"dudao.{jurisdiction}.{service}.*.*.{'up.*' if direction == UP else '*.down'}"


def _from(direction: str, service: str, jurisdiction: str) -> StreamSource:
    """A source from another instance's crossing stream, across the leaf-node link, in that instance's domain."""
    return StreamSource(
        name=crossing_stream(direction, service, jurisdiction),
        external=ExternalStream(api=f"$JS.{bus.domain(jurisdiction)}.API"),
    )


async def ensure(js: JetStreamContext, service: str, jurisdiction: str, upper: str | None) -> None:
    """This instance's streams of `service`, with the sources that come from above when there is an upper instance,
    and the lower instances passed up to it (`pass_up`). Sources that `link_lowers` added stay. Idempotent; run by
    the relay whenever it (re)connects."""
    await bus.ensure_stream(js, service, jurisdiction)
    own = bus.stream_name(service)
    from_above = [_from(DOWN, service, upper)] if upper else []
    await _ensure(js, bus.view_stream(service), [StreamSource(name=own), *from_above])
    await _ensure(
        js,
        crossing_stream(UP, service, jurisdiction),
        [StreamSource(name=own, filter_subject=crossing_subjects(UP, service, jurisdiction))],
    )
    await _ensure(
        js,
        crossing_stream(DOWN, service, jurisdiction),
        [StreamSource(name=own, filter_subject=crossing_subjects(DOWN, service, jurisdiction)), *from_above],
    )
    if upper:
        await pass_up(js, service, jurisdiction)


async def link_lowers(
    js: JetStreamContext, service: str, jurisdiction: str, lowers: list[str], upper: str | None = None
) -> list[bool]:
    """Have this instance's view stream (for its read models) source the lower instances' upward streams of `service`,
    and, when there is an upper instance, its upward stream too (`pass_up`). Idempotent; for each lower instance,
    whether its source is new.

    All sources are added in one change of each stream: nats-server starts the sources a change adds, but one added
    by a second change while the first is starting may wait for its retry (about 30 s).

    While the link is down the lower instance keeps its events; when it returns, JetStream resumes each source where
    it stopped. Consumers keep checkpoints by origin, so the renumbering that sourcing brings changes nothing for
    them (decision 002)."""
    await ensure(js, service, jurisdiction, upper=None)
    sources = [_from(UP, service, lower) for lower in lowers]
    kept = await _sources(js, bus.view_stream(service))
    await _ensure(js, bus.view_stream(service), sources)
    if upper:
        await pass_up(js, service, jurisdiction)
    return [not any(_same(s, k) for k in kept) for s in sources]


async def pass_up(js: JetStreamContext, service: str, jurisdiction: str) -> bool:
    """Have this instance's upward stream source every lower instance its view stream sources, so that what it passes
    up is its whole subtree (decision 050); whether any was added. Only an instance with an upper instance does this:
    its relay at each (re)connect (`ensure`), `dudao link`, and each pass of its `LinkKeeper`, so lowers linked by a
    `dudao link` that did not know of the upper are passed up within a second. At the top (a province, which the
    national platform reads through its API) nothing sources the upward stream, and sourcing the lowers into it too
    made each event from below cross the leaf link twice."""
    below = [s for s in await _sources(js, bus.view_stream(service)) if s.external is not None and _upward(s)]
    return bool(below) and await _ensure(js, crossing_stream(UP, service, jurisdiction), below)


def _upward(source: StreamSource) -> bool:
    """A source from a lower instance's upward stream (`DUDAO_UP_REGISTRY_J530113`)."""
    return source.name.startswith(f"DUDAO_{UP}_")


async def exists_below(nc: Client, service: str, lower: str) -> bool:
    """Whether the lower instance's upward stream of `service` is there (its relay makes it at start). A source added
    before it is there starts once the `LinkKeeper` of this instance's service finds it there (within seconds)."""
    try:
        await nc.jetstream(domain=bus.domain(lower), timeout=1).stream_info(crossing_stream(UP, service, lower))
        return True
    except Exception:
        return False


async def _sources(js: JetStreamContext, name: str) -> list[StreamSource]:
    try:
        return list((await js.stream_info(name)).config.sources or [])
    except NotFoundError:
        return []


async def _ensure(js: JetStreamContext, name: str, sources: list[StreamSource]) -> bool:
    """A stream with no subjects of its own, only sources; add those it lacks (none is ever removed here).
    True when anything changed. Looked at first, and changed only under the stream's lock (`changing`)."""
    with contextlib.suppress(NotFoundError):
        kept = (await js.stream_info(name)).config.sources or []
        if all(any(_same(s, k) for k in kept) for s in sources):
            return False
    async with changing(js, name):
        try:
            config = (await js.stream_info(name)).config
        except NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=name,
                    sources=sources,
                    storage=StorageType.FILE,
                    max_age=0,
                    discard=DiscardPolicy.OLD,
                    duplicate_window=bus.DUPLICATE_WINDOW_S,
                )
            )
            return True
        kept = list(config.sources or [])
        missing = [s for s in sources if not any(_same(s, k) for k in kept)]
        if missing:
            config.sources = kept + missing
            await js.update_stream(config)
        return bool(missing)


def _same(a: StreamSource, b: StreamSource) -> bool:
    return a.name == b.name and (a.external.api if a.external else None) == (b.external.api if b.external else None)


# --- the links' state, and healing them --------------------------------------------------------------------------

CONNECTED_NS = 5 * 1_000_000_000  # a source heard from within this long is connected (it gets heartbeats every second)
RESTARTING = "dudao.restarting."  # + a source's name: stream metadata holding a source a restart removed (`_restart`)


@dataclass(frozen=True)
class LinkState:
    """One link of one service as this instance sees it: what arrives from a lower instance (`up`) or from the upper
    one (`down`), read from this instance's view stream and the server's state of the source."""

    service: str
    direction: str  # "up": from a lower instance; "down": from the upper one
    jurisdiction: str  # the other instance's
    connected: bool
    last_arrived_at: datetime | None  # when its latest event reached this instance's view stream
    last_notification_id: int | None  # that event's number at its origin
    behind: int | None  # events waiting at the other instance, as the source last said; None while not connected

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _connected(active: int | None) -> bool:
    return active is not None and 0 <= active < CONNECTED_NS


def _from_elsewhere(config: StreamConfig) -> dict[str, StreamSource]:
    """The sources of a stream that come from other instances, by name (`DUDAO_UP_REGISTRY_J530113`)."""
    return {s.name: s for s in config.sources or [] if s.external is not None}


async def states(nc: Client, service: str) -> list[LinkState]:
    """The links of `service` into this instance's view stream, each with when it last delivered and how far behind."""
    js = nc.jetstream(timeout=2)
    try:
        info = await js.stream_info(bus.view_stream(service))
    except NotFoundError:
        return []
    elsewhere = _from_elsewhere(info.config)
    found = []
    for source in info.sources or []:
        if source.name not in elsewhere:
            continue
        direction, code = ("up" if _upward(source) else "down"), source.name.rsplit("_J", 1)[1]
        arrived_at, number = None, None
        try:
            last = await js.get_last_msg(bus.view_stream(service), bus.service_subjects(service, code))
            arrived_at, number = last.time, int((last.headers or {}).get(bus.HEADER_NOTIFICATION_ID, 0)) or None
        except NotFoundError:
            pass  # nothing has arrived from it yet
        connected = _connected(source.active)
        found.append(
            LinkState(service, direction, code, connected, arrived_at, number, source.lag if connected else None)
        )
    return found


async def heal(nc: Client, service: str, jurisdiction: str, kicked: dict[tuple[str, str], float]) -> list[str]:
    """Restart each source from another instance that is not connected although that instance's stream answers.

    nats-server retries a broken source on a backoff that reaches most of a minute, so a link back after a cut
    delivered only 40-55 s later (issue 20). A source removed and added again starts at once, from the message after
    the last one it delivered (the server finds it in the stream), so nothing is lost or repeated. `kicked` remembers
    when each was last restarted, so a source still starting is given 5 s. A restart that an earlier pass began and
    could not finish is finished first (`_restart`). The names of the sources restarted.

    The view stream and the crossing streams are healed side by side: adding a source back makes the server scan
    the stream for where that source stopped, seconds for a province's stream, and the view stream (what the read
    models wait for) need not wait for the upward stream's scan."""
    js = nc.jetstream(timeout=10)  # a province's server, busy with a backlog, took 3 s to confirm a stream change
    streams = (
        bus.view_stream(service),
        crossing_stream(UP, service, jurisdiction),
        crossing_stream(DOWN, service, jurisdiction),
    )
    healed = await asyncio.gather(*(_heal(nc, js, stream, kicked) for stream in streams), return_exceptions=True)
    for failed in healed:
        if isinstance(failed, BaseException):
            raise failed
    return [restarted for each in healed for restarted in each]  # type: ignore[union-attr]


async def _heal(nc: Client, js: JetStreamContext, stream: str, kicked: dict[tuple[str, str], float]) -> list[str]:
    restarted = []
    try:
        for name in await _finish_restarts(js, stream):
            restarted.append(f"{stream} <- {name} (added back: its restart had been cut off)")
        info = await js.stream_info(stream)
    except NotFoundError:
        return restarted
    elsewhere = _from_elsewhere(info.config)
    for source in info.sources or []:
        if (
            source.name not in elsewhere
            or _connected(source.active)
            or time.monotonic() - kicked.get((stream, source.name), 0) < 5
        ):
            continue
        if not await _answers(nc, elsewhere[source.name]):
            continue
        await _restart(js, stream, elsewhere[source.name])
        kicked[(stream, source.name)] = time.monotonic()
        restarted.append(f"{stream} <- {source.name}")
    return restarted


async def _answers(nc: Client, source: StreamSource) -> bool:
    """Whether the other instance's stream answers across the link, within a second."""
    try:
        await nc.jetstream(prefix=source.external.api, timeout=1).stream_info(source.name)
        return True
    except Exception:
        return False


async def _restart(js: JetStreamContext, stream: str, source: StreamSource) -> None:
    """Remove `source` from `stream`, then add it back; each change made to the stream's config as it is then, so a
    source that `dudao link` added meanwhile stays.

    The change that removes the source writes it into the stream's metadata, and the change that adds it back clears
    that. A restart cut off between the two (a change the server was too busy to confirm in time, a process killed)
    leaves the source there, and the next pass of any replica's keeper adds it back (`_finish_restarts`): a link is
    never dropped by the restart that was to heal it. Both changes are made under the stream's lock (`changing`)."""
    async with changing(js, stream):
        config = (await js.stream_info(stream)).config
        config.sources = [k for k in config.sources or [] if k.name != source.name]
        config.metadata = {**(config.metadata or {}), RESTARTING + source.name: json.dumps(source.as_dict())}
        await js.update_stream(config)
        await _add_back(js, stream)


async def _finish_restarts(js: JetStreamContext, stream: str) -> list[str]:
    """Add back every source a restart of `stream` removed and has not yet added back; their names. Looked at first,
    and changed only under the stream's lock."""
    if not _restarting((await js.stream_info(stream)).config):
        return []
    async with changing(js, stream):
        return await _add_back(js, stream)


def _restarting(config: StreamConfig) -> dict[str, str]:
    return {k: v for k, v in (config.metadata or {}).items() if k.startswith(RESTARTING)}


async def _add_back(js: JetStreamContext, stream: str) -> list[str]:
    config = (await js.stream_info(stream)).config
    pending = _restarting(config)
    if not pending:
        return []
    kept = list(config.sources or [])
    for removed in pending.values():
        source = StreamSource.from_response(json.loads(removed))
        if not any(_same(source, k) for k in kept):
            kept.append(source)
    config.sources = kept
    config.metadata = {k: v for k, v in config.metadata.items() if k not in pending}
    await js.update_stream(config)
    return [k.removeprefix(RESTARTING) for k in pending]


class LinkKeeper:
    """Restarts this service's broken links as soon as the other side answers, and keeps their state for the metrics.
    One replica keeps them at a time (a PostgreSQL advisory lock, like the relay)."""

    def __init__(self, settings: Settings, service: str, interval: float = 1.0):
        self.settings, self.service, self.interval = settings, service, interval
        self.states: list[LinkState] = []
        metrics.watch_links(self)

    async def run(self, stop: asyncio.Event) -> None:
        key = f"dudao-links:{self.settings.jurisdiction}:{self.service}"
        await leadership.while_leading(
            self.settings.database_url, key, stop, f"links {self.service}", lambda lock: self._keep(stop, lock)
        )

    async def _keep(self, stop: asyncio.Event, lock) -> None:
        nc = await bus.connect(self.settings.nats_url, f"{self.service}-links")
        kicked: dict[tuple[str, str], float] = {}
        try:
            while not stop.is_set() and not lock.is_closed():
                try:
                    if self.settings.upper and await pass_up(
                        nc.jetstream(timeout=10), self.service, self.settings.jurisdiction
                    ):
                        log.info("links %s: the lower instances linked here now pass up too", self.service)
                    for restarted in await heal(nc, self.service, self.settings.jurisdiction, kicked):
                        log.info("link %s restarted: the other side answers again", restarted)
                    self.states = await states(nc, self.service)
                except Exception as e:
                    log.warning("links %s: %s", self.service, why(e))
                await bus.wait_or_stop(stop, self.interval)
        finally:
            self.states = []  # no longer keeping them: another replica's are its own to report
            await nc.close()


# --- reading them ----------------------------------------------------------------------------------------------

router = APIRouter(prefix="/v1/links", tags=["links"])
LinkReader = Annotated[
    Principal, Depends(require(Role.admin, Role.ops, target="this instance's links to other instances"))
]


@router.get("")
async def read_links(request: Request, principal: LinkReader) -> dict[str, Any]:
    """This service's links to other instances (联网状态), read from NATS now: per lower instance (`up`) and the upper
    one (`down`), whether it delivers, when its latest event arrived, that event's number at its origin, and how many
    events wait there. An empty list: nothing is linked (`dudao link` at the upper instance)."""
    settings: Settings = request.app.state.settings
    check_scope(principal, settings.jurisdiction)
    service = request.app.state.application.service
    try:
        nc = await nats.connect(
            settings.nats_url,
            name=f"{service}-links-read",
            connect_timeout=2,
            max_reconnect_attempts=0,
            allow_reconnect=False,
        )
    except Exception as e:
        raise Unavailable(
            "NATS does not answer; the links cannot be read now. Try again shortly",
            field="nats",
            rule="bus_unavailable",
        ) from e
    try:
        return {
            "jurisdiction": settings.jurisdiction,
            "service": service,
            "links": [st.as_dict() for st in await states(nc, service)],
        }
    finally:
        await nc.close()
