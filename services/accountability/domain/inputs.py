"""What a rectification case takes in from outside: findings from the report, evidence files, dates."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from dudao.errors import InvalidInput
from dudao.rules import text

SHA256 = re.compile(r"[0-9a-fA-F]{64}")
MEDIA_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+", re.ASCII)


def finding_item(raw: Any, i: int) -> dict[str, Any]:
    field = f"findings.{i}"
    if not isinstance(raw, dict):
        raise InvalidInput(f"{field} must be an object", field=field, rule="object")
    return {
        "item_id": text(raw.get("finding_id"), f"{field}.finding_id"),
        "area": text(raw.get("area"), f"{field}.area"),
        "severity": text(raw.get("severity"), f"{field}.severity"),
        "description": text(raw.get("description"), f"{field}.description"),
        "rule_broken": text(raw.get("rule_broken", ""), f"{field}.rule_broken", required=False),
    }


def evidence_file(file: Any, i: int) -> dict[str, Any]:
    field = f"evidence.{i}"
    if not isinstance(file, dict):
        raise InvalidInput(f"{field} must be an object", field=field, rule="object")
    sha256, size, media_type = file.get("sha256"), file.get("size"), file.get("media_type")
    if not (isinstance(sha256, str) and SHA256.fullmatch(sha256)):
        raise InvalidInput("sha256 must be 64 hex digits", field=f"{field}.sha256", rule="sha256_format")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInput("size must be a whole number of bytes", field=f"{field}.size", rule="size_range")
    if not (isinstance(media_type, str) and MEDIA_TYPE.fullmatch(media_type)):
        raise InvalidInput(
            "media_type must look like application/pdf", field=f"{field}.media_type", rule="media_type_format"
        )
    return {
        "name": text(file.get("name"), f"{field}.name"),
        "sha256": sha256.lower(),
        "size": size,
        "media_type": media_type,
    }


def not_before(day: date, earliest: date, field: str) -> date:
    if not isinstance(day, date):
        raise InvalidInput(f"{field} must be a date", field=field, rule="date")
    if day < earliest:
        raise InvalidInput(f"{field} {day} is before {earliest}", field=field, rule="deadline_in_past")
    return day
