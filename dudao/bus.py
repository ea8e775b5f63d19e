"""NATS JetStream: connections, stream names, subjects and message ids."""

from __future__ import annotations

import asyncio
import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, ExternalStream, StorageType, StreamConfig, StreamSource
from nats.js.errors import NotFoundError

log = logging.getLogger("dudao.bus")

HEADER_EVENT_TYPE = "Dudao-Event-Type"
HEADER_NOTIFICATION_ID = "Dudao-Notification-Id"
HEADER_ORIGIN = "Dudao-Origin"
HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"


def stream_name(service: str) -> str:
    return f"DUDAO_{service.upper()}"


def subject(jurisdiction: str, service: str, aggregate: str, event: str) -> str:
    return f"dudao.{jurisdiction}.{service}.{aggregate}.{event}"


def service_subjects(service: str, jurisdiction: str = "*") -> str:
    return f"dudao.{jurisdiction}.{service}.>"


def instance_subjects(filter_subject: str, jurisdiction: str) -> str:
    """A `dudao.*.…` filter narrowed to the events this instance recorded itself (not those sourced from below)."""
    prefix, _, rest = filter_subject.partition(".*.")
    return f"{prefix}.{jurisdiction}.{rest}" if prefix == "dudao" and rest else filter_subject


def domain(jurisdiction: str) -> str:
    """The JetStream domain of a jurisdiction's instance: linked NATS servers each keep their own."""
    return f"j{jurisdiction}"


def origin(jurisdiction: str, service: str) -> str:
    """Where an event was first recorded: the key of every checkpoint."""
    return f"{jurisdiction}:{service}"


def message_id(jurisdiction: str, service: str, notification_id: int) -> str:
    return f"{origin(jurisdiction, service)}:{notification_id}"


async def connect(url: str, name: str) -> Client:
    """A connection that keeps reconnecting for as long as the process lives."""

    async def on_error(e: Exception) -> None:
        log.warning("nats: %s", e)

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        allow_reconnect=True,
        error_cb=on_error,
    )


async def ensure_stream(js: JetStreamContext, service: str, jurisdiction: str) -> None:
    """The service's stream: file storage, no age limit (the event store stays the source of truth)."""
    name = stream_name(service)
    config = StreamConfig(
        name=name,
        subjects=[service_subjects(service, jurisdiction)],
        storage=StorageType.FILE,
        max_age=0,
        discard=DiscardPolicy.OLD,
        duplicate_window=120,
    )
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(config)
        return
    if set(info.config.subjects or []) != set(config.subjects or []):
        config.sources = info.config.sources  # the links to lower instances stay
        await js.update_stream(config)


async def source_lower(js: JetStreamContext, service: str, jurisdiction: str, lower: str) -> bool:
    """Have this instance's stream of `service` source the lower instance's events of that service, across the
    leaf-node link, from the lower's JetStream domain. Idempotent; True when the source is new.

    While the link is down the lower instance keeps its events in its own stream; when it returns, JetStream
    resumes the source where it stopped. Consumers keep checkpoints by origin, so the renumbering that sourcing
    brings changes nothing for them (decision 002)."""
    await ensure_stream(js, service, jurisdiction)
    info = await js.stream_info(stream_name(service))
    # The whole lower stream, with no filter: it holds the lower instance's events and whatever that instance
    # sources from below it, so a province gets its whole subtree. (A filter would also trip the server's subject
    # check, which looks at this instance's stream of the same name instead of the lower one.)
    source = StreamSource(name=stream_name(service), external=ExternalStream(api=f"$JS.{domain(lower)}.API"))
    sources = list(info.config.sources or [])
    if any(s.external and s.external.api == source.external.api for s in sources):
        return False
    info.config.sources = [*sources, source]
    await js.update_stream(info.config)
    return True


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
