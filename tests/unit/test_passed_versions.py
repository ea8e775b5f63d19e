"""An event whose aggregate is already past it is not applied, and a batch of them is said in one line (decision 057:
after a rebuild's switch, a consumer that was behind goes through what the rebuild applied, skipping it by version)."""

from __future__ import annotations

import asyncio
import logging

from dudao.consumer import InboundEvent
from dudao.rebuilding import Rebuilding


def _event(version: int, n: int) -> InboundEvent:
    return InboundEvent(
        type="School.DetailsUpdated",
        aggregate="School",
        aggregate_id="a",
        version=version,
        origin="500120:registry",
        notification_id=n,
        envelope_fields={},
        data={},
        stream_seq=n,
    )


async def _unused(conn, event) -> None:
    raise AssertionError("not called: only the versions are judged here")


def test_a_batch_of_events_their_aggregates_are_past_is_left_out_in_one_line(caplog):
    effect = Rebuilding(None, "registry", "registry-directory", "DUDAO_VIEW_REGISTRY", _unused)
    effect.versions[("500120:registry", "a")] = 5  # as a rebuild's switch hands them over
    with caplog.at_level(logging.INFO, logger="dudao.consumer"):
        chosen = asyncio.run(effect._next_versions(None, [_event(v, v) for v in (3, 4, 5, 6)]))
    assert [e.version for e in chosen] == [6]
    [line] = [r.getMessage() for r in caplog.records]
    assert (
        "3 events not applied, their aggregates already past them (the first: School.DetailsUpdated v3 after v5)"
        in line
    )
    assert caplog.records[0].levelno == logging.INFO
