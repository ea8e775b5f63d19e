"""NATS JetStream: connections, stream names, subjects and message ids."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
from collections.abc import Awaitable
from typing import Any, TypeVar

import nats
import orjson
from nats.aio.client import NO_RESPONDERS_STATUS, Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, Header, StorageType, StreamConfig
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError

from dudao.telemetry import why

log = logging.getLogger("dudao.bus")

HEADER_EVENT_TYPE = "Dudao-Event-Type"
HEADER_NOTIFICATION_ID = "Dudao-Notification-Id"
HEADER_ORIGIN = "Dudao-Origin"
HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_CHAIN = "Dudao-Chain"  # the event's link in its origin's hash chain (decision 017)
DUPLICATE_WINDOW_S = 120  # how long a stream remembers message ids: a relay's retry must come well within it


def stream_name(service: str) -> str:
    """The stream of the events a service records in this instance: its relay publishes there, its reactions read it."""
    return f"DUDAO_{service.upper()}"


def view_stream(service: str) -> str:
    """The stream read models project: this instance's events of a service and what crosses from its neighbours."""
    return f"DUDAO_VIEW_{service.upper()}"


def subject(
    jurisdiction: str, service: str, aggregate: str, event: str, *, up: bool = False, down: bool = False
) -> str:
    """`dudao.530113.registry.School.Registered.up.local`: the last two tokens say whether the event travels to the
    upper instance and to the lower ones, so that each crossing stream takes them with one filter (decision 011)."""
    return f"dudao.{jurisdiction}.{service}.{aggregate}.{event}.{'up' if up else 'local'}.{'down' if down else 'local'}"


def aggregate_subjects(jurisdiction: str, service: str, aggregate: str) -> str:
    return f"dudao.{jurisdiction}.{service}.{aggregate}.>"


def event_of(subject_: str) -> str:
    """`Registered` from `dudao.530113.registry.School.Registered.up.local`."""
    return subject_.split(".")[4]


def service_subjects(service: str, jurisdiction: str = "*") -> str:
    return f"dudao.{jurisdiction}.{service}.>"


def event_subjects(service: str, event_type: str, jurisdiction: str = "*") -> str:
    """`dudao.*.inspection.Activity.ReportIssued.>`: one type of event, for a consumer that follows no other (a
    reaction), so the server hands it only those rather than every event of the service."""
    aggregate, event = event_type.split(".")
    return f"dudao.{jurisdiction}.{service}.{aggregate}.{event}.>"


def domain(jurisdiction: str) -> str:
    """The JetStream domain of a jurisdiction's instance: linked NATS servers each keep their own."""
    return f"j{jurisdiction}"


def origin(jurisdiction: str, service: str) -> str:
    """Where an event was first recorded: the key of every checkpoint."""
    return f"{jurisdiction}:{service}"


def message_id(jurisdiction: str, service: str, notification_id: int) -> str:
    return f"{origin(jurisdiction, service)}:{notification_id}"


class InBackground:
    """Something that connects to NATS and subscribes in the background (`_run`): NATS may be down, the process
    still starts and serves. `close` stops the one and closes the other."""

    _nc: Client | None = None
    _task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=type(self).__name__)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._nc is not None:
            await self._nc.close()

    async def _run(self) -> None:
        raise NotImplementedError


async def connect(url: str, name: str, *, reconnect: bool = True) -> Client:
    """A connection that keeps reconnecting for as long as the process lives; or, with `reconnect=False`, one that
    closes when the server goes, dropping what it had not yet written (the relay's: what a closed connection sent
    is then a prefix of what it was given, never a later message without an earlier one)."""

    async def on_error(e: Exception) -> None:
        log.warning("nats: %s", why(e))

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=2,
        allow_reconnect=reconnect,
        error_cb=on_error,
    )


