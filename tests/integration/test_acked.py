"""`bus.Acked`, the relay's publisher (decision 056): each message's ack is its own future, and one the stream did
not store fails, as nats-py's `publish_async` fails it."""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.js.errors import APIError, NoStreamResponseError

from dudao import bus

pytestmark = pytest.mark.integration


def test_each_message_s_ack_says_where_it_was_stored_and_one_not_stored_fails_with_the_reason(nats_url):
    async def main() -> tuple[list, BaseException | None, BaseException | None]:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            await js.add_stream(name="ACKED_TEST", subjects=["acked.test.>"])
            acked = bus.Acked(nc)
            stored = [await acked.publish(f"acked.test.{n}", b"{}", {"Nats-Msg-Id": f"m{n}"}) for n in range(5)]
            again = await acked.publish("acked.test.0", b"{}", {"Nats-Msg-Id": "m0"})  # a duplicate is acked
            nowhere = await acked.publish("no.stream.here", b"{}")
            refused = await acked.publish("acked.test.x", b"{}", {"Nats-Expected-Stream": "ANOTHER"})
            await asyncio.wait([*stored, again, nowhere, refused], timeout=5)
            answers = [(a.result()["stream"], a.result()["seq"]) for a in stored]
            answers.append((again.result()["seq"], again.result().get("duplicate")))
            await js.delete_stream("ACKED_TEST")
            return answers, nowhere.exception(), refused.exception()
        finally:
            await nc.close()

    answers, nowhere, refused = asyncio.run(main())
    assert answers == [("ACKED_TEST", n) for n in range(1, 6)] + [(1, True)]
    assert isinstance(nowhere, NoStreamResponseError)
    assert isinstance(refused, APIError) and refused.err_code == 10060  # expected stream does not match
