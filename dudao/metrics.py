"""The metrics an ops team watches: events appended, relay lag, consumer lag, events processed, dead letters, links,
and how the gateway answered start pages.

OpenTelemetry instruments on the global meter provider: every process serves them at `/metrics` in Prometheus' text
format (dots become underscores, counters end in `_total`; `deploy/grafana/dudao.json` plots them), and
`dudao.telemetry.setup` also exports them over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (request latency,
`http.server.duration`, comes from the FastAPI instrumentation). The lags are gauges
observed at each collection from the relays and consumers alive in the process; `/readyz` shows the same figures.

| metric | kind | attributes |
| --- | --- | --- |
| `dudao.events.appended` | counter | service, event |
| `dudao.relay.lag` | gauge: events stored but not yet in the stream | service |
| `dudao.consumer.lag` | gauge: messages in the stream not yet processed | service, consumer |
| `dudao.consumer.processed` | counter | service, consumer |
| `dudao.consumer.dead_letters` | counter | service, consumer |
| `dudao.link.connected` | gauge: 1 while a link to another instance delivers, else 0 | service, direction, jurisdiction |
| `dudao.link.behind` | gauge: events waiting at the other instance (while connected) | service, direction, jurisdiction |
| `dudao.link.since_last_arrival` | gauge: seconds since the link's latest event arrived | service, direction, jurisdiction |
| `dudao.gateway.start_pages` | counter: start pages the gateway answered (decision 047) | answered: from_memory, kept, computed |
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from dudao.telemetry import why

log = logging.getLogger("dudao.metrics")

_meter = metrics.get_meter("dudao")
EVENTS_APPENDED = _meter.create_counter(
    "dudao.events.appended", unit="{event}", description="events stored in an event store"
)
PROCESSED = _meter.create_counter("dudao.consumer.processed", unit="{event}", description="events a consumer applied")
DEAD_LETTERS = _meter.create_counter(
    "dudao.consumer.dead_letters", unit="{event}", description="events a consumer gave up on"
)
START_PAGES = _meter.create_counter(
    "dudao.gateway.start_pages",
    unit="{page}",
    description="start pages the gateway answered (decision 047), by `answered`: from_memory, kept (computed and"
    " remembered) or computed (not remembered: an error, a read without marks, marks not known)",
)


class Lagging(Protocol):
    service: str

    def lag(self) -> int | None: ...


_relays: weakref.WeakSet[Lagging] = weakref.WeakSet()
_consumers: weakref.WeakSet[Lagging] = weakref.WeakSet()


def watch_relay(relay: Lagging) -> None:
    _relays.add(relay)


def watch_consumer(consumer: Lagging) -> None:
    _consumers.add(consumer)


def unwatch(*workers: object) -> None:
    for worker in workers:
        _relays.discard(worker)
        _consumers.discard(worker)
        _link_keepers.discard(worker)


_link_keepers: weakref.WeakSet = weakref.WeakSet()  # dudao.links.LinkKeeper: `states`, refreshed every second


def watch_links(keeper: object) -> None:
    _link_keepers.add(keeper)


def _link_figures(figure) -> Iterable[Observation]:
    for keeper in list(_link_keepers):
        for state in list(keeper.states):
            value = figure(state)
            if value is not None:
                yield Observation(
                    value, {"service": state.service, "direction": state.direction, "jurisdiction": state.jurisdiction}
                )


_meter.create_observable_gauge(
    "dudao.link.connected",
    [lambda options: _link_figures(lambda s: int(s.connected))],
    unit="1",
    description="1 while a link from another instance delivers, else 0",
)
_meter.create_observable_gauge(
    "dudao.link.behind",
    [lambda options: _link_figures(lambda s: s.behind)],
    unit="{event}",
    description="events waiting at the other instance, as its link last said",
)
_meter.create_observable_gauge(
    "dudao.link.since_last_arrival",
    [
        lambda options: _link_figures(
            lambda s: None if s.last_arrived_at is None else (datetime.now(UTC) - s.last_arrived_at).total_seconds()
        )
    ],
    unit="s",
    description="seconds since the latest event from the other instance arrived",
)


def _observe(workers: Iterable[Lagging], attributes) -> Iterable[Observation]:
    for worker in list(workers):
        try:
            lag = worker.lag()
        except Exception as e:
            log.warning("no lag for %s: %s", attributes(worker), why(e))
            continue
        if lag is not None:
            yield Observation(lag, attributes(worker))


def _relay_lag(options: CallbackOptions) -> Iterable[Observation]:
    return _observe(_relays, lambda r: {"service": r.service})


def _consumer_lag(options: CallbackOptions) -> Iterable[Observation]:
    return _observe(_consumers, lambda c: {"service": c.service, "consumer": c.name})  # type: ignore[attr-defined]


_meter.create_observable_gauge(
    "dudao.relay.lag", [_relay_lag], unit="{event}", description="events stored but not yet published to the stream"
)
_meter.create_observable_gauge(
    "dudao.consumer.lag",
    [_consumer_lag],
    unit="{event}",
    description="messages in the stream a consumer has yet to process",
)
