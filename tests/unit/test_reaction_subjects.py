"""What the server hands each reaction: every event it reacts to, and (for one that follows a single type on its
service's own stream) nothing else. A province's inspection stream holds hundreds of thousands of routine visits, and
a reaction to issued reports was handed each of them to skip (issue 24)."""

from __future__ import annotations

import pytest

from dudao import bus
from services.accountability.app import PARTS as ACCOUNTABILITY
from services.inspection.app import PARTS as INSPECTION
from services.monitoring.app import PARTS as MONITORING
from services.registry.app import PARTS as REGISTRY

REACTIONS = [r for parts in (REGISTRY, INSPECTION, ACCOUNTABILITY, MONITORING) for r in parts.reactions]


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` is one token, `>` the rest (one token or more)."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > i
        if i >= len(tokens) or token not in ("*", tokens[i]):
            return False
    return len(tokens) == len(wanted)


def service_of(stream: str) -> str:
    return stream.removeprefix("DUDAO_").removeprefix("VIEW_").lower()


@pytest.mark.parametrize("reaction", REACTIONS, ids=lambda r: r.name)
def test_a_reaction_is_handed_every_event_it_reacts_to_from_any_instance_whether_it_travels_or_not(reaction):
    service = service_of(reaction.stream)
    for event_type in reaction.event_types:
        aggregate, event = event_type.split(".")
        for up in (False, True):
            for jurisdiction in ("510000", "513437"):
                subject = bus.subject(jurisdiction, service, aggregate, event, up=up, down=not up)
                assert matches(reaction.filter_subject, subject), (reaction.name, subject)


@pytest.mark.parametrize(
    "reaction", [r for r in REACTIONS if len(r.event_types) == 1 and "VIEW" not in r.stream], ids=lambda r: r.name
)
def test_a_reaction_to_one_type_of_event_on_its_own_stream_is_handed_no_other(reaction):
    service = service_of(reaction.stream)
    [event_type] = reaction.event_types
    aggregate, _ = event_type.split(".")
    for other in (f"{aggregate}.Other", "RoutineVisit.Recorded", "School.Registered"):
        if other != event_type:
            subject = bus.subject("510000", service, *other.split("."))
            assert not matches(reaction.filter_subject, subject), (reaction.name, subject)


def test_matching_follows_the_servers_wildcards():
    assert matches("dudao.*.inspection.>", "dudao.510000.inspection.Activity.ReportIssued.local.local")
    assert not matches("dudao.*.inspection.>", "dudao.510000.inspection")
    assert not matches(
        "dudao.*.inspection.Activity.ReportIssued.>", "dudao.510000.inspection.Activity.Planned.up.local"
    )
