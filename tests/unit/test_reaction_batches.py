"""A reaction's consumer takes a fetched batch with nothing for the reaction in one go, and a batch with something
for it one event at a time (decision 034's batches, for reactions)."""

from __future__ import annotations

import asyncio

import pytest

from dudao.consumer import InboundEvent
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
        envelope=Envelope.for_request(actor="t", jurisdiction="500120"),
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
