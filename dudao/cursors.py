"""Opaque page cursors: a position in a read model, given out and taken back; garbage is a 422 naming the field."""

from __future__ import annotations

import base64
import binascii
import json

from dudao.errors import InvalidInput


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": position}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, field_name: str = "cursor") -> int:
    """An opaque cursor back to the position it stands for; garbage is a 422 naming the field."""
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = data["p"]
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise ValueError(position)
        return position
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "cursor is not one this service gave out; start again without it", field=field_name, rule="cursor_format"
        ) from None


def page_cursor(rows: list[dict], limit: int) -> str | None:
    return encode_cursor(rows[-1]["position"]) if len(rows) == limit else None
