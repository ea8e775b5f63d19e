"""A stream's lock (decision 048) taken just as its last holder's key lapses: waited for, not an error.

nats-py's `KeyValue.create`, refused because the key is there, reads the key to tell a deleted one (which it then
overwrites) from a held one. A key that lapses between the two (its holder died `LOCK_TTL_S` earlier) is not found:
`create` raises KeyNotFoundError, and the one waiting failed with it (seen once running
tests/integration/test_link_restart.py, whose lock lapses after 1 s). Waiting for a lock held too long is that module's
test, against a real server."""

from __future__ import annotations

import asyncio

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from dudao import stream_changes


class Lapsing:
    """A lock bucket whose key is held for `held` tries, then lapses as the next is refused, then is free."""

    def __init__(self, held: int):
        self.held, self.created, self.deleted = held, [], []

    async def create(self, key: str, value: bytes) -> int:
        if self.held > 0:
            self.held -= 1
            raise KeyWrongLastSequenceError
        if self.held == 0:
            self.held = -1
            raise KeyNotFoundError  # refused while there, then gone when read
        self.created.append(key)
        return 1

    async def delete(self, key: str) -> None:
        self.deleted.append(key)


def test_a_lock_whose_holder_lets_go_as_it_is_asked_for_is_taken(monkeypatch):
    bucket = Lapsing(held=2)

    async def locks(js):
        return bucket

    monkeypatch.setattr(stream_changes, "_locks", locks)

    async def scenario() -> list[str]:
        changed = []
        async with stream_changes.changing(None, "DUDAO_VIEW_REGISTRY"):
            changed.append("DUDAO_VIEW_REGISTRY")
        return changed

    assert asyncio.run(scenario()) == ["DUDAO_VIEW_REGISTRY"]
    assert bucket.created == bucket.deleted == ["DUDAO_VIEW_REGISTRY"]
