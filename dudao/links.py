"""Streams between linked instances: what travels up to the upper instance and down to the lower ones.

For each service, an instance keeps (decision 011):

- `DUDAO_<SERVICE>`: the events it records itself, published by its relay and read by its reactions. Each subject
  ends in two tokens that say whether the event travels up and down (`….School.Registered.up.local`).
- `DUDAO_VIEW_<SERVICE>`: what its read models project: its own stream, plus what crosses to it from the
  instances above and below.
- `DUDAO_UP_<SERVICE>_J<code>`: its own events that travel up, plus the upward streams of the instances below, so
  it passes up its whole subtree and nothing that came from above; and `DUDAO_DOWN_<SERVICE>_J<code>`: its own
  events that travel down, plus the downward stream of the instance above, so it passes down its ancestors' and
  nothing that came from below. No event ever travels back, and each origin's events stay in their order.

The upper instance sources each lower instance's upward streams (`dudao link`); the lower instance sources the
upper's downward streams (`dudao up --upstream`). Nothing crosses by a call from code.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, ExternalStream, StorageType, StreamConfig, StreamSource
from nats.js.errors import NotFoundError

from dudao import bus

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
        name=crossing_stream(direction, service, jurisdiction), external=ExternalStream(api=f"$JS.{bus.domain(jurisdiction)}.API")
    )


async def ensure(js: JetStreamContext, service: str, jurisdiction: str, upper: str | None) -> None:
    """This instance's streams of `service`, with the sources that come from above when there is an upper instance.
    Sources that `link_lowers` added stay. Idempotent; run by the relay whenever it (re)connects."""
    await bus.ensure_stream(js, service, jurisdiction)
    own = bus.stream_name(service)
    from_above = [_from(DOWN, service, upper)] if upper else []
    await _ensure(js, bus.view_stream(service), [StreamSource(name=own), *from_above])
    await _ensure(js, crossing_stream(UP, service, jurisdiction), [StreamSource(name=own, filter_subject=crossing_subjects(UP, service, jurisdiction))])
    await _ensure(
        js, crossing_stream(DOWN, service, jurisdiction),
        [StreamSource(name=own, filter_subject=crossing_subjects(DOWN, service, jurisdiction)), *from_above],
    )  # fmt: skip


async def link_lowers(js: JetStreamContext, service: str, jurisdiction: str, lowers: list[str]) -> list[bool]:
    """Have this instance's view stream (for its read models) and upward stream (to pass it on) source the lower
    instances' upward streams of `service`. Idempotent; for each lower instance, whether its source is new.

    All sources are added in one change of each stream: nats-server starts the sources a change adds, but one added
    by a second change while the first is starting may wait for its retry (about 30 s).

    While the link is down the lower instance keeps its events; when it returns, JetStream resumes each source where
    it stopped. Consumers keep checkpoints by origin, so the renumbering that sourcing brings changes nothing for
    them (decision 002)."""
    await ensure(js, service, jurisdiction, upper=None)
    sources = [_from(UP, service, lower) for lower in lowers]
    kept = await _sources(js, bus.view_stream(service))
    await _ensure(js, bus.view_stream(service), sources)
    await _ensure(js, crossing_stream(UP, service, jurisdiction), sources)
    return [not any(_same(s, k) for k in kept) for s in sources]


async def exists_below(nc: Client, service: str, lower: str) -> bool:
    """Whether the lower instance's upward stream of `service` is there (its relay makes it at start). A source added
    before it is there starts only after nats-server's retry backoff, a minute or two later."""
    try:
        await nc.jetstream(domain=bus.domain(lower), timeout=1).stream_info(crossing_stream(UP, service, lower))
        return True
    except Exception:  # noqa: BLE001 - not there, or the leaf link not up: either way, not there yet
        return False


async def _sources(js: JetStreamContext, name: str) -> list[StreamSource]:
    try:
        return list((await js.stream_info(name)).config.sources or [])
    except NotFoundError:
        return []


async def _ensure(js: JetStreamContext, name: str, sources: list[StreamSource]) -> bool:
    """A stream with no subjects of its own, only sources; add those it lacks (none is ever removed here).
    True when anything changed."""
    try:
        config = (await js.stream_info(name)).config
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=name, sources=sources, storage=StorageType.FILE, max_age=0, discard=DiscardPolicy.OLD, duplicate_window=120
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
