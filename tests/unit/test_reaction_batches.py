"""A reaction's consumer takes a fetched batch with nothing for the reaction in one go, and a batch with something
for it one event at a time (decision 034's batches, for reactions)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from dudao import bus
from dudao.config import Settings
from dudao.consumer import Consumer, InboundEvent
from dudao.effects import OneAtATime, ReactionEffect
from dudao.events import Envelope


def arrived(event_type: str, n: int) -> InboundEvent:
    return InboundEvent(
        type=event_type,
        aggregate=event_type.split(".")[0],
        aggregate_id=f"id-{n}",
        version=1,
        origin="500120:monitoring",
        notification_id=n,
        envelope_fields=Envelope.for_request(actor="t", jurisdiction="500120").as_dict(),
        data={},
    )


def never(context, event) -> None:
    raise AssertionError(f"reacted to {event.type}")


def test_a_batch_holding_nothing_the_reaction_answers_is_done_as_it_stands_and_any_other_one_at_a_time():
    effect = ReactionEffect(
        app=None, name="adopt-upper-frameworks", react=never, event_types=frozenset({"Framework.Published"})
    )
    submissions = [arrived("Submission.Submitted", n) for n in range(256)]

    asyncio.run(effect.apply_all(submissions, lambda _: None))  # nothing to do: the consumer acks all 256 together

    with pytest.raises(OneAtATime):  # each saves in a transaction of its own: the consumer goes one at a time
        asyncio.run(effect.apply_all([*submissions, arrived("Framework.Published", 256)], lambda _: None))


class Delivered:
    """A fetched message whose body no one may read: the batch must be judged by its headers alone."""

    def __init__(self, event_type: str | None, n: int):
        self.headers = {bus.HEADER_EVENT_TYPE: event_type} if event_type else {}
        self.subject = "dudao.500120.monitoring.Submission.Submitted.up.local"
        self.metadata = SimpleNamespace(num_pending=0, sequence=SimpleNamespace(stream=n))
        self.acked = False

    @property
    def data(self) -> bytes:
        raise AssertionError("decoded a message the reaction has no business with")

    async def ack(self) -> None:
        self.acked = True


def test_a_batch_the_headers_say_holds_nothing_for_the_reaction_is_acked_without_decoding_a_message():
    effect = ReactionEffect(app=None, name="adopt", react=never, event_types=frozenset({"Framework.Published"}))
    consumer = Consumer(
        Settings(), None, schema="monitoring", name="monitoring-adopt", stream="S", filter_subject=">", effect=effect
    )
    batch = [Delivered("Submission.Submitted", n) for n in range(256)]

    assert asyncio.run(consumer._handle_together(batch))
    assert all(msg.acked for msg in batch) and consumer.processed == 256

    assert not effect.passes_over([*batch, Delivered("Framework.Published", 256)])  # decoded and judged as before
    assert not effect.passes_over([*batch, Delivered(None, 256)])  # no type in its headers: decoded
