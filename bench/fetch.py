"""Fetch rate: messages a pull consumer takes from a local nats-server, nats-py's way and ours (decision 046).

Stores 60,000 messages of 600 bytes in a stream, then fetches them all in batches of 500, three times each way: with
nats-py's own `Subscription.next_msg` (a task, a timer and a uuid4 for every message) and with `dudao.bus`'s, which
takes a message already waiting at once. Prints messages a second and CPU per message; not a test.

    .venv/bin/python bench/fetch.py [--messages 60000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import nats
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from dudao import bus  # noqa: F401  (installs ours)
from dudao_cli.servers import LocalNats, free_port

BATCH = 500
OURS = Subscription.next_msg
LIBRARYS = OURS.__wrapped__


async def fetch_all(js, messages: int) -> tuple[float, float]:
    """Messages a second and µs of this process's CPU per message, fetching the whole stream once."""
    config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=60)
    sub = await js.pull_subscribe("bench.>", durable=None, stream="BENCH", config=config)
    started, cpu, got = time.perf_counter(), time.process_time(), 0
    while got < messages:
        got += len(await sub.fetch(BATCH, timeout=2))
    rate, per = got / (time.perf_counter() - started), (time.process_time() - cpu) / got * 1e6
    await sub.unsubscribe()
    return rate, per


async def run(url: str, messages: int) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name="BENCH", subjects=["bench.>"])
    body = b'{"x": "' + b"a" * 600 + b'"}'
    for i in range(messages):
        await nc.publish(f"bench.{i % 100}", body)  # core publishes the stream takes: no acks to wait for
    await nc.flush()
    while (await js.stream_info("BENCH")).state.messages < messages:
        await asyncio.sleep(0.1)
    for way, next_msg in (("nats-py's", LIBRARYS), ("ours", OURS), ("nats-py's", LIBRARYS), ("ours", OURS)):
        Subscription.next_msg = next_msg
        rate, per = await fetch_all(js, messages)
        print(f"{way:10s} {rate:10,.0f} messages/s   {per:6.1f} µs of CPU per message", flush=True)
    Subscription.next_msg = OURS
    await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=60_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        server = LocalNats(Path(home) / "nats", free_port())
        url = server.start()
        try:
            print(f"{args.messages:,} messages, fetched in batches of {BATCH} …", flush=True)
            asyncio.run(run(url, args.messages))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