async def ensure_stream(js: JetStreamContext, service: str, jurisdiction: str) -> None:
    """The service's own stream: file storage, no age limit (the event store stays the source of truth), no sources
    (what comes from other instances goes to the view stream, so the relay's chain of message ids stays unbroken)."""
    name = stream_name(service)
    config = StreamConfig(
        name=name,
        subjects=[service_subjects(service, jurisdiction)],
        storage=StorageType.FILE,
        max_age=0,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_S,
    )
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(config)
        return
    if set(info.config.subjects or []) != set(config.subjects or []) or info.config.sources:
        if info.config.sources:
            log.warning(
                "%s: removing sources linked before decision 011; run `dudao link` again for lower instances", name
            )
        await js.update_stream(config)


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


T = TypeVar("T")


class Stopped(Exception):
    """`stop` was set before the awaited thing finished (it was cancelled)."""


async def or_stop(awaitable: Awaitable[T], stop: asyncio.Event) -> T:
    """`awaitable`'s result, or `Stopped` as soon as `stop` is set (so a shutdown need not wait out a long poll)."""
    work, stopping = asyncio.ensure_future(awaitable), asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not work.done():
        work.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved, so never reported as lost
        work.cancel()
        raise Stopped
    return work.result()


# --- publishing with acks awaited together ------------------------------------------------------------------


class Acked:
    """Publishes to JetStream, each message's ack a future to await with the others of its batch (decision 032), as
    nats-py's `publish_async` does, without what that costs a message: an `asyncio.wait_for` (a task and a timer) around
    a semaphore, and a call to `os.urandom` for the reply subject (decision 056). A relay publishing a backlog spent a
    fifth of its time in Python there. The acks come to one subscription of this connection, each to the reply
    subject numbered for its message; an ack that says why the stream did not store the message, or a server that
    found no stream for the subject (status 503), fails its future, as nats-py fails it. A connection's `Acked` is
    made once and used for every batch sent on it."""

    def __init__(self, nc: Client):
        self._nc = nc
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._sent = 0

    async def publish(
        self, subject: str, body: bytes, headers: dict[str, str] | None = None
    ) -> asyncio.Future[dict[str, Any]]:
        """Write one message to the connection; the future of its ack (the stream's answer, as JSON)."""
        if self._sub is None:
            self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._answered)
        self._sent += 1
        reply = f"{self._inbox}.{self._sent}"
        acked = self._waiting[reply] = asyncio.get_running_loop().create_future()
        acked.add_done_callback(lambda _: self._waiting.pop(reply, None))  # answered, or given up by its sender
        await self._nc.publish(subject, body, reply=reply, headers=headers)
        return acked

    async def _answered(self, msg: Msg) -> None:
        acked = self._waiting.get(msg.subject)
        if acked is None or acked.done():
            return
        if msg.headers and msg.headers.get(Header.STATUS) == NO_RESPONDERS_STATUS:
            acked.set_exception(NoStreamResponseError())
            return
        try:
            answer = json.loads(msg.data)
            if "error" in answer:
                APIError.from_error(answer["error"])  # raises the error of its kind (nats-py's own reply handler
                # passed what it raised to no one, and that message's future waited until it timed out)
        except Exception as e:
            acked.set_exception(e)
        else:
            acked.set_result(answer)


# --- taking a fetched message ------------------------------------------------------------------------


def _takes_a_waiting_message_at_once(next_msg):
    """nats-py's `Subscription.next_msg`, taking a message already waiting in the subscription's queue at once.

    A pull fetch of n messages calls `next_msg` n times, and nats-py makes a task, an `asyncio.wait_for` with its timer
    and a `uuid4` for every call, even when the message has long arrived: a large part of a consumer's time in Python
    went there (decision 046). What is taken, and its bookkeeping (the pending bytes, `task_done`), are as
    before; only a queue with nothing in it waits the library's way."""

    @functools.wraps(next_msg)
    async def taking(self: Subscription, timeout: float | None = 1.0) -> Msg:
        queue = self._pending_queue
        if queue.empty() or self._cb or self._conn.is_closed:
            return await next_msg(self, timeout)
        msg = queue.get_nowait()
        self._pending_size -= len(msg.data)
        queue.task_done()
        return msg

    taking.takes_at_once = True
    return taking


