"""A fetched message already waiting is taken at once (decision 046): in order, with nats-py's bookkeeping, and
anything else goes nats-py's own way. The subscription is nats-py's; only its connection is a stand-in."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import nats.errors
import pytest
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from dudao import bus  # wraps next_msg on import

pytestmark = pytest.mark.unit


def subscription(*, closed: bool = False, cb=None) -> Subscription:
    return Subscription(SimpleNamespace(is_closed=closed), 1, "dudao.view", cb=cb)


def arrive(sub: Subscription, *bodies: bytes) -> None:
    """As nats-py's reader hands a message to a subscription without a callback."""
    for body in bodies:
        sub._pending_queue.put_nowait(Msg(_client=None, subject="dudao.view", data=body))
        sub._pending_size += len(body)


async def test_waiting_messages_are_taken_in_order_without_a_task_each(monkeypatch):
    sub = subscription()
    arrive(sub, b"first", b"second", b"third")

    def no_task(*_args, **_kwargs):
        raise AssertionError("a task was made for a message already waiting")

    monkeypatch.setattr(asyncio, "create_task", no_task)
    taken = [await sub.next_msg(timeout=1) for _ in range(3)]

    assert [m.data for m in taken] == [b"first", b"second", b"third"]
    assert (sub.pending_msgs, sub.pending_bytes) == (0, 0)
    await asyncio.wait_for(sub._pending_queue.join(), 0.5)  # each taken one marked done, as nats-py does


async def test_an_empty_queue_waits_and_times_out_as_nats_py_does():
    sub = subscription()
    with pytest.raises(nats.errors.TimeoutError):
        await sub.next_msg(timeout=0.05)

    later = asyncio.get_running_loop().call_later(0.05, arrive, sub, b"late")
    assert (await sub.next_msg(timeout=2)).data == b"late"
    assert later.cancelled() is False and sub.pending_bytes == 0


async def test_a_closed_connection_refuses_even_with_messages_waiting():
    sub = subscription(closed=True)
    arrive(sub, b"stranded")
    with pytest.raises(nats.errors.ConnectionClosedError):
        await sub.next_msg(timeout=1)
    assert sub.pending_msgs == 1


async def test_a_subscription_with_a_callback_is_refused_as_before():
    async def handler(_msg: Msg) -> None:
        return None

    sub = subscription(cb=handler)
    arrive(sub, b"for the callback")
    with pytest.raises(nats.errors.Error, match="next_msg cannot be used"):
        await sub.next_msg(timeout=1)
    assert sub.pending_msgs == 1


def test_the_wrapper_is_installed_once():
    assert Subscription.next_msg.takes_at_once
    assert not getattr(Subscription.next_msg.__wrapped__, "takes_at_once", False)


# --- a delivered message's stream sequence, without nats-py's metadata ------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.DUDAO_VIEW_REGISTRY.registry-directory-v4-j510000.1.78667.78660.1796618610000000000.12",
        "$JS.ACK.j510000.ACCHASH.DUDAO_VIEW_REGISTRY.registry-directory-v4-j510000.2.78667.78660.1796618610000000000.0",
        "$JS.ACK.j510000.ACCHASH.DUDAO_VIEW_REGISTRY.registry-directory-v4-j510000.2.78667.78660.1796618610000000000.0.r4nd",
    ],
)
def test_the_stream_sequence_is_the_one_nats_py_reads_from_the_ack_subject(reply, monkeypatch):
    msg = Msg(_client=None, subject="dudao.view", reply=reply)
    expected = msg.metadata.sequence.stream
    fresh = Msg(_client=None, subject="dudao.view", reply=reply)
    monkeypatch.setattr(Msg.Metadata, "_from_reply", classmethod(lambda cls, r: pytest.fail("built the metadata")))
    assert bus.stream_seq(fresh) == expected == 78667


@pytest.mark.parametrize("reply", ["", "_INBOX.abc", "$JS.ACK.too.short"])
def test_a_message_that_is_no_jetstream_delivery_is_refused_as_nats_py_refuses_it(reply):
    with pytest.raises(nats.errors.NotJSMessageError):
        bus.stream_seq(Msg(_client=None, subject="dudao.view", reply=reply))
