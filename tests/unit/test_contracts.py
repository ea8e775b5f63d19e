"""The contracts between services hold: every field a consumer decodes is one the publishing aggregate's event
records (`contracts/`), and decoding turns ISO dates into dates."""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from datetime import UTC, date, datetime

import pytest

from contracts import accountability, inspection, registry
from contracts.base import HEADER, Contract, _fields
from dudao.consumer import InboundEvent
from dudao.events import Envelope
from services.accountability.domain.case import RectificationCase
from services.accountability.domain.measures import AccountabilityDecision, Circular, Interview
from services.inspection.domain.activity import Activity
from services.inspection.domain.visit import RoutineVisit
from services.registry.domain import Inspector, School, Zone

pytestmark = pytest.mark.unit

PUBLISHERS = {
    registry: (School, Inspector, Zone),
    inspection: (Activity, RoutineVisit),
    accountability: (RectificationCase, Interview, Circular, AccountabilityDecision),
}
CONTRACTS = [(module, c) for module in PUBLISHERS for c in module.PUBLISHED.by_type.values()]


def upstream(module, contract: type[Contract]) -> type:
    aggregate, event = contract.event.split(".")
    [kind] = [a for a in PUBLISHERS[module] if a.__name__ == aggregate]
    return getattr(kind, event)


@pytest.mark.parametrize(("module", "contract"), CONTRACTS, ids=[c.event for _, c in CONTRACTS])
def test_every_field_a_contract_promises_is_recorded_by_the_publishing_aggregates_event(module, contract):
    recorded = inspect.signature(upstream(module, contract).__init__).parameters
    promised = [f for f in dataclasses.fields(contract) if f.name not in HEADER]
    missing = [f.name for f in promised if f.name not in recorded]
    assert not missing, f"{contract.event} no longer records {missing}; change the contract and its consumers together"
    for field in promised:
        optional_upstream = recorded[field.name].default is not inspect.Parameter.empty
        required_here = field.default is dataclasses.MISSING
        assert not (optional_upstream and required_here), f"{contract.event}.{field.name} may be absent upstream"


def arriving(type_: str, data: dict) -> InboundEvent:
    return InboundEvent(
        type=type_,
        aggregate=type_.split(".")[0],
        aggregate_id="a-1",
        version=3,
        origin="500120",
        notification_id=7,
        envelope_fields=Envelope.for_request(actor="t", jurisdiction="500120").as_dict(),
        data={"timestamp": "2026-11-20T02:00:00+00:00"} | data,
    )


def test_decoding_parses_dates_in_fields_and_in_dicts_and_takes_the_header_from_the_message():
    feedback = accountability.PUBLISHED.decode(
        arriving("RectificationCase.FeedbackGiven", {"deadlines": {"f-1": "2026-12-20"}, "decision": "x"})
    )
    assert feedback == accountability.FeedbackGiven(
        aggregate_id="a-1", version=3, at=datetime(2026, 11, 20, 2, tzinfo=UTC), deadlines={"f-1": date(2026, 12, 20)}
    )
    recheck = accountability.PUBLISHED.decode(
        arriving("RectificationCase.ItemRechecked", {"item_id": "f-1", "passed": True, "new_deadline": None})
    )
    assert recheck.new_deadline is None


def test_an_event_no_one_relies_on_decodes_to_none_and_a_missing_field_is_named():
    assert registry.PUBLISHED.decode(arriving("School.LicenceRevoked", {})) is None
    with pytest.raises(KeyError, match="has no jurisdiction"):
        registry.PUBLISHED.decode(arriving("Zone.Created", {"name": "一区"}))


def _as_annotated(hint, raw):
    """How a field's JSON reads, spelled out from the annotation each time: the reference `_typed` is held to."""
    if raw is None:
        return None
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if option is datetime and isinstance(raw, str):
            return datetime.fromisoformat(raw)
        if option is date and isinstance(raw, str):
            return date.fromisoformat(raw)
        if typing.get_origin(option) is dict and isinstance(raw, dict):
            return {k: _as_annotated(typing.get_args(option)[1], v) for k, v in raw.items()}
    return raw


SAMPLES = [None, "2026-11-20", "2026-11-20T08:00:00+08:00", "not a date", 7, 2.5, True, ["2026-11-20"], {}]
SAMPLES += [{"a": s} for s in SAMPLES[:-1]] + [{"a": {"b": "2026-11-20"}}]


@pytest.mark.parametrize(("module", "contract"), CONTRACTS, ids=[c.event for _, c in CONTRACTS])
def test_each_field_is_read_as_its_annotation_says_with_the_reading_made_once_per_class(module, contract):
    """`_fields` makes each field's reading once; it reads every kind of JSON value, in dicts too, as the annotation
    says, and refuses what it cannot read as a date with the same error."""
    hints = typing.get_type_hints(contract)
    for name, typed, _ in _fields(contract):
        for raw in SAMPLES:
            try:
                expected = _as_annotated(hints[name], raw)
            except ValueError as refused:
                with pytest.raises(ValueError, match=re.escape(str(refused))):
                    typed(raw) if typed else raw
                continue
            got = typed(raw) if typed else raw
            assert (got, type(got)) == (expected, type(expected)), (name, raw)
    assert _fields(contract) is _fields(contract)
