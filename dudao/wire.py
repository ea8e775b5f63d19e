"""An event's state as the streams carry it: read from the event store straight into plain JSON types, for the relay
(`dudao.relay`) to publish."""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, Transcoder, Transcoding, UUIDAsHex
from eventsourcing.utils import resolve_topic

from dudao.events import to_jsonable
from dudao.personal import SealedAsDict
from dudao.store import DateAsISO


def event_state(app: Application[UUID], notification) -> tuple[dict[str, Any], dict[str, str]]:
    """An event's JSON-ready state (without envelope) and its envelope: what `to_jsonable` makes of the domain event
    the mapper would build.

    The relay takes this for every event it publishes, so the stored JSON is decoded straight into plain JSON types,
    each transcoded value (a UUID, a date, a sealed value) made plain as it is decoded: no domain event is built and
    the state is not walked again. An event stored in an older version of its class (to be upcast), or stored
    enciphered or compressed, or that this way cannot read, goes the mapper's way (which reads it, or refuses it with
    its own error)."""
    mapper = app.mapper
    state: dict[str, Any] | None = None
    if mapper.cipher is None and mapper.compressor is None:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            state = _plain_decoder(mapper.transcoder).decode(notification.state.decode())
        if state is not None and state.pop("class_version", 1) == getattr(
            resolve_topic(notification.topic), "class_version", 1
        ):
            envelope = state.pop("envelope", {})
            return state, envelope
    domain_event = mapper.to_domain_event(notification)
    state = dict(vars(domain_event))
    envelope = state.pop("envelope", {})
    state.pop("originator_id", None)
    state.pop("originator_version", None)
    return to_jsonable(state), envelope


_NOT_FINITE = re.compile(rb"NaN|Infinity")  # how json writes a number that is not finite (and reads it back)


def finite_state(app: Application[UUID], notification) -> bool:
    """Whether the event's stored state surely holds no number that is NaN or infinite (`events.dumps_plain`'s
    `finite`): stored as JSON, neither enciphered nor compressed, and without the words json writes for one. Text
    that holds them (a school named "NaN") only makes it unsure."""
    mapper = app.mapper
    return mapper.cipher is None and mapper.compressor is None and _NOT_FINITE.search(notification.state) is None


@functools.lru_cache(maxsize=8)
def _plain_decoder(transcoder: Transcoder) -> json.JSONDecoder:
    """Decodes what `transcoder` encoded, each transcoded value (`{"_type_": ..., "_data_": ...}`) as `to_jsonable`
    makes it of what the transcoder would decode: by a shortcut for the transcodings whose plain form is known, by
    decoding and making it plain for any other."""
    shortcuts = {name: plain for name, (kind, plain) in _PLAIN.items() if type(transcoder.names.get(name)) is kind}  # type: ignore[attr-defined]
    names = transcoder.names  # type: ignore[attr-defined]

    def plain(d: dict[str, Any]) -> Any:
        if len(d) == 2 and "_type_" in d and "_data_" in d:
            kind, data = d["_type_"], d["_data_"]
            shortcut = shortcuts.get(kind)
            return shortcut(data) if shortcut is not None else to_jsonable(names[kind].decode(data))
        return d

    return json.JSONDecoder(object_hook=plain)


def _as_stored(data: Any) -> Any:
    return data


# Transcodings whose stored form is already what `to_jsonable` makes of the value they decode: ISO dates and times
# (written by `isoformat`, read back by `fromisoformat`), decimals as `str` writes them, sealed values as their dict;
# and a UUID's 32 hex digits, which `str` would give in groups.
_PLAIN: dict[str, tuple[type[Transcoding], Callable[[Any], Any]]] = {
    "datetime_iso": (DatetimeAsISO, _as_stored),
    "date_iso": (DateAsISO, _as_stored),
    "decimal_str": (DecimalAsStr, _as_stored),
    "sealed": (SealedAsDict, _as_stored),
    "uuid_hex": (
        UUIDAsHex,
        lambda h: f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" if len(h) == 32 else str(UUID(h)),
    ),
}
