"""A rebuild reads its view stream in a process of its own (decision 058).

A rebuild's Python was bound by one core, and reading the stream was half of it: nats-py's parse of each message and
its headers, the body's JSON, the event built from them. The other half applies the events, and waits on PostgreSQL
meanwhile. So `Reader` starts `python -m dudao.reading_process` as a rebuild begins (its imports come while the scratch
database is made) and asks it for one read model's messages at a time. The reader fetches them (`batches`, the one way
a rebuild reads its stream), decodes them (`decoded`) and sends each batch's events as tuples of their fields,
`marshal`led (`packed`): taking one in (`unpacked`) costs about a sixth of reading and decoding it.

Between the two: a request is a line of JSON on the reader's standard input (the stream, the filter, the last
sequence, the batch size); the answer is frames on its standard output, each a 4-byte length and a batch, then an
empty frame. Its standard error is the rebuild's. If the reader stops before its last frame, the rebuild stops with its
exit code, and the live read model is as it was. The reader connects to the NATS the rebuild names in its environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import json
import marshal
import os
import struct
import sys
from collections.abc import AsyncIterator

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from dudao import bus, heap
from dudao.consumer import InboundEvent, Undeliverable
from dudao.telemetry import why

BATCH = 500
FIELDS = tuple(f.name for f in dataclasses.fields(InboundEvent))
COMMAND = (sys.executable, "-m", "dudao.reading_process")  # this interpreter: `marshal`'s format is its own
CONNECT_S = 10  # the rebuild has just been answered by this NATS: one that does not answer in this long is away
_LENGTH = struct.Struct("!I")
_PIPE_BYTES = 1 << 20  # a pipe this size holds a few batches, so the reader is seldom held up writing one
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux's

Message = tuple[int, str, bytes, dict[str, str] | None]  # its stream sequence, subject, body, headers
Read = tuple[list[Message], int, int]  # the messages up to the end, how many were fetched, the last sequence
Batch = tuple[list[InboundEvent], int, int, int]  # the events, how many could not be decoded, fetched, last sequence


async def batches(
    js: JetStreamContext, stream: str, filter_subject: str, end: int, size: int | None = None
) -> AsyncIterator[Read]:
    """`stream`'s messages matching `filter_subject`, from its first to sequence `end`, fetched `size` at a time (by
    default `BATCH`): the parts of each message up to `end`, how many were fetched, the last sequence. The next batch
    is fetched while the caller works on this one."""
    size = size or BATCH
    if end == 0:
        return
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE,
        deliver_policy=DeliverPolicy.ALL,
        filter_subject=filter_subject,
        inactive_threshold=60,
    )
    sub = await js.pull_subscribe(filter_subject, durable=None, stream=stream, config=config)
    fetching = asyncio.ensure_future(sub.fetch(size, timeout=2))
    try:
        last = 0
        while last < end:
            try:
                msgs = await fetching
            except TimeoutError:  # nats-py's, or asyncio's when the fetch's deadline ran out between its requests
                if (await sub.consumer_info()).num_pending == 0:
                    break  # nothing more matches the filter up to `end`
                fetching = asyncio.ensure_future(sub.fetch(size, timeout=2))
                continue  # a busy server or process: what is left comes with the next fetch
            fetching = asyncio.ensure_future(sub.fetch(size, timeout=2))
            messages = []
            for msg in msgs:
                last = bus.stream_seq(msg)
                if last > end:
                    break
                messages.append((last, msg.subject, msg.data, msg.headers))
            yield messages, len(msgs), min(last, end)
    finally:
        fetching.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await fetching
        await sub.unsubscribe()


def decoded(read: Read) -> Batch:
    """A batch's events, those that can be decoded (`InboundEvent.from_parts`), and how many could not."""
    messages, fetched, last = read
    events = []
    for seq, subject, data, headers in messages:
        try:
            events.append(InboundEvent.from_parts(data, headers, subject, seq))
        except Undeliverable:
            pass
    return events, len(messages) - len(events), fetched, last