if not getattr(Subscription.next_msg, "takes_at_once", False):
    Subscription.next_msg = _takes_a_waiting_message_at_once(Subscription.next_msg)


# --- reading a message's headers ------------------------------------------------------------------------------

_NOT_IN_A_NAME = re.compile(rb"[\x09-\x0d\x1c-\x20]")  # the ASCII characters str.isspace() finds
_NAMES_KEPT = 256  # header names remembered as read: far more than NATS and the relay write


def _parses_headers_as_nats_py_does(parse):
    """nats-py's `Client._parse_header_lines`, giving the same dict for every block of header lines, faster.

    nats-py tells a header name with whitespace in it by running `str.isspace` on each of its characters in a
    generator: with the rest of its parse, a sixth of a replay's time in Python went to reading the headers every
    message carries (decision 049). Here the name is searched once for the ASCII characters `str.isspace` finds (a
    name that is not ASCII is skipped as nats-py skips it); everything else is nats-py's parse, step by step. What a
    name reads as (or that it is skipped) is remembered, for the first `_NAMES_KEPT` names seen: every message carries
    the same half dozen, and judging each again was a third of the parse."""
    names: dict[bytes, str | None] = {}

    def named(raw_name: bytes) -> str | None:
        name = raw_name.strip()
        return None if not name.isascii() or _NOT_IN_A_NAME.search(name) else name.decode("ascii")

    @functools.wraps(parse)
    def parsing(raw: bytes) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in raw.split(b"\r\n"):
            raw_name, sep, value = line.partition(b":")
            if not sep:
                continue
            try:
                name = names[raw_name]
            except KeyError:
                name = named(raw_name)
                if len(names) < _NAMES_KEPT:
                    names[raw_name] = name
            if name is not None:
                out[name] = value.strip().decode("utf-8", "replace")
        return out

    parsing.as_nats_py_does = True
    return staticmethod(parsing)


if not getattr(Client._parse_header_lines, "as_nats_py_does", False):
    Client._parse_header_lines = _parses_headers_as_nats_py_does(Client._parse_header_lines)


_DIGITS_AS_ZEROS = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))  # each digit b"0", anything else b" "
_LONG_NUMBER = b"0" * 19  # 19 digits in a row: maybe an integer past the 64 bits orjson reads exactly


def loads(data: bytes) -> Any:
    """A message body's JSON, as `json.loads` reads it.

    orjson reads a body in about half the time json takes, and every consumer reads every message it is delivered
    (decision 049). A body with a long run of digits in it goes to json, since orjson reads an integer past 64 bits
    as a float; so does one orjson will not read (NaN, not UTF-8). So every body json reads is read the same, and one
    it refuses is refused with its error."""
    if _LONG_NUMBER not in data.translate(_DIGITS_AS_ZEROS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


# --- a delivered message's place in its stream -------------------------------------------------------------------


def stream_seq(msg: Msg) -> int:
    """A delivered JetStream message's sequence in its stream, read from its ack subject.

    nats-py's `msg.metadata` builds a timestamp and three objects from the whole subject for every message, where a
    consumer needs only this number (that was a ninth of a consumer's time in Python, taking a backlog). The subject
    is `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.…` (9 tokens) or, from a server that names its domain and
    account, the longer form `msg.metadata` reads; anything else is for `msg.metadata` to refuse."""
    tokens = (msg.reply or "").split(".")
    if tokens[:2] == ["$JS", "ACK"]:
        if len(tokens) == 9:
            return int(tokens[5])
        if len(tokens) >= 11:
            return int(tokens[Msg.Ack.StreamSeq])
    return msg.metadata.sequence.stream
