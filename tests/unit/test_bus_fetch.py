"""A fetched message already waiting is taken at once (decision 046): in order, with nats-py's bookkeeping, and
anything else goes nats-py's own way. The subscription is nats-py's; only its connection is a stand-in. A message's
headers are read as nats-py reads them, faster (decision 049)."""

from __future__ import annotations

import asyncio
import json
import random
from types import SimpleNamespace

import nats.errors
import pytest
from nats.aio.client import Client
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


# --- a message's headers, read as nats-py reads them ------------------------------------------------------------

NATS_PY_PARSE = Client._parse_header_lines.__wrapped__  # nats-py's own, which dudao.bus replaced on import


def test_the_header_parser_is_replaced_once_and_nats_py_reads_headers_through_it():
    assert Client._parse_header_lines is not NATS_PY_PARSE and Client._parse_header_lines.as_nats_py_does
    assert not hasattr(NATS_PY_PARSE, "as_nats_py_does")
    parsed = asyncio.run(Client.__new__(Client)._process_headers(b"NATS/1.0\r\nNats-Msg-Id: 510000:registry:7\r\n\r\n"))
    assert parsed == {"Nats-Msg-Id": "510000:registry:7"}


@pytest.mark.parametrize("code", range(256))
def test_each_byte_in_a_header_name_or_value_is_read_as_nats_py_reads_it(code):
    c = bytes([code])
    for block in (
        b"Nats-Msg-Id: 1\r\n" + c + b"Name: v\r\nNa" + c + b"me: v\r\nName" + c + b": v\r\n\r\n",
        b"Name: " + c + b"v" + c + b"\r\nOther:" + c + b"\r\n" + c + b"\r\n",
    ):
        assert Client._parse_header_lines(block) == NATS_PY_PARSE(block), block


def test_any_block_of_header_lines_is_read_as_nats_py_reads_it_the_first_time_and_again():
    """Each block twice, by a parser of its own: the second time, its names are read as remembered from the first,
    until it has remembered as many as it keeps (the blocks hold far more names than that)."""
    parse = bus._parses_headers_as_nats_py_does(NATS_PY_PARSE).__func__
    rng = random.Random(24)
    pieces = ":|: |\r\n|\r|\n| |\t|\x1c|督导|Nats-Msg-Id|traceparent|x|\x00|\x0b".encode().split(b"|")
    pieces += [b"\x85", b"\xa0", b"\xff"]  # not UTF-8 on their own
    for _ in range(5000):
        block = b"".join(rng.choice(pieces) for _ in range(rng.randrange(30)))
        assert parse(block) == parse(block) == NATS_PY_PARSE(block), block


# --- a message's body, read as json reads it --------------------------------------------------------------------

BODIES = [
    b'{"type": "School.Registered", "version": 1, "data": {"name": "\xe7\x92\xa7\xe5\xb1\xb1\xe5\x8c\xba", "n": 3}}',
    b'{"a": 1, "a": 2}',  # the last of a repeated key
    b'{"x": NaN, "y": Infinity, "z": -Infinity}',
    b'{"big": 123456789012345678901234567890, "neg": -9223372036854775809}',
    b'{"f": [0.1, 1e400, -0.0, 1E-7, 5e-324, 1.7976931348623157e308]}',
    b'{"s": "\\ud83d\\ude00 \\u00e9 \\ud800 \\n\\t\\"\\\\"}',  # a pair, an escape, a lone surrogate
    b' \r\n\t[1, 2 , {"k" : null, "t": true, "f": false}] \n',
    b'"just a string"',
    b"0",
    b"\xef\xbb\xbf{}",  # a byte-order mark before it
    b'{"i": [9223372036854775807, 18446744073709551615, -9223372036854775808, 12345678901234567890123]}',
]
REFUSED = [b"", b"{", b'{"a": 1} x', b'{"a": "\xff"}', b"{'a': 1}", b'{"a": 01}', b"[1,]"]


@pytest.mark.parametrize("body", BODIES)
def test_a_body_is_read_as_json_reads_it(body):
    read, expected = bus.loads(body), json.loads(body)
    assert repr(read) == repr(expected)  # repr: NaN, -0.0 and a float's last digit compared as they are


@pytest.mark.parametrize("body", REFUSED)
def test_a_body_json_refuses_is_refused_as_a_value_error(body):
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(ValueError):
        bus.loads(body)


def test_any_body_is_read_or_refused_as_json_does():
    rng = random.Random(49)
    pieces = '{|}|[|]|"k"|"\\u00e9"|:|,|1|-2.5e3|NaN|null| |"|督|true|99999999999999999999'.encode().split(b"|")
    pieces.append(b"\xff")
    for _ in range(20000):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randrange(12)))
        try:
            expected = repr(json.loads(body))
        except ValueError:
            with pytest.raises(ValueError):
                bus.loads(body)
        else:
            assert repr(bus.loads(body)) == expected, body


def test_a_plain_body_is_read_without_json(monkeypatch):
    def not_json(_):
        raise AssertionError("read by json")

    monkeypatch.setattr(bus.json, "loads", not_json)
    assert bus.loads(BODIES[0])["data"]["n"] == 3