def packed(batch: Batch) -> bytes:
    """A batch as the reader sends it: each event as a tuple of its fields."""
    events, *counts = batch
    return marshal.dumps(([tuple(e.__dict__[f] for f in FIELDS) for e in events], *counts))


def unpacked(blob: bytes) -> Batch:
    """A batch as the rebuild takes it in: each event built straight into its dict, as `InboundEvent.from_parts` does."""
    rows, *counts = marshal.loads(blob)
    events = []
    for row in rows:
        event = object.__new__(InboundEvent)
        event.__dict__.update(zip(FIELDS, row, strict=True))
        events.append(event)
    return events, *counts


class Reader:
    """The reading process of one rebuild: started with it, asked for one read model's messages at a time."""

    def __init__(self, process: asyncio.subprocess.Process):
        self._process = process
        self._midway = False  # a read not taken to its end: the reader may be held up writing what nobody reads

    @classmethod
    async def start(cls, nats_url: str) -> Reader:
        process = await asyncio.create_subprocess_exec(
            *COMMAND,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=os.environ | {"NATS_URL": nats_url},  # not on its command line, where anyone may read a password
            start_new_session=True,  # Ctrl-C is the rebuild's to take: it ends the reader
        )
        return cls(process)

    async def read(self, stream: str, filter_subject: str, end: int) -> AsyncIterator[Batch]:
        """What `batches` yields for these, decoded, as the reading process sends them."""
        request = {"stream": stream, "filter_subject": filter_subject, "end": end, "size": BATCH}
        self._midway = True
        try:
            self._process.stdin.write(json.dumps(request).encode() + b"\n")
            await self._process.stdin.drain()
            while True:
                (length,) = _LENGTH.unpack(await self._process.stdout.readexactly(_LENGTH.size))
                if length == 0:
                    self._midway = False
                    return
                yield unpacked(await self._process.stdout.readexactly(length))
        except (asyncio.IncompleteReadError, ConnectionError):  # it stopped: its output ended, or its input did
            code = await self._process.wait()
            raise SystemExit(
                f"the rebuild's stream reader stopped (exit code {code}) before the end of {stream}, for the reason"
                " above; the live read model is unchanged. See that NATS answers, and run the replay again"
            ) from None

    async def close(self) -> None:
        """Its input closed, it ends; one stopped midway, or that does not end within seconds, is killed (what it read
        is nobody's: its consumer on the stream goes when idle)."""
        if self._process.returncode is None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
            try:
                await asyncio.wait_for(self._process.wait(), 0 if self._midway else 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


async def _serve() -> None:
    """The reading process: answer each request on standard input until it closes."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(sys.stdout.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)
    out = sys.stdout.buffer

    def send(frame: bytes) -> None:
        out.write(_LENGTH.pack(len(frame)) + frame)
        out.flush()

    nc = await asyncio.wait_for(bus.connect(os.environ["NATS_URL"], "dudao-replay-reader", reconnect=False), CONNECT_S)
    heap.started()
    try:
        js = nc.jetstream(timeout=30)
        while request := await asyncio.to_thread(sys.stdin.buffer.readline):
            asked = json.loads(request)
            async for read in batches(js, asked["stream"], asked["filter_subject"], asked["end"], asked["size"]):
                await asyncio.to_thread(send, packed(decoded(read)))  # the next batch is fetched meanwhile
            await asyncio.to_thread(send, b"")
    finally:
        await nc.close()


def main() -> None:
    """The reading process's start (`dudao.reading_process`, which comes here without nats-py's websocket transport)."""
    try:
        asyncio.run(_serve())
    except Exception as e:  # said in a line: the rebuild that started this one says what it means
        sys.exit(f"dudao replay: the stream reader stopped: {why(e)}")
