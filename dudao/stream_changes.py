"""One change of a stream's config at a time (decision 048).

JetStream replaces a stream's whole config and checks no revision, so two processes that each read it and write it
back (`dudao link` adding a county, a keeper restarting a source, a relay at its start) can drop each other's change.
Each holds the stream's key in a key-value bucket of the instance's JetStream while it reads and writes: `create`
succeeds for one holder at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from nats.js import JetStreamContext
from nats.js.api import StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

LOCKS = "dudao_stream_changes"
LOCK_TTL_S = 60.0  # a holder that died lets go after this long; a restart's four calls of 10 s fit in it
LOCK_WAIT_S = 70.0


async def _locks(js: JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(LOCKS)
    except BucketNotFoundError:
        return await js.create_key_value(bucket=LOCKS, ttl=LOCK_TTL_S, storage=StorageType.FILE)


@contextlib.asynccontextmanager
async def changing(js: JetStreamContext, stream: str):
    """Hold `stream`'s lock while its config is read and written back: waits while another process holds it."""
    locks = await _locks(js)
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            await locks.create(stream, b"")
            break
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            # held; or let go just now: nats-py's `create`, refused, reads the key to tell a deleted one from a held
            # one, and a key that lapsed between the two is not found
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{stream} has been changed by another process for over {LOCK_WAIT_S:.0f} s; try again"
                ) from None
            await asyncio.sleep(0.05)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # else it lapses after LOCK_TTL_S
            await locks.delete(stream)
