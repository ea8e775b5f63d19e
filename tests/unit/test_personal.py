"""The pure parts of personal data (decision 019): ID number and mobile checks, sealing and opening, the wire form."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from dudao import rules
from dudao.errors import InvalidInput
from dudao.events import to_jsonable
from dudao.personal import ERASED, Sealed, _close, _open, withheld

KEY_ID = "0b5a4c1e-2f1d-4c55-9a7e-5d1f0c3b8a11"


def sealed(key: bytes, value: str, key_id: str = KEY_ID) -> Sealed:
    return Sealed(sealed=_close(key, key_id, value), person="inspector:x", key=key_id, holder="500120")


def test_the_id_number_of_the_standard_passes_and_each_kind_of_mistake_is_named():
    assert rules.resident_id("11010519491231002x") == "11010519491231002X"  # the example in GB 11643-1999
    for wrong, rule in (
        ("110105194912310021", "id_number_checksum"),
        ("110105194902300028", "id_number_birth_date"),
        ("11010519491231002", "id_number_format"),
        ("1101051949123100ZX", "id_number_format"),
    ):
        with pytest.raises(InvalidInput) as refused:
            rules.resident_id(wrong)
        assert (refused.value.field, refused.value.rule) == ("id_number", rule)


def test_a_mobile_number_is_eleven_digits_from_13():
    assert rules.mobile("+86 139-1234-5678") == "13912345678"
    for wrong in ("12912345678", "1391234567", "023-41401111", "1391234567a"):
        with pytest.raises(InvalidInput) as refused:
            rules.mobile(wrong)
        assert refused.value.rule == "mobile_format"


def test_sealing_is_deterministic_per_key_and_opens_only_with_it():
    key, other = AESSIV.generate_key(512), AESSIV.generate_key(512)
    first, again = sealed(key, "13912345678"), sealed(key, "13912345678")
    assert first == again and "13912345678" not in first.sealed  # the same value seals the same way: no spurious change
    assert sealed(other, "13912345678") != first
    assert _open(key, first) == "13912345678"
    assert _open(other, first) == ERASED and _open(None, first) == ERASED
    moved = Sealed(first.sealed, first.person, "another-key-id", first.holder)  # the key id is bound in
    assert _open(key, moved) == ERASED


def test_a_sealed_value_goes_on_the_wire_as_its_parts_and_comes_back():
    value = sealed(AESSIV.generate_key(512), "重庆市璧山区")
    wire = to_jsonable({"details": {"home_address": value}})
    assert wire["details"]["home_address"] == value.as_dict()
    assert Sealed.of(wire["details"]["home_address"]) == value
    assert Sealed.of("023-41401111") is None and Sealed.of({"sealed": "x"}) is None
    assert withheld("530113") == "[由 530113 保管]"
